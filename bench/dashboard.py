"""Benchmark: the dashboard month page and the XLSX (and PDF) export for 1,000 units over a large data set.

Makes its own PostgreSQL database (dropped at the end), migrates it, and generates with `INSERT ... SELECT
generate_series` one province root with 999 communes directly below it (the post-2025 two-level layout, the widest
child table a root can have), one counter per commune, and N ratings (default 1.5 million) spread evenly over the
12 months before --month, with levels ~55/33/7/5 % (4/3/2/1), 1 % misuse and 1-2 reasons on unhappy ratings.
Requests go through the real app in-process (TestClient: routing, session, SQL, templates), logged in as an admin.

    .venv/bin/python -m bench.dashboard [--ratings 1500000] [--month 2026-10] [--runs 5]
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres (default: that, or TEST_DATABASE_URL)

With `--database hl_bench_indices` it measures instead the 10-million-rating data set that
`python -m bench.indices --keep` leaves behind (root VN, 34 provinces, ~965 communes, 24 months): migrated to the
head revision, given comments on a tenth of the unhappy ratings when it has none, and kept afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from bench._util import timed
from server.config import Settings, normalise_database_url
from server.db import make_engine, session_scope
from tests.databases import alembic_config

UNITS = 1000


def admin_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    return normalise_database_url(url or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def generate(url: str, ratings: int, last_month: date) -> None:
    """Units, counters and ratings, generated inside PostgreSQL."""
    start = date(last_month.year - (1 if last_month.month < 12 else 0), last_month.month % 12 + 1, 1)
    days = (date(last_month.year + last_month.month // 12, last_month.month % 12 + 1, 1) - start).days
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO unit (id, code, name, parent_id, level, active, path) "
                             "VALUES (1, 'P', 'Tỉnh benchmark', NULL, 'tỉnh', true, '/1/')"))  # fmt: skip
        conn.execute(
            sa.text(
                "INSERT INTO unit (id, code, name, parent_id, level, active, path) "
                "SELECT g, 'C' || lpad(g::text, 4, '0'), 'Bộ phận Một cửa xã số ' || g, 1, 'xã', true, "
                "'/1/' || g || '/' "
                "FROM generate_series(2, :n) g"
            ),
            {"n": UNITS},
        )
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('unit', 'id'), :n)"), {"n": UNITS})
        conn.execute(
            sa.text(
                "INSERT INTO counter (id, code, unit_id, name, active) "
                "SELECT g, 'Q' || lpad(g::text, 4, '0'), g, 'Quầy 1', true FROM generate_series(1, :n) g"
            ),
            {"n": UNITS},
        )
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('counter', 'id'), :n)"), {"n": UNITS})
        field_ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM field ORDER BY sort_order, id"))]
        conn.execute(
            sa.text(
                """
                INSERT INTO rating (id, level, satisfied, field_id, unit_id, counter_id, officer_id, visit_id, channel,
                                    comment, contact, contact_consent, rated_at, client_rated_at, local_date,
                                    received_at, device_id, misuse, misuse_reason)
                SELECT md5('r' || g)::uuid, lvl, lvl >= 3, (:fields)[1 + (hf % cardinality(:fields))],
                       2 + (hu % (:units - 1)), 2 + (hu % (:units - 1)), NULL, NULL,
                       CASE WHEN hu % 5 = 0 THEN 'phone' ELSE 'kiosk' END,
                       CASE WHEN lvl <= 2 AND hf % 10 = 0 THEN 'Chờ lâu, hướng dẫn chưa rõ (bình luận ' || g || ')' END,
                       NULL, false, ts, ts, d, ts, NULL, g % 100 = 0, CASE WHEN g % 100 = 0 THEN 'bench' END
                FROM (
                    SELECT g, hu, hf,
                           CASE WHEN hl < 55 THEN 4 WHEN hl < 88 THEN 3 WHEN hl < 95 THEN 2 ELSE 1 END AS lvl,
                           (:start)::date + (g % :days) AS d,
                           ((:start)::date + (g % :days) + time '09:00') AT TIME ZONE 'Asia/Ho_Chi_Minh' AS ts
                    FROM (
                        SELECT g, abs(hashint4(g)) AS hu, abs(hashint4(g + 7919)) AS hf,
                               abs(hashint4(g * 31)) % 100 AS hl
                        FROM generate_series(1, :n) g
                    ) h
                ) r
                """
            ),
            {"fields": field_ids, "units": UNITS, "start": start, "days": days, "n": ratings},
        )
        conn.execute(
            sa.text(
                "INSERT INTO rating_reason (rating_id, reason_id) "
                "SELECT id, 1 + abs(hashtext(id::text)) % 8 FROM rating WHERE level <= 2 "
                "UNION SELECT id, 1 + abs(hashtext(id::text || 'b')) % 8 FROM rating WHERE level = 1"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def describe(label: str, times: list[float]) -> str:
    return f"| {label} | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} | {len(times)} |"


def prepare_existing(url: str) -> None:
    """Bring a kept bench.indices database to the head revision and give it comments (it is generated without)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT count(*) FROM rating WHERE comment IS NOT NULL")).scalar_one() == 0:
            conn.execute(
                sa.text(
                    "UPDATE rating SET comment = 'Chờ lâu, hướng dẫn chưa rõ (bình luận ' || left(id::text, 8) || ')' "
                    "WHERE level <= 2 AND abs(hashtext(id::text)) % 10 = 0"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE rating"))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ratings", type=int, default=1_500_000)
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--database", help="measure this existing database (e.g. hl_bench_indices) instead")
    args = parser.parse_args(argv)
    if not re.match(r"^\d{4}-\d{2}$", args.month):
        parser.error("--month must look like 2026-10")
    last_month = date(int(args.month[:4]), int(args.month[5:]), 1)

    base = admin_url()
    name = args.database or f"hl_bench_dash_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    if args.database:
        with admin.connect() as conn:
            if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                parser.error(f"database {name!r} does not exist (run `python -m bench.indices --keep` first)")
    else:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        from alembic import command

        t0 = time.perf_counter()
        if args.database:
            prepare_existing(url)
        else:
            command.upgrade(alembic_config(url), "head")
            generate(url, args.ratings, last_month)
        gen_s = time.perf_counter() - t0
        engine = make_engine(url)
        with engine.connect() as conn:
            n_ratings = conn.execute(sa.text("SELECT count(*) FROM rating")).scalar_one()
            n_units = conn.execute(sa.text("SELECT count(*) FROM unit")).scalar_one()
            n_month = conn.execute(
                sa.text("SELECT count(*) FROM rating WHERE local_date >= :s AND local_date < :e"),
                {"s": last_month, "e": date(last_month.year + last_month.month // 12, last_month.month % 12 + 1, 1)},
            ).scalar_one()
            size = conn.execute(sa.text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
            root, middle, leaf = conn.execute(
                sa.text(
                    "SELECT (SELECT code FROM unit WHERE parent_id IS NULL ORDER BY id LIMIT 1), "
                    "(SELECT p.code FROM unit p WHERE p.parent_id IS NOT NULL AND EXISTS "
                    " (SELECT 1 FROM unit c WHERE c.parent_id = p.id) ORDER BY p.id LIMIT 1), "
                    "(SELECT code FROM unit u WHERE NOT EXISTS (SELECT 1 FROM unit c WHERE c.parent_id = u.id) "
                    " ORDER BY id OFFSET 500 LIMIT 1)"
                )
            ).one()
            n_children = conn.execute(
                sa.text("SELECT count(*) FROM unit c JOIN unit r ON r.id = c.parent_id WHERE r.code = :r"), {"r": root}
            ).scalar_one()
        from server.auth.service import create_user

        with session_scope(engine) as session:
            session.execute(
                sa.text("DELETE FROM login_session WHERE user_id IN (SELECT id FROM app_user WHERE username = 'bench')")
            )
            session.execute(sa.text("DELETE FROM app_user WHERE username = 'bench'"))
            create_user(session=session, username="bench", password="bench-password-1", role="admin", unit=None)
        engine.dispose()

        from server.app import create_app
        from tests.logins import post_login

        # No figures cache: every request computes its reports afresh (the worst case, what a first visit costs).
        settings = Settings(database_url=url, environment="test", secret_key="x" * 40, dashboard_cache_seconds=0)
        load_before = f"{os.getloadavg()[0]:.1f}"
        with TestClient(create_app(settings)) as client:
            assert post_login(client, "bench", "bench-password-1").status_code == 303
            html = {"accept": "text/html"}

            def get(path: str) -> Callable[[], object]:
                def call() -> object:
                    response = client.get(path, headers=html)
                    assert response.status_code == 200, response.text[:500]
                    return response

                return call

            m, y = args.month, args.month[:4]
            results = [
                describe(f"dashboard month page, root ({n_units:,} units, {n_children} children ranked)",
                         timed(get(f"/dashboard?unit={root}&period={m}"), args.runs)),
            ]  # fmt: skip
            if middle:
                results.append(describe("dashboard month page, a province",
                                        timed(get(f"/dashboard?unit={middle}&period={m}"), args.runs)))  # fmt: skip
            results += [
                describe("dashboard month page, one commune",
                         timed(get(f"/dashboard?unit={leaf}&period={m}"), args.runs)),
                describe("dashboard year page, root", timed(get(f"/dashboard?unit={root}&period={y}"), 3)),
                describe("field page, root", timed(get(f"/dashboard/fields/land?unit={root}&period={m}"), 3)),
                describe("XLSX export, month, root", timed(get(f"/exports/monthly.xlsx?month={m}&unit={root}"), 3)),
                describe("CSV export, month, root", timed(get(f"/exports/monthly.csv?month={m}&unit={root}"), 3)),
                describe("PDF export, month, root", timed(get(f"/exports/monthly.pdf?month={m}&unit={root}"), 1)),
            ]  # fmt: skip
        print(f"machine: {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
              f"load average before/after the requests: {load_before} / {os.getloadavg()[0]:.1f} "
              "(the machine and its PostgreSQL are shared with other jobs)")  # fmt: skip
        what = "prepared" if args.database else "generated"
        print(f"data: {n_units:,} units, {n_ratings:,} ratings ({n_month:,} in {args.month}), "
              f"database {name} {size}; {what} in {gen_s:.0f} s")  # fmt: skip
        print("| request | median ms | min ms | max ms | runs |")
        print("|---|---|---|---|---|")
        for line in results:
            print(line)
    finally:
        if not args.keep and not args.database:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

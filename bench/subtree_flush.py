"""The subtree flush's lock order under concurrent rating transactions (migration 0019, issue 20).

    .venv/bin/python -m bench.subtree_flush [--seconds 20] [--threads 8] [--rounds 2] [--shared-postgres]

Every transaction storing ratings adds its deltas to the subtree month rollups of every ancestor of their unit when
it commits (`hl_subtree_flush`), so all of them update the root's row and hold its lock until their commit is
written. Migration 0018's flush took the root's row first, 0019's takes it last. This measures both on the same
PostgreSQL instance (by default a private one with production settings, `bench/pg_instance.py`): two databases, one
migrated to 0018 and one to head, with the soak's units (root, 34 provinces, communes). In each, `--threads`
connections commit transactions of 5 kiosk ratings (one with a reason), each connection in communes of its own (so
only the province and root rows are shared, as between the soak's kiosks), as fast as they can for `--seconds`;
the databases take turns `--rounds` times. Reported: transactions per second and the commit's p50 / p99 (the
flush runs in the commit, waiting for the rows it needs). The counts are checked against the ratings stored at the end.

No server and no HTTP: only the database's side of a kiosk batch, so what differs is the flush alone.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime

import psycopg
import sqlalchemy as sa

from bench._util import percentile
from bench.indices import PROVINCES, UNITS, load_units
from bench.suite import add_shared_postgres_option, bench_database, load_average, postgres_admin_url, progress

BATCH = 5
_INSERT = """
WITH inserted AS (
    INSERT INTO rating (id, level, satisfied, field_id, unit_id, counter_id, channel, misuse, contact_consent,
                        rated_at, client_rated_at, received_at, local_date)
    SELECT gen_random_uuid(), 1 + g %% 4, g %% 4 >= 2, %(field)s, %(unit)s, %(counter)s, 'kiosk', false, false,
           %(at)s, %(at)s, %(at)s, CAST(%(at)s AS date)
    FROM generate_series(1, %(n)s) AS g
    RETURNING id, level
)
INSERT INTO rating_reason (rating_id, reason_id) SELECT id, %(reason)s FROM inserted WHERE level = 1
"""


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _prepare(url: str) -> tuple[int, int]:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            load_units(conn)
            field = conn.execute(sa.text("SELECT id FROM field WHERE code = 'land'")).scalar_one()
            reason = conn.execute(sa.text("SELECT id FROM reason WHERE code = 'late'")).scalar_one()
    finally:
        engine.dispose()
    return field, reason


def _round(url: str, seconds: float, threads: int, field: int, reason: int) -> dict[str, float]:
    communes = list(range(2 + PROVINCES, UNITS + 1))
    stop = time.perf_counter() + seconds
    commits: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []

    def run(k: int) -> None:
        mine = communes[k::threads]
        with psycopg.connect(_dsn(url)) as conn:
            n = 0
            while time.perf_counter() < stop:
                unit = mine[n % len(mine)]
                n += 1
                at = datetime.now(UTC)
                try:
                    conn.execute(
                        _INSERT,
                        {"field": field, "unit": unit, "counter": (unit - 1) * 3 + 1, "at": at, "n": BATCH,
                         "reason": reason},
                    )  # fmt: skip
                    t0 = time.perf_counter()
                    conn.commit()
                    commits[k].append((time.perf_counter() - t0) * 1000)
                except psycopg.Error as exc:
                    conn.rollback()
                    errors.append(repr(exc)[:200])

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    done = [ms for per in commits for ms in per]
    if errors:
        progress(f"{len(errors)} errors, e.g. {errors[0]}")
    return {
        "tps": len(done) / wall,
        "commit_p50": percentile(done, 50),
        "commit_p99": percentile(done, 99),
        "errors": len(errors),
    }


def _check(url: str) -> None:
    """The root's subtree counts equal the ratings stored (the flush is exact whatever its order)."""
    with psycopg.connect(_dsn(url)) as conn:
        stored = conn.execute("SELECT count(*) FROM rating").fetchone()
        counted = conn.execute("SELECT sum(valid) FROM rating_subtree_month_rollup WHERE unit_id = 1").fetchone()
        reasons = conn.execute("SELECT count(*) FROM rating_reason").fetchone()
        counted_reasons = conn.execute(
            "SELECT sum(n) FROM rating_reason_subtree_month_rollup WHERE unit_id = 1"
        ).fetchone()
    assert stored and counted and reasons and counted_reasons
    if (stored[0], reasons[0]) != (counted[0], counted_reasons[0]):
        raise SystemExit(f"counts differ: {stored[0]} ratings, root counts {counted[0]}; reasons {reasons[0]} / "
                         f"{counted_reasons[0]}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.subtree_flush", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    add_shared_postgres_option(parser)
    args = parser.parse_args(argv)
    from alembic import command

    from tests.databases import alembic_config

    print(f"load before: {load_average()}; {args.threads} connections, {args.seconds:g} s per round")
    with (
        postgres_admin_url(args.shared_postgres) as admin,
        bench_database(admin, "hl_bench_flush_a") as old,
        bench_database(admin, "hl_bench_flush_b") as new,
    ):
        command.downgrade(alembic_config(old), "0018")
        setup = {name: _prepare(url) for name, url in (("0018", old), ("0019", new))}
        print("| round | flush | transactions/s | commit p50 ms | commit p99 ms | load |")
        print("|---|---|---|---|---|---|")
        for r in range(1, args.rounds + 1):
            for name, url in (("0018", old), ("0019", new)):
                got = _round(url, args.seconds, args.threads, *setup[name])
                print(
                    f"| {r} | {name} | {got['tps']:.0f} | {got['commit_p50']:.2f} | {got['commit_p99']:.2f} "
                    f"| {load_average()} |",
                    flush=True,
                )
        for url in (old, new):
            _check(url)
    print("counts exact in both databases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

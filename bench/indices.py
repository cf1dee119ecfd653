"""Indices at national scale: 10 million ratings in PostgreSQL, rollups against raw GROUP BY, and ingest cost.

    .venv/bin/python -m bench.indices [--ratings 10000000] [--keep] [--database NAME]

Creates the database `hl_bench_indices` (`--database` or BENCH_DB_NAME: another name, so that several people
can keep their own data set on one server) on the server of BENCH_DATABASE_URL (default: TEST_DATABASE_URL, else
postgresql+psycopg://postgres@127.0.0.1:5432/postgres), migrates it, generates ~1,000 units (national root,
34 provinces, communes; 3 counters and 3 officers each), 14 fields and 24 months of ratings with `INSERT ...
SELECT generate_series` (foreign keys and triggers off during the load, secondary indexes built afterwards), builds
the rollups with one set-based statement each (the recount `hailong rollup rebuild` uses), checks them, then
measures:

1. the national month report (`compute_indices` for the root by unit, by field, and by month over the dashboard's
   trend), from the rollups and from the raw ratings;
2. batched ingest (500 ratings from one counter per transaction, with their reasons) with and without the rollup
   triggers, alternating, as one multi-row statement per batch and as one statement per row (executemany).

Drops the database at the end unless --keep; `--reuse` measures a kept one (skipping generation) and keeps it. The
ingest measurement inserts ratings with the rollup triggers off, so the report month's rollups are recounted and
fixed afterwards (and before a reused database is checked). Prints Markdown for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import re
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from server import PROJECT_ROOT
from server.config import normalise_database_url
from server.db import make_engine
from server.indices.overview import trend_period
from server.indices.periods import Period, parse_period
from server.indices.rollups import SPECS, differences, fix, recount
from server.indices.service import compute_indices
from server.models import Rating, RatingReason, Unit

DB_NAME = "hl_bench_indices"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PROVINCES = 34
UNITS = 1000
ROOT_ID = 1
PER_UNIT = 3  # counters and officers per unit
FIRST_DAY = date(2024, 11, 1)  # 24 months: 2024-11 .. 2026-10
MONTHS = 24
REPORT_MONTH = "2026-10"
# Field shares (percent), in the order of migration 0002's fields.
FIELD_SHARES = [20, 8, 3, 8, 9, 18, 14, 4, 1, 4, 4, 3, 3, 1]
SECONDARY_INDEXES = ("rating", "rating_reason")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Timing:
    """Runs of one measurement: wall milliseconds each, and mean CPU milliseconds of the client and the backend."""

    wall: list[float]
    client_cpu: float
    backend_cpu: float | None  # None when the PostgreSQL backend is not a process of this machine

    @property
    def median(self) -> float:
        return statistics.median(self.wall)


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) used so far by a process of this machine, from /proc; None if unreadable."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 1, backend_pid: int | None = None) -> Timing:
    """`repeat` runs after `warmup` unmeasured ones: wall time of each, and the mean CPU time of this process and
    of the PostgreSQL backend serving `fn` (load-independent, unlike wall time on a shared machine)."""
    for _ in range(warmup):
        fn()
    out = []
    backend0, client0 = process_cpu(backend_pid), time.process_time()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    client = (time.process_time() - client0) * 1000 / repeat
    backend1 = process_cpu(backend_pid)
    backend = (backend1 - backend0) * 1000 / repeat if backend0 is not None and backend1 is not None else None
    return Timing(out, client, backend)


def summary(t: Timing) -> str:
    ordered = sorted(t.wall)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    cpu = f"CPU: client {t.client_cpu:.1f} ms" + (
        f", PostgreSQL backend {t.backend_cpu:.1f} ms" if t.backend_cpu is not None else ""
    )
    return f"median {t.median:.1f} ms, min {ordered[0]:.1f}, p90 {p90:.1f} (n={len(t.wall)}; {cpu})"


# --- set-up -----------------------------------------------------------------------------------------------------


def create_database(admin_url: str, name: str = DB_NAME) -> str:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "head")
    return url


def drop_database(admin_url: str, name: str = DB_NAME) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def load_units(conn: sa.Connection) -> None:
    """Root (id 1), 34 provinces, communes: ids 1..UNITS; counters and officers (u-1)*3+1 .. (u-1)*3+3."""
    units: list[dict[str, Any]] = [
        dict(id=1, code="VN", name="Toàn quốc", parent_id=None, level="quốc gia", active=True, path="/1/")
    ]
    for i in range(2, UNITS + 1):
        if i <= 1 + PROVINCES:
            units.append(dict(id=i, code=f"P{i:02d}", name=f"Tỉnh {i}", parent_id=1, level="tỉnh", path=f"/1/{i}/"))
        else:
            p = 2 + (i % PROVINCES)
            units.append(dict(id=i, code=f"X{i:04d}", name=f"Xã {i}", parent_id=p, level="xã", path=f"/1/{p}/{i}/"))
    for u in units:
        u["active"] = True
    conn.execute(
        sa.text(
            "INSERT INTO unit (id, code, name, parent_id, level, active, path) "
            "VALUES (:id, :code, :name, :parent_id, :level, :active, :path)"
        ),
        units,
    )
    people = [
        dict(id=(u["id"] - 1) * PER_UNIT + k, unit_id=u["id"], code=f"{u['code']}-{k}", name=f"{u['code']} {k}")
        for u in units
        for k in range(1, PER_UNIT + 1)
    ]
    conn.execute(
        sa.text("INSERT INTO counter (id, code, unit_id, name, active) VALUES (:id, :code, :unit_id, :name, true)"),
        people,
    )
    conn.execute(
        sa.text("INSERT INTO officer (id, code, unit_id, name, active) VALUES (:id, :code, :unit_id, :name, true)"),
        people,
    )
    for table in ("unit", "counter", "officer"):
        conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def generate_ratings(engine: sa.Engine, total: int, chunk: int = 1_000_000) -> None:
    """`total` ratings in time order over 24 months, then their reasons, with FKs and triggers off."""
    with engine.connect() as conn:
        field_ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM field ORDER BY sort_order"))]
        reason_ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM reason ORDER BY sort_order"))]
    weighted = [fid for fid, share in zip(field_ids, FIELD_SHARES, strict=True) for _ in range(share)]
    fields_sql = "ARRAY[" + ",".join(map(str, weighted)) + "]"
    reasons_sql = "ARRAY[" + ",".join(map(str, reason_ids)) + "]"
    t0 = datetime.combine(FIRST_DAY, datetime.min.time(), HCM)
    span = (datetime.combine(date(2026, 11, 1), datetime.min.time(), HCM) - t0).total_seconds()
    step = span / total
    rating_sql = f"""
    INSERT INTO rating (id, level, satisfied, field_id, unit_id, counter_id, officer_id, channel, contact_consent,
                        rated_at, client_rated_at, local_date, received_at, misuse, misuse_reason)
    SELECT s.id, s.level, s.level >= 3, s.field_id, s.unit_id, s.counter_id, s.officer_id, s.channel, false,
           s.rated_at, s.rated_at, CAST(s.rated_at AT TIME ZONE 'Asia/Ho_Chi_Minh' AS date), s.rated_at,
           s.misuse, CASE WHEN s.misuse THEN 'bench' END
    FROM (
      SELECT CAST('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0') AS uuid) AS id,
             u AS unit_id,
             (u - 1) * {PER_UNIT} + 1 + CAST(floor(random() * {PER_UNIT}) AS int) AS counter_id,
             CASE WHEN random() < 0.9 THEN (u - 1) * {PER_UNIT} + 1 + CAST(floor(random() * {PER_UNIT}) AS int) END
               AS officer_id,
             ({fields_sql})[1 + CAST(floor(random() * {len(weighted)}) AS int)] AS field_id,
             CASE WHEN q < 0.50 THEN 4 WHEN q < 0.89 THEN 3 WHEN q < 0.96 THEN 2 ELSE 1 END AS level,
             CASE WHEN random() < 0.2 THEN 'phone' ELSE 'kiosk' END AS channel,
             random() < 0.01 AS misuse,
             TIMESTAMPTZ '{t0.isoformat()}' + (g - 1 + random()) * {step} * INTERVAL '1 second' AS rated_at
      FROM (SELECT g, u, r * (0.92 + (u % 9) * 0.012) AS q
            FROM (SELECT g, 1 + CAST(floor(random() * {UNITS}) AS int) AS u, random() AS r
                  FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g OFFSET 0) AS a
            OFFSET 0) AS b
      OFFSET 0
    ) AS s
    """
    reason_sql = f"""
    INSERT INTO rating_reason (rating_id, reason_id)
    SELECT s.id, v.reason_id FROM (
      SELECT id, ({reasons_sql})[1 + CAST(floor(random() * {len(reason_ids)}) AS int)] AS a,
             ({reasons_sql})[1 + CAST(floor(random() * {len(reason_ids)}) AS int)] AS b, random() AS p
      FROM rating WHERE level <= 2 AND random() < 0.85 OFFSET 0
    ) AS s CROSS JOIN LATERAL (VALUES (s.a), (CASE WHEN s.p < 0.4 AND s.b <> s.a THEN s.b END)) AS v(reason_id)
    WHERE v.reason_id IS NOT NULL ORDER BY s.id, v.reason_id
    """
    with engine.connect() as conn:
        dropped = []
        for table in SECONDARY_INDEXES:
            for name, definition in conn.execute(
                sa.text(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = :t AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
                ),
                {"t": table},
            ):
                dropped.append(definition)
                conn.execute(sa.text(f'DROP INDEX "{name}"'))
        conn.commit()
        conn.execute(sa.text("SET session_replication_role = replica"))  # no FK checks, no triggers while loading
        conn.execute(sa.text("SET synchronous_commit = off"))
        conn.execute(sa.text("SELECT setseed(0.42)"))
        conn.commit()
        for lo in range(1, total + 1, chunk):
            hi = min(total, lo + chunk - 1)
            conn.execute(sa.text(rating_sql), {"lo": lo, "hi": hi})
            conn.commit()
            log(f"  ratings {hi:,}/{total:,}")
        conn.execute(sa.text(reason_sql))
        conn.commit()
        log("  reasons done; building secondary indexes")
        conn.execute(sa.text("SET maintenance_work_mem = '512MB'"))
        for definition in dropped:
            conn.execute(sa.text(definition))
            conn.commit()
        conn.execute(sa.text("SET session_replication_role = DEFAULT"))
        conn.commit()


def build_rollups(engine: sa.Engine) -> None:
    """One INSERT ... SELECT ... GROUP BY per rollup table: the recount `rollup rebuild` compares with."""
    with engine.connect() as conn:
        conn.execute(sa.text("SET work_mem = '256MB'"))
        conn.execute(sa.text("SET synchronous_commit = off"))
        # The foreign keys' checks (migration 0009: one per key column of every rollup row, ~40 million for the day
        # rollup) would take longer than the counting; the rows come from the ratings just generated for the units,
        # counters and fields loaded above, whose ids exist.
        conn.execute(sa.text("SET session_replication_role = replica"))
        for spec in SPECS:
            t = time.perf_counter()
            conn.execute(sa.delete(spec.table))
            counted = recount(spec, "postgresql")
            if spec.monthly:  # in key order: a month's rows lie together, as when triggers add them month by month
                counted = counted.order_by(*[sa.column(k) for k in spec.keys])
            conn.execute(sa.insert(spec.table).from_select([*spec.keys, *spec.values], counted))
            conn.commit()
            log(f"  {spec.name}: {time.perf_counter() - t:.0f} s")
        conn.execute(sa.text("RESET ALL"))  # the pooled connection goes on to the measurements: as configured
        conn.commit()


def check_rollups(engine: sa.Engine) -> dict[str, int]:
    """Totals of each rollup against the raw tables, and a key-by-key recount of the report month."""
    with engine.connect() as conn:
        ratings = conn.execute(sa.text("SELECT count(*) FROM rating")).scalar_one()
        reasons = conn.execute(
            sa.text("SELECT count(*) FROM rating_reason x JOIN rating r ON r.id = x.rating_id WHERE NOT r.misuse")
        ).scalar_one()
        # A subtree rollup counts every rating once per unit on its path: its root's rows hold each rating once.
        sums = {
            spec.name: conn.execute(
                sa.select(sa.func.sum(sum(spec.table.c[v] for v in spec.presence))).where(
                    spec.table.c.unit_id == ROOT_ID if spec.subtree else sa.true()
                )
            ).scalar_one()
            for spec in SPECS
        }
        rows = {
            spec.name: conn.execute(sa.select(sa.func.count()).select_from(spec.table)).scalar_one() for spec in SPECS
        }
    for spec in SPECS:
        expected = reasons if spec.reasons else ratings
        assert sums[spec.name] == expected, f"{spec.name}: {sums[spec.name]} counted, {expected} expected"
    period = parse_period(REPORT_MONTH)
    with Session(engine) as session:
        for spec in SPECS:
            diffs = differences(session=session, spec=spec, start=period.start, end=period.end)
            assert not diffs, f"{spec.name}: {len(diffs)} keys differ in {REPORT_MONTH}"
    return {"ratings": ratings, "reasons": reasons, **{f"rows {k}": v for k, v in rows.items()}}


def repair_rollups(engine: sa.Engine) -> int:
    """Recount the report month's rollups and fix the keys that differ; the number of keys fixed.

    The ingest measurement inserts ratings into that month with the rollup triggers off (or only the leaf ones on),
    so the rollups of a database it ran on no longer match the ratings until this repair (`hailong rollup rebuild`
    for one month)."""
    period = parse_period(REPORT_MONTH)
    fixed = 0
    with Session(engine) as session:
        for spec in SPECS:
            diffs = differences(session=session, spec=spec, start=period.start, end=period.end)
            fix(session=session, spec=spec, diffs=diffs)
            fixed += len(diffs)
        session.commit()
    return fixed


def analyze(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


# --- measurements -----------------------------------------------------------------------------------------------


def report_run(session: Session, root: Unit, period: Period, by: str, source: str) -> Callable[[], Any]:
    """One run of the report the dashboard reads (`compute_indices`, minimum sample 30, Ho Chi Minh time) of `root`
    for `period` grouped by `by`, from `source` ("rollup" or "raw"); it ends its read transaction, so that every run
    starts afresh."""

    def run() -> Any:
        result = compute_indices(
            session=session,
            unit=root,
            period=period,
            by=by,
            min_sample=30,
            tz=HCM,
            source=source,  # type: ignore[arg-type]
        )
        session.rollback()
        return result

    return run


def measure_reports(engine: sa.Engine) -> dict[str, Any]:
    period = parse_period(REPORT_MONTH)
    trend = trend_period(period)  # the dashboard's 12-month trend
    out: dict[str, Any] = {"trend": trend.code}
    # One connection for the whole measurement, so that its backend's CPU time is the queries' cost.
    with engine.connect() as conn, Session(bind=conn) as session:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        conn.rollback()
        root = session.execute(sa.select(Unit).where(col(Unit.code) == "VN")).scalar_one()

        for name, by, span in (("unit", "unit", period), ("field", "field", period), ("trend", "month", trend)):
            rollup, raw = (report_run(session, root, span, by, source) for source in ("rollup", "raw"))
            assert rollup() == raw(), f"by={by}: rollup and raw reports differ"
            out[f"{name} rollup"] = timed(rollup, repeat=20, warmup=2, backend_pid=pid)
            out[f"{name} raw"] = timed(raw, repeat=3, warmup=1, backend_pid=pid)
    return out


def make_batch(
    rng: random.Random, field_ids: list[int], reason_ids: list[int], size: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A kiosk's batch: one counter, the last few days of October 2026, its reasons."""
    unit_id = rng.randint(1, UNITS)
    counter_id = (unit_id - 1) * PER_UNIT + rng.randint(1, PER_UNIT)
    officers = [(unit_id - 1) * PER_UNIT + k for k in range(1, PER_UNIT + 1)]
    end = datetime(2026, 10, 31, 17, tzinfo=HCM)
    ratings, reasons = [], []
    weighted = [fid for fid, share in zip(field_ids, FIELD_SHARES, strict=True) for _ in range(share)]
    for _ in range(size):
        at = (end - timedelta(seconds=rng.randrange(4 * 24 * 3600))).astimezone(UTC)
        q = rng.random()
        level = 4 if q < 0.5 else 3 if q < 0.89 else 2 if q < 0.96 else 1
        rid = uuid.uuid4()
        ratings.append(
            dict(
                id=rid,
                level=level,
                satisfied=level >= 3,
                field_id=rng.choice(weighted),
                unit_id=unit_id,
                counter_id=counter_id,
                officer_id=rng.choice(officers),
                visit_id=None,
                channel="kiosk",
                comment=None,
                contact=None,
                contact_consent=False,
                rated_at=at,
                client_rated_at=at,
                local_date=at.astimezone(HCM).date(),
                received_at=at,
                device_id=None,
                misuse=rng.random() < 0.01,
                misuse_reason=None,
            )
        )
        if level <= 2:
            for reason_id in rng.sample(reason_ids, rng.choice((1, 1, 2))):
                reasons.append(dict(rating_id=rid, reason_id=reason_id))
    return ratings, reasons


# Columns of a kiosk rating and their PostgreSQL array types, for the one-statement insert.
UNNEST_COLUMNS = {
    "id": "uuid",
    "level": "int",
    "satisfied": "bool",
    "field_id": "int",
    "unit_id": "int",
    "counter_id": "int",
    "officer_id": "int",
    "channel": "text",
    "contact_consent": "bool",
    "rated_at": "timestamptz",
    "client_rated_at": "timestamptz",
    "local_date": "date",
    "received_at": "timestamptz",
    "misuse": "bool",
}
#: The references migration 0009 moved from `rating` to `rating_rollup` (column, table, key).
RATING_REFERENCES = (
    ("unit_id", "unit", "id"),
    ("counter_id", "counter", "id"),
    ("field_id", "field", "id"),
    ("level", "scale_level", "level"),
)
INGEST_MODES = {
    "unnest": "one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING` per batch (the leanest batched insert)",
    "returning": "SQLAlchemy executemany with `ON CONFLICT DO NOTHING RETURNING id` (sent as one multi-row INSERT)",
    "executemany": "executemany without RETURNING, e.g. ORM `add_all` (psycopg sends one INSERT per row)",
}


def measure_ingest(
    engine: sa.Engine, rounds: int, batches: int, size: int = 500, modes: tuple[str, ...] = tuple(INGEST_MODES)
) -> dict[str, Any]:
    """Ratings per second with and without the rollup triggers, alternating blocks of batches, per insert style;
    and the CPU time per rating of the inserting process and of its PostgreSQL backend (load-independent)."""
    rng = random.Random(7)
    with engine.connect() as conn:
        field_ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM field ORDER BY sort_order"))]
        reason_ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM reason ORDER BY sort_order"))]
        subtree_triggers = [
            (str(table), str(name))
            for table, name in conn.execute(
                sa.text(
                    "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE c.relname IN ('rating', 'rating_reason') AND t.tgname LIKE '%subtree%' ORDER BY 1, 2"
                )
            )
        ]

    rating_t, reason_t = Rating.__table__, RatingReason.__table__  # type: ignore[attr-defined]
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in UNNEST_COLUMNS.items())
    unnest_ratings = sa.text(
        f"INSERT INTO rating ({', '.join(UNNEST_COLUMNS)}) SELECT * FROM unnest({arrays}) ON CONFLICT (id) DO NOTHING"
    )
    unnest_reasons = sa.text(
        "INSERT INTO rating_reason (rating_id, reason_id) "
        "SELECT * FROM unnest(CAST(:rating_id AS uuid[]), CAST(:reason_id AS int[])) ON CONFLICT DO NOTHING"
    )
    returning = postgresql.insert(rating_t).on_conflict_do_nothing(index_elements=["id"]).returning(rating_t.c.id)
    reasons_returning = postgresql.insert(reason_t).on_conflict_do_nothing().returning(reason_t.c.rating_id)

    def insert_batch(conn: sa.Connection, mode: str) -> None:
        ratings, reasons = make_batch(rng, field_ids, reason_ids, size)
        with Session(bind=conn) as session:
            if mode == "unnest":
                session.execute(unnest_ratings, {c: [r[c] for r in ratings] for c in UNNEST_COLUMNS})
                if reasons:
                    session.execute(unnest_reasons, {k: [x[k] for x in reasons] for k in ("rating_id", "reason_id")})
            elif mode == "returning":
                session.execute(returning, ratings).all()
                if reasons:
                    session.execute(reasons_returning, reasons).all()
            else:
                session.execute(sa.insert(rating_t), ratings)
                if reasons:
                    session.execute(sa.insert(reason_t), reasons)
            session.commit()

    def set_triggers(state: str) -> None:
        """off: no rollup trigger; on: all of them; leaf: all but the subtree rollups' (the cost before them); bare:
        no rollup trigger and no foreign key at all (for reference: an insert no design could ship).

        Off, `rating` carries the foreign keys to unit, counter, field and scale level itself, as it did before
        migration 0009 moved them onto the rollup rows: integrity is not part of rollup maintenance, and an insert
        without rollups would check them on every rating (NOT VALID: new rows are checked, the 10 million are not).
        """
        with engine.begin() as conn:
            for table in ("rating", "rating_reason"):
                action = "DISABLE" if state in ("off", "bare") else "ENABLE"
                conn.execute(sa.text(f"ALTER TABLE {table} {action} TRIGGER USER"))
            for column, table, key in RATING_REFERENCES:
                name = f"bench_fk_rating_{column}"
                if state == "off":
                    conn.execute(
                        sa.text(
                            f"ALTER TABLE rating ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
                            f"REFERENCES {table} ({key}) NOT VALID"
                        )
                    )
                else:
                    conn.execute(sa.text(f"ALTER TABLE rating DROP CONSTRAINT IF EXISTS {name}"))
            if state == "leaf":
                for table, name in subtree_triggers:
                    conn.execute(sa.text(f'ALTER TABLE {table} DISABLE TRIGGER "{name}"'))

    # Alternating blocks (the order rotates every round), so that a change in the machine's load hits every state.
    states = ["off", "on", "leaf", "bare"] if subtree_triggers else ["off", "on", "bare"]
    out: dict[str, Any] = {}
    # One connection inserts everything: its backend's CPU time is the inserts' and the triggers' cost.
    with engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        conn.rollback()
        for mode in modes:
            n_rounds, n_batches = (rounds, batches) if mode == "unnest" else (max(2, rounds // 2), max(2, batches // 2))
            seconds = dict.fromkeys(states, 0.0)
            backend = dict.fromkeys(states, 0.0)
            client = dict.fromkeys(states, 0.0)
            count = dict.fromkeys(states, 0)
            for _ in range(2):  # warm-up batches, not counted
                insert_batch(conn, mode)
            for i in range(n_rounds):
                for state in states[i % len(states) :] + states[: i % len(states)]:
                    set_triggers(state)
                    t0, b0, c0 = time.perf_counter(), process_cpu(pid), time.process_time()
                    for _ in range(n_batches):
                        insert_batch(conn, mode)
                    seconds[state] += time.perf_counter() - t0
                    b1 = process_cpu(pid)
                    backend[state] += b1 - b0 if b0 is not None and b1 is not None else float("nan")
                    client[state] += time.process_time() - c0
                    count[state] += n_batches * size
            set_triggers("on")
            figures: dict[str, float] = {"batches": count["on"] // size}
            for state in states:
                figures[f"ratings/s {state}"] = count[state] / seconds[state]
                figures[f"backend µs {state}"] = backend[state] / count[state] * 1e6
                figures[f"client µs {state}"] = client[state] / count[state] * 1e6
            for state in states[1:]:
                figures[f"cost {state}"] = 1 - figures[f"ratings/s {state}"] / figures["ratings/s off"]
                cpu_off = figures["backend µs off"] + figures["client µs off"]
                cpu = figures[f"backend µs {state}"] + figures[f"client µs {state}"]
                figures[f"cpu cost {state}"] = 1 - cpu_off / cpu
            out[mode] = figures
    log(f"rollups repaired: {repair_rollups(engine):,} keys held ratings inserted without triggers")
    return out


# --- main -------------------------------------------------------------------------------------------------------


def database_name(text: str) -> str:
    """A plain PostgreSQL database name (it is pasted into CREATE and DROP DATABASE)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: use lower-case letters, digits and underscores")
    return text


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=20, help="alternating with/without blocks (ingest)")
    parser.add_argument("--batches", type=int, default=5, help="batches of 500 per block (ingest)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="measure (and keep) a database kept by an earlier --keep run"
    )
    parser.add_argument(
        "--database",
        type=database_name,
        default=os.environ.get("BENCH_DB_NAME") or DB_NAME,
        help=f"database to create (and drop unless --keep) or reuse; default BENCH_DB_NAME or {DB_NAME}",
    )
    args = parser.parse_args(argv)
    admin_url = normalise_database_url(
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    started = time.perf_counter()
    generation = rollup_build = 0.0
    if args.reuse:
        url = make_url(admin_url).set(database=args.database).render_as_string(hide_password=False)
    else:
        log(f"creating {args.database} and migrating")
        url = create_database(admin_url, args.database)
    engine = make_engine(url)
    try:
        if not args.reuse:
            with engine.begin() as conn:
                load_units(conn)
            t = time.perf_counter()
            log(f"generating {args.ratings:,} ratings")
            generate_ratings(engine, args.ratings)
            generation = time.perf_counter() - t
            t = time.perf_counter()
            log("building rollups (set-based)")
            build_rollups(engine)
            rollup_build = time.perf_counter() - t
        else:  # kept by a run from before its ingest measurement repaired what it inserted without triggers
            log(f"rollups repaired: {repair_rollups(engine):,} keys")
        analyze(engine)
        counts = check_rollups(engine)
        log(f"checked: {counts}")
        with engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            sizes: dict[str, str] = dict(
                conn.execute(
                    sa.text(
                        "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class WHERE relname IN "
                        "('rating', 'rating_reason', 'rating_rollup', 'rating_month_rollup', 'rating_reason_rollup', "
                        "'rating_reason_month_rollup', 'rating_subtree_month_rollup', "
                        "'rating_reason_subtree_month_rollup')"
                    )
                ).all()
            )
        log("measuring reports")
        gc.collect()
        gc.freeze()  # as the server does once started (server.app.create_app_from_env)
        load_reports = os.getloadavg()
        reports = measure_reports(engine)
        log("measuring ingest")
        ingest = measure_ingest(engine, args.rounds, args.batches)
        load = os.getloadavg()[1]
    finally:
        engine.dispose()
        if not args.keep and not args.reuse:  # a reused database is someone's kept one: never dropped
            drop_database(admin_url, args.database)
            log(f"dropped {args.database}")

    print()
    print(f"- Machine: {machine()}; PostgreSQL {version} with its default configuration (shared_buffers 128 MB)")
    print(f"- Date: {date.today().isoformat()}; command: `.venv/bin/python -m bench.indices --ratings {args.ratings}`")
    print(
        f"- Data: {counts['ratings']:,} ratings ({counts['reasons']:,} reasons of valid ratings), {UNITS} units "
        f"(root, {PROVINCES} provinces, communes), {UNITS * PER_UNIT} counters, 14 fields, {MONTHS} months; "
        f"generated in {generation:.0f} s, rollups built set-based in {rollup_build:.0f} s; whole run "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(
        "- Sizes: "
        + ", ".join(f"{k} {sizes[k]}" for k in sorted(sizes))
        + "; rollup rows: "
        + ", ".join(f"{k[5:]} {v:,}" for k, v in counts.items() if k.startswith("rows"))
    )
    print(
        f"- Load average (1/5/15 min) before the report measurements: {' / '.join(f'{x:.1f}' for x in load_reports)}; "
        f"5 min at the end of the run: {load:.1f}; other helpers' work shares the 2 cores"
    )
    for name, call in (
        ("unit", f"{REPORT_MONTH}, by=unit"),
        ("field", f"{REPORT_MONTH}, by=field"),
        ("trend", f"{reports['trend']}, by=month"),
    ):
        rb, rr = reports[f"{name} rollup"], reports[f"{name} raw"]
        print(f"- `compute_indices(root, {call})`: rollups {summary(rb)};")
        print(f"  raw {summary(rr)}; {rr.median / rb.median:.0f}×")
    for mode, f in ingest.items():
        print(
            f"- Ingest, {INGEST_MODES[mode]}, {f['batches']:.0f} batches of 500 with the rollup triggers and as many "
            "without (then `rating` carries the foreign keys the rollup rows carry since migration 0009): "
            f"{f['ratings/s off']:,.0f} ratings/s without, {f['ratings/s on']:,.0f} with: rollup maintenance costs "
            f"{f['cost on'] * 100:.1f} % of the throughput; CPU per rating without → with triggers: PostgreSQL "
            f"backend {f['backend µs off']:.0f} → {f['backend µs on']:.0f} µs, client {f['client µs off']:.0f} → "
            f"{f['client µs on']:.0f} µs: {f['cpu cost on'] * 100:.1f} % of the CPU"
        )
        print(
            f"  - for reference, without rollups and without the foreign keys (no integrity checks at all): "
            f"{f['ratings/s bare']:,.0f} ratings/s; backend {f['backend µs bare']:.0f} µs per rating"
        )
        if "cost leaf" in f:
            print(
                f"  - as many batches with the leaf rollups' triggers only (before the subtree rollups): "
                f"{f['ratings/s leaf']:,.0f} ratings/s ({f['cost leaf'] * 100:.1f} %); backend "
                f"{f['backend µs leaf']:.0f} µs per rating, {f['cpu cost leaf'] * 100:.1f} % of the CPU"
            )


if __name__ == "__main__":
    main()

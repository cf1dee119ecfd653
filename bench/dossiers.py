"""Dossiers and the QĐ 766 score at a province's scale (`make bench`, and standalone).

- A year of a province's dossiers (2 million by default, written with COPY, ~8 % overdue and ~3 % disliked) and
  its petitions, over the province's communes.
- The score of the province and of every unit below it for one month (`subtree_scores_766`) against a plain
  GROUP BY of the same month's dossiers per unit (the query the score cannot be faster than).
- `hailong dossiers import` of a 200,000-row CSV (as a separate process, like cron) against PostgreSQL COPY of the
  same rows into a table with the same columns and indexes; meanwhile a probe upserts one dossier through the API's
  service and reads a commune's score every 100 ms on its own connection, to show the import holds nothing for long
  (its worst latency next to the same probe's while the database is idle).

    .venv/bin/python -m bench.dossiers [--dossiers 2000000] [--import-rows 200000]

Standalone, it makes its own database (units as bench.indices makes them) and prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench._util import timed

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MONTH = "2026-10"
PROVINCE = "P02"
HAILONG = str(Path(sys.executable).with_name("hailong"))
COLUMNS = (
    "code, unit_id, field_id, procedure_code, received_at, due_at, completed_at, status, completed_on, overdue,"
    " rated_not_satisfied, petitioned, created_at, updated_at"
)


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _subtree(conn: Any, province: str) -> tuple[list[int], list[int]]:
    path = conn.execute("SELECT path FROM unit WHERE code = %s", (province,)).fetchone()[0]
    units = [r[0] for r in conn.execute("SELECT id FROM unit WHERE path LIKE %s ORDER BY id", (path + "%",))]
    fields = [r[0] for r in conn.execute("SELECT id FROM field ORDER BY id")]
    return units, fields


def generate_year(url: str, *, province: str = PROVINCE, dossiers: int = 2_000_000, seed: int = 7) -> dict[str, Any]:
    """A year of the province's dossiers up to the end of MONTH, and about 1 petition per 100 dossiers (COPY)."""
    import psycopg

    rng = random.Random(seed)
    last = date.fromisoformat(MONTH + "-01")
    first = date(last.year - 1, last.month + 1, 1) if last.month < 12 else date(last.year, 1, 1)
    days = (date(last.year + (last.month == 12), last.month % 12 + 1, 1) - first).days
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with psycopg.connect(_dsn(url)) as conn:
        units, fields = _subtree(conn, province)
        with conn.cursor() as cur, cur.copy(f"COPY dossier ({COLUMNS}) FROM STDIN") as copy:
            for i in range(dossiers):
                received = datetime.combine(first + timedelta(days=rng.randrange(days)), datetime.min.time(), TZ)
                received += timedelta(hours=7 + rng.random() * 10)
                due = received + timedelta(days=rng.choice((3, 7, 10, 15)))
                done = received + timedelta(days=rng.random() * 16)
                open_ = rng.random() < 0.03
                status = "processing" if open_ else ("returned" if rng.random() < 0.02 else "completed")
                copy.write_row(
                    (
                        f"{province}-{i:08d}",
                        rng.choice(units),
                        rng.choice(fields),
                        "1.004227",
                        received,
                        due,
                        None if open_ else done,
                        status,
                        None if open_ else done.astimezone(TZ).date(),
                        (not open_) and done > due,
                        rng.random() < 0.02,
                        rng.random() < 0.01,
                        now,
                        now,
                    )
                )
        petitions = dossiers // 100
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY petition (id, unit_id, category, dossier_code, received_at, due_at, answered_at, reaction,"
                " reopened, status, source, token, content, language, created_at, updated_at) FROM STDIN"
            ) as copy,
        ):
            import uuid

            for i in range(petitions):
                received = datetime.combine(first + timedelta(days=rng.randrange(days)), datetime.min.time(), TZ)
                due = received + timedelta(days=21)
                answered = received + timedelta(days=rng.random() * 25) if rng.random() < 0.9 else None
                copy.write_row(
                    (
                        uuid.UUID(int=rng.getrandbits(128)),
                        rng.choice(units),
                        rng.choice(("tthc", "staff", "other")),
                        f"{province}-{rng.randrange(dossiers):08d}" if rng.random() < 0.5 else None,
                        received,
                        due,
                        answered,
                        rng.choice((None, "satisfied", "not_satisfied")) if answered else None,
                        rng.random() < 0.05,
                        "answered" if answered else "received",
                        "import",
                        f"bench-{i}",
                        "…",
                        "vi",
                        now,
                        now,
                    )
                )
        conn.commit()
        # What autovacuum does to a table in production (this bench cluster runs without it): statistics, and the
        # visibility map that lets the score read its index alone.
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE dossier")
        conn.execute("VACUUM ANALYZE petition")
    return {"dossiers": dossiers, "petitions": petitions, "units": len(units), "generate_s": time.perf_counter() - t0}


def score_month(url: str, *, province: str = PROVINCE, runs: int = 7) -> dict[str, Any]:
    """`subtree_scores_766` of the province (it and every unit below it) for MONTH, and the plain GROUP BY."""
    from sqlmodel import Session, select

    from server.db import make_engine
    from server.indices.periods import parse_period
    from server.models import Unit
    from server.scores.service import subtree_scores_766

    engine = make_engine(url)
    period = parse_period(MONTH)
    plain = sa.text(
        "SELECT unit_id, count(*), sum(CASE WHEN overdue THEN 1 ELSE 0 END),"
        " sum(CASE WHEN rated_not_satisfied OR petitioned THEN 1 ELSE 0 END) FROM dossier"
        " WHERE completed_on >= :a AND completed_on < :b GROUP BY unit_id"
    )
    try:
        with Session(engine) as session:
            unit = session.exec(select(Unit).where(Unit.code == province)).one()
            scores = subtree_scores_766(session=session, unit=unit, period=period, tz=TZ)
            session.rollback()

            def ours() -> None:
                subtree_scores_766(session=session, unit=unit, period=period, tz=TZ)
                session.rollback()

            def reference() -> None:
                session.execute(plain, {"a": period.start, "b": period.end}).all()
                session.rollback()

            province_score = scores[province]
            return {
                "units": len(scores),
                "completed": province_score.dossiers.completed,
                "total": province_score.total,
                "score_ms": timed(ours, runs),
                "group_by_ms": timed(reference, runs),
            }
    finally:
        engine.dispose()


def _csv(path: Path, url: str, rows: int, province: str, seed: int = 11) -> list[tuple[Any, ...]]:
    """A one-stop system's nightly file of `rows` new dossiers completed in MONTH; the same rows for COPY."""
    import psycopg

    rng = random.Random(seed)
    with psycopg.connect(_dsn(url)) as conn:
        units, fields = _subtree(conn, province)
        codes = dict(conn.execute("SELECT id, code FROM unit WHERE id = ANY(%s)", (units,)).fetchall())
        field_codes = dict(conn.execute("SELECT id, code FROM field").fetchall())
    start = datetime.combine(date.fromisoformat(MONTH + "-01"), datetime.min.time(), TZ)
    out: list[tuple[Any, ...]] = []
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("code,unit,field,procedure_code,received_at,due_at,completed_at,status\n")
        for i in range(rows):
            unit, field = rng.choice(units), rng.choice(fields)
            received = start + timedelta(days=rng.random() * 20)
            due = received + timedelta(days=10)
            done = received + timedelta(days=rng.random() * 11)
            f.write(
                f"IMP-{i:08d},{codes[unit]},{field_codes[field]},1.004227,{received.isoformat()},"
                f"{due.isoformat()},{done.isoformat()},completed\n"
            )
            now = datetime.now(UTC)
            out.append(
                (f"IMP-{i:08d}", unit, field, "1.004227", received, due, done, "completed",
                 done.astimezone(TZ).date(), done > due, False, False, now, now)
            )  # fmt: skip
    return out


class Probe(threading.Thread):
    """Every 100 ms on its own connection: one dossier upserted through the API's service (its own short
    transaction), then a commune's score read; the latency of each round."""

    def __init__(self, url: str, province: str) -> None:
        super().__init__(daemon=True)
        from server.db import make_engine

        self.engine = make_engine(url, pool_size=1)
        self.province = province
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        from sqlmodel import Session, select

        from server.dossiers.service import upsert_dossiers
        from server.indices.periods import parse_period
        from server.models import Unit
        from server.scores.service import score_766

        period = parse_period(MONTH)
        with Session(self.engine) as session:
            province = session.exec(select(Unit).where(Unit.code == self.province)).one()
            commune = session.exec(select(Unit).where(Unit.parent_id == province.id)).first()
            assert commune is not None
            session.rollback()
            n = 0
            while not self.stop.is_set():
                n += 1
                received = datetime(2026, 10, 5, 8, tzinfo=TZ)
                item = {
                    "code": f"PROBE-{n % 50}",
                    "unit": commune.code,
                    "received_at": received.isoformat(),
                    "due_at": (received + timedelta(days=5)).isoformat(),
                    "completed_at": (received + timedelta(days=n % 7)).isoformat(),
                }
                t0 = time.perf_counter()
                upsert_dossiers(session=session, items=[item], scope=None, tz=TZ)
                session.commit()
                score_766(session=session, unit=commune, period=period, tz=TZ)
                session.rollback()
                self.latencies.append((time.perf_counter() - t0) * 1000)
                self.stop.wait(0.1)
        self.engine.dispose()


def _probe(url: str, province: str, seconds: float) -> list[float]:
    probe = Probe(url, province)
    probe.start()
    time.sleep(seconds)
    probe.stop.set()
    probe.join()
    return probe.latencies


def import_csv(url: str, *, province: str = PROVINCE, rows: int = 200_000) -> dict[str, Any]:
    """`hailong dossiers import` of a `rows`-line file (with the probe running) and COPY of the same rows."""
    import psycopg

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dossiers.csv"
        copy_rows = _csv(path, url, rows, province)
        idle = _probe(url, province, 3)
        probe = Probe(url, province)
        probe.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_")}
        env["DATABASE_URL"] = url
        t0 = time.perf_counter()
        result = subprocess.run([HAILONG, "dossiers", "import", str(path)], env=env, capture_output=True, text=True)
        import_s = time.perf_counter() - t0
        probe.stop.set()
        probe.join()
        if result.returncode != 0:
            raise RuntimeError(f"hailong dossiers import failed: {result.stderr.strip()}")
    with psycopg.connect(_dsn(url)) as conn:
        conn.execute("CREATE TEMP TABLE dossier_copy (LIKE dossier INCLUDING DEFAULTS INCLUDING INDEXES)")
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY dossier_copy ({COLUMNS}) FROM STDIN") as copy:
            for row in copy_rows:
                copy.write_row(row)
        conn.commit()
        copy_s = time.perf_counter() - t0
    return {
        "rows": rows,
        "import_s": import_s,
        "import_rows_per_s": rows / import_s,
        "copy_rows_per_s": rows / copy_s,
        "stdout": result.stdout.strip(),
        "probe_during": probe.latencies,
        "probe_idle": idle,
    }


def summary(values: list[float]) -> dict[str, float]:
    """Median and worst, rounded."""
    return {"median": round(statistics.median(values), 1), "max": round(max(values), 1), "n": len(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=2_000_000)
    parser.add_argument("--import-rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    from bench import indices
    from bench.suite import admin_database_url, bench_database, load_average

    started = load_average()
    with bench_database(admin_database_url(), "hl_bench_dossiers") as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            indices.load_units(conn)
        engine.dispose()
        year = generate_year(url, dossiers=args.dossiers)
        score = score_month(url)
        imported = import_csv(url, rows=args.import_rows)
    score_out = {k: v for k, v in score.items() if not k.endswith("_ms")}
    score_out.update(score_ms=summary(score["score_ms"]), group_by_ms=summary(score["group_by_ms"]))
    import_out = {k: v for k, v in imported.items() if not k.startswith("probe")}
    import_out.update(probe_during_ms=summary(imported["probe_during"]), probe_idle_ms=summary(imported["probe_idle"]))
    out = {"load_average": [started, load_average()], "year": year, "score": score_out, "import": import_out}
    json.dump(out, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long the officers' appraisal of a year takes on the demo data (SQLite, and PostgreSQL when configured).

    .venv/bin/python -m bench.appraisal [--runs 5] [--no-write]

Makes fresh databases (a temporary SQLite file; on the server of BENCH_DATABASE_URL or TEST_DATABASE_URL a database
`hl_bench_appraisal_<pid>` that it drops again), loads `hailong seed-demo` data (12 months ending 2026-12), and times
`server.appraisal.service.appraise` for the year 2026 of the province (`DLK`, the whole tree) and of one ward (`BMT`),
plus the XLSX and PDF of the province. The appraisal reads raw ratings (the doubtful rules look at single ratings), so
its time grows with a subtree's ratings in the period. Writes docs/benchmarks/appraisal.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import tempfile
import time
from datetime import date
from functools import partial
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bench._util import timed
from server import PROJECT_ROOT
from server.appraisal import export, service
from server.appraisal.schemas import to_report
from server.cli.core import alembic_config
from server.config import Settings
from server.db import make_engine, session_scope
from server.demo import seed_demo
from server.indices.periods import parse_period
from server.models import Unit

HEADING = "### Officers' appraisal (a year of the demo data)"


def measure(url: str, runs: int) -> list[tuple[str, str]]:
    """Seed the demo data into `url` and time the appraisal; rows of (what, figure)."""
    command.upgrade(alembic_config(Settings(database_url=url)), "head")
    settings = Settings(database_url=url, environment="test")
    engine = make_engine(url)
    with session_scope(engine) as session:
        summary = seed_demo(session=session, end_month=date(2026, 12, 1), tz=settings.tz)
    rows = [("demo data", f"{summary.ratings:,} ratings, {summary.officers} officers, {summary.units} units")]
    year = parse_period("2026")
    with Session(engine) as session:
        for code in ("DLK", "BMT"):
            unit = session.exec(select(Unit).where(Unit.code == code)).one()
            result = service.appraise(session=session, settings=settings, unit=unit, period=year)
            appraise = partial(service.appraise, session=session, settings=settings, unit=unit, period=year)
            ms = statistics.median(timed(appraise, runs, warmup=0))
            n = result.overall.n + result.doubtful
            rows.append((f"appraise {code} 2026 ({n:,} ratings, {len(result.officers)} officers)", f"{ms:,.0f} ms"))
        unit = session.exec(select(Unit).where(Unit.code == "DLK")).one()
        report = to_report(service.appraise(session=session, settings=settings, unit=unit, period=year))
        for fmt in ("xlsx", "pdf"):
            render = partial(export.render, report, fmt, unit=unit, lang="vi", tz=settings.tz)
            ms = statistics.median(timed(render, runs, warmup=0))
            rows.append((f"render DLK 2026 {fmt.upper()}", f"{ms:,.0f} ms"))
    engine.dispose()
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write docs/benchmarks/appraisal.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.appraisal", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions per figure (median)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    results: dict[str, list[tuple[str, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = measure(f"sqlite:///{tmp}/bench.db", args.runs)
    server_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if server_url:
        name = f"hl_bench_appraisal_{os.getpid()}_{secrets.token_hex(3)}"
        admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
            results["PostgreSQL"] = measure(url, args.runs)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    lines = [
        HEADING,
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}; load average {' '.join(load)} at the end (a shared, busy machine: other "
        f"engineers' tests ran at the same time). Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Command: `.venv/bin/python -m bench.appraisal --runs {args.runs}` (median of {args.runs} runs).",
        "",
        "| database | what | time |",
        "|---|---|---|",
        *(f"| {db} | {what} | {figure} |" for db, rows in results.items() for what, figure in rows),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        (PROJECT_ROOT / "docs" / "benchmarks" / "appraisal.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

"""A huge counters import (issue 19 finding 9: 200,000 rows held the SQLite lock for 32 s).

    .venv/bin/python -m bench.imports [--rows 200000] [--no-write]

Makes a fresh SQLite database (WAL, as the server runs it) with one unit, then imports a CSV of `--rows` new
counters with `hailong counters import`'s function, commits, re-imports the same file changed (every row an update)
and commits. Reference: the previous implementation (one ORM object per row, one flush), run on a second fresh
database. SQLite's write lock is held from the first statement that writes the `counter` table to the commit
(staging rows in a temporary table does not take it), so the figure that matters is `write + commit`. Writes
docs/benchmarks/imports.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy import event
from sqlmodel import Session, select

from server import PROJECT_ROOT
from server.cli.core import alembic_config
from server.config import Settings
from server.db import make_engine
from server.models import Counter, Unit
from server.units.service import COUNTER_COLUMNS, ImportResult, create_unit, import_counters, read_table

#: A statement that writes the counter table itself (staging in a temporary table takes no lock on the database).
MAIN_WRITE = re.compile(r"(INSERT INTO|UPDATE) counter\b", re.IGNORECASE)
OUT = PROJECT_ROOT / "docs" / "benchmarks" / "imports.md"


def legacy_import(*, session: Session, data: bytes | str) -> ImportResult:
    """The implementation before the fix: ORM objects for every counter and unit, one flush at the end."""
    rows = read_table(data, COUNTER_COLUMNS)
    units = {u.code: u for u in session.exec(select(Unit)).all()}
    counters = {c.code: c for c in session.exec(select(Counter)).all()}
    created = updated = 0
    for _, row in rows:
        unit = units[row["unit_code"]]
        counter = counters.get(row["code"])
        if counter is None:
            session.add(Counter(code=row["code"], unit_id=unit.id, name=row["name"]))  # type: ignore[arg-type]
            created += 1
        else:
            counter.unit_id, counter.name = unit.id, row["name"]  # type: ignore[assignment]
            updated += 1
    session.flush()
    return ImportResult(created=created, updated=updated)


def run(importer: Callable[..., ImportResult], rows: int, workdir: Path) -> dict[str, float]:
    path = workdir / f"{importer.__name__}.db"
    settings = Settings(database_url=f"sqlite:///{path}", environment="test")
    command.upgrade(alembic_config(settings), "head")
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        create_unit(session=session, code="U", name="Đơn vị")
        session.commit()
    figures: dict[str, float] = {}
    first_write: list[float] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not first_write and MAIN_WRITE.match(statement.lstrip()):
            first_write.append(time.perf_counter())

    for label, suffix in (("create", ""), ("update", " (mới)")):
        data = "code,unit_code,name\n" + "".join(f"Q{i:07d},U,Quầy {i}{suffix}\n" for i in range(rows))
        first_write.clear()
        event.listen(engine, "before_cursor_execute", note)
        start = time.perf_counter()
        with Session(engine) as session:
            result = importer(session=session, data=data)
            session.commit()
        end = time.perf_counter()
        event.remove(engine, "before_cursor_execute", note)
        assert (result.created if label == "create" else result.updated) == rows
        figures[f"{label} total"] = end - start
        figures[f"{label} write + commit"] = end - (first_write[0] if first_write else end)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM counter")).scalar_one() == rows
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        new = run(import_counters, args.rows, Path(tmp))
        old = run(legacy_import, args.rows, Path(tmp))
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    lines = [
        "### Counters import (issue 19 finding 9)",
        "",
        f"`python -m bench.imports --rows {args.rows}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit "
        f"{commit.stdout.strip() or '?'}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {' '.join(load)} (a busy shared machine: other engineers' tests were running).",
        "",
        f"{args.rows:,} counters into SQLite (WAL), then the same file again as updates. The write lock is held "
        "during `write + commit` (from the first statement writing `counter` to the end of the commit).",
        "",
        "| phase | staged, set-based (now) | ORM objects (before) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for key in new:
        lines.append(f"| {key} | {new[key]:.2f} s | {old[key]:.2f} s | {old[key] / max(new[key], 1e-9):.1f}× |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

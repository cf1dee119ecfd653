"""`hailong export`: the same report files as `/exports/monthly.*`, for cron jobs and scripts."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Engine

from server.auth.service import audit
from server.config import Settings
from server.db import session_scope
from server.exports import service
from server.units.service import get_unit


def check_writable(output: Path, fail: Callable[[str], NoReturn]) -> None:
    """Fail early (before the work) when the output cannot be written."""
    parent = output.parent
    if output.is_dir():
        fail(f"cannot write {output}: it is a directory")
    if not parent.is_dir():
        fail(f"cannot write {output}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        fail(f"cannot write {output}: permission denied")


def write_atomically(output: Path, data: bytes) -> None:
    """Write to a temporary file beside `output`, then rename: readers never see half a report."""
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=".hailong-export-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_export(
    *,
    engine: Engine,
    settings: Settings,
    unit_code: str,
    month: str | None,
    period: str | None,
    fmt: str,
    lang: str,
    output: Path,
    fail: Callable[[str], NoReturn],
) -> int:
    """Check the input, build the report (progress bar on a terminal), write it and audit it; returns its size."""
    chosen = service.export_period(month=month, period=period)
    output = output.expanduser().absolute()
    check_writable(output, fail)
    console = Console(stderr=True)
    with session_scope(engine) as session:
        unit = get_unit(session=session, code=unit_code)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,  # cron and scripts get no bar, only the result line
        ) as bar:
            task = bar.add_task(f"{unit.code} {chosen.code} {fmt}", total=3)

            def progress(done: int, total: int, what: str) -> None:
                bar.update(task, completed=done, total=total, description=f"{unit.code} {chosen.code}: {what}")

            report = service.build_report(
                session=session, settings=settings, unit=unit, period=chosen, lang=lang, progress=progress
            )
            data = service.render(report, fmt, progress=progress)
        try:
            write_atomically(output, data)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        audit(session=session, actor="cli", action=f"export.{fmt}", target=unit.code, detail=chosen.code)
    return len(data)

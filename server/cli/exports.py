"""`hailong export`: the same report files as `/exports/monthly.*`, for cron jobs and scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from server.cli.core import app, check_writable, fail, load_settings, open_session, write_atomically
from server.config import Settings
from server.terminal import echo


@app.command("export")
def export_command(
    unit: Annotated[str, typer.Option(help="Unit code; the report covers its whole subtree")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (the format follows its suffix)")],
    month: Annotated[str | None, typer.Option(help="The month, YYYY-MM")] = None,
    period: Annotated[str | None, typer.Option(help="Instead of --month: YYYY-MM, YYYY-Qn or YYYY")] = None,
    format: Annotated[str | None, typer.Option("--format", help="csv | xlsx | pdf (default: from -o)")] = None,
    lang: Annotated[str, typer.Option(help="vi | en (XLSX and PDF)")] = "vi",
) -> None:
    """Write a unit's monthly (quarterly, yearly) report as CSV, XLSX or PDF: the figures of the dashboard."""
    settings = load_settings()
    fmt = (format or output.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "xlsx", "pdf"):
        fail(f"--format must be csv, xlsx or pdf (got {fmt or 'nothing'!r}; or give -o a .csv/.xlsx/.pdf name)")
    if lang not in ("vi", "en"):
        fail(f"--lang must be vi or en, not {lang!r}")
    with open_session(settings) as session:
        written = run_export(
            session=session,
            settings=settings,
            unit_code=unit,
            month=month,
            period=period,
            fmt=fmt,
            lang=lang,
            output=output,
        )
    echo(f"wrote {output} ({written} bytes)")


def run_export(
    *,
    session: Session,
    settings: Settings,
    unit_code: str,
    month: str | None,
    period: str | None,
    fmt: str,
    lang: str,
    output: Path,
) -> int:
    """Check the input, build the report (progress bar on a terminal), write it and audit it; returns its size."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from server.auth.service import audit
    from server.exports import service
    from server.units.service import get_unit

    chosen = service.export_period(month=month, period=period)
    output = output.expanduser().absolute()
    check_writable(output)
    console = Console(stderr=True)
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

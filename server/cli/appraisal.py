"""`hailong appraisal`: the appraisal council's file (XLSX or PDF, or the API's JSON) for a unit and year."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from server.cli.core import app, check_writable, fail, load_settings, open_session, write_atomically
from server.config import Settings
from server.terminal import echo

FORMATS = ("xlsx", "pdf", "json")


@app.command("appraisal")
def appraisal_command(
    unit: Annotated[str, typer.Option(help="Unit code; its whole subtree is appraised")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (the format follows its suffix)")],
    year: Annotated[int | None, typer.Option(help="The appraisal year, e.g. 2026")] = None,
    period: Annotated[str | None, typer.Option(help="Instead of --year: YYYY-Qn, YYYY-MM or a day range")] = None,
    format: Annotated[str | None, typer.Option("--format", help="xlsx | pdf | json (default: from -o)")] = None,
    lang: Annotated[str, typer.Option(help="vi | en (XLSX and PDF)")] = "vi",
) -> None:
    """Write the officers' appraisal of a unit (XLSX or PDF for the appraisal council, or the API's JSON); audited."""
    settings = load_settings()
    if (year is None) == (period is None):
        fail("give either --year YYYY or --period")
    if year is not None and not 1000 <= year <= 9999:
        fail(f"--year must be a four-digit year, not {year}")
    fmt = (format or output.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        fail(f"--format must be xlsx, pdf or json (got {fmt or 'nothing'!r}; or give -o a .xlsx/.pdf/.json name)")
    if lang not in ("vi", "en"):
        fail(f"--lang must be vi or en, not {lang!r}")
    with open_session(settings) as session:
        written = run_appraisal(
            session=session,
            settings=settings,
            unit_code=unit,
            period=str(year) if year is not None else str(period),
            fmt=fmt,
            lang=lang,
            output=output,
        )
    echo(f"wrote {output} ({written} bytes)")


def run_appraisal(
    *, session: Session, settings: Settings, unit_code: str, period: str, fmt: str, lang: str, output: Path
) -> int:
    """Check the input, appraise, write the file atomically and audit it; returns its size."""
    from server.appraisal import export, service
    from server.appraisal.schemas import to_report
    from server.auth.service import audit
    from server.indices.periods import parse_period
    from server.units.service import get_unit

    chosen = parse_period(period)
    output = output.expanduser().absolute()
    check_writable(output)
    unit = get_unit(session=session, code=unit_code)
    report = to_report(service.appraise(session=session, settings=settings, unit=unit, period=chosen))
    if fmt == "json":
        data = (report.model_dump_json(indent=2) + "\n").encode()
    else:
        data = export.render(report, fmt, unit=unit, lang=lang, tz=settings.tz)
    try:
        write_atomically(output, data)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    audit(session=session, actor="cli", action=f"appraisal.{fmt}", target=unit.code, detail=chosen.code)
    return len(data)

"""`hailong appraisal`: the appraisal council's file (XLSX or PDF, or the API's JSON) for a unit and year."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from sqlalchemy.engine import Engine

from server.appraisal import export, service
from server.appraisal.schemas import to_report
from server.auth.service import audit
from server.config import Settings
from server.db import session_scope
from server.exports.cli import check_writable, write_atomically
from server.indices.periods import parse_period
from server.units.service import get_unit

FORMATS = ("xlsx", "pdf", "json")


def run_appraisal(
    *,
    engine: Engine,
    settings: Settings,
    unit_code: str,
    period: str,
    fmt: str,
    lang: str,
    output: Path,
    fail: Callable[[str], NoReturn],
) -> int:
    """Check the input, appraise, write the file atomically and audit it; returns its size."""
    chosen = parse_period(period)
    output = output.expanduser().absolute()
    check_writable(output, fail)
    with session_scope(engine) as session:
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

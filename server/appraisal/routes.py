"""The officers' appraisal: `GET /api/v1/appraisal` (read key or manager session) and its XLSX and PDF files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from server.appraisal import export, service
from server.appraisal.schemas import AppraisalReport, to_report
from server.auth.deps import FiguresAsked, ReaderDep, reader_errors
from server.deps import SessionDep, SettingsDep
from server.i18n import request_language
from server.indices.periods import parse_period
from server.renderers import render_file

router = APIRouter(prefix="/api/v1", tags=["appraisal"])
exports_router = APIRouter(prefix="/exports", tags=["appraisal"])

ERRORS = reader_errors("Malformed period")

PeriodQuery = Annotated[
    str,
    Query(
        description="`YYYY` (the appraisal year), `YYYY-Qn`, `YYYY-MM` or `YYYY-MM-DD..YYYY-MM-DD`, in the reporting "
        "time zone",
        examples=["2026"],
        max_length=32,
    ),
]
UnitQuery = Annotated[
    str | None,
    Query(description="Unit code; its whole subtree is appraised. Default: the caller's own unit.", max_length=64),
]


def _report(asked: FiguresAsked) -> AppraisalReport:
    """The unit's appraisal for the period."""
    appraisal = service.appraise(session=asked.session, settings=asked.settings, unit=asked.unit, period=asked.period)
    return to_report(appraisal)


def appraisal_asked(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    period: PeriodQuery,
    unit: UnitQuery = None,
) -> FiguresAsked:
    """The period (422 when malformed) and the unit (404 unknown, 403 outside the reader's scope) asked for."""
    chosen = parse_period(period)
    return FiguresAsked(request, session, settings, reader, reader.unit(session=session, code=unit), chosen)


AskedDep = Annotated[FiguresAsked, Depends(appraisal_asked)]


@router.get(
    "/appraisal",
    response_model=AppraisalReport,
    summary="Officers' appraisal of a unit and its subtree for a period",
    responses=ERRORS,
)
def get_appraisal(asked: AskedDep) -> AppraisalReport:
    """Each officer's n, rate and Wilson interval against the unit's rate for the same mix of fields (indirect
    standardisation), the difference with its interval, status (`above`, `as_expected`, `below`, or
    `insufficient_data` under the minimum sample: never ranked) and the doubtful ratings apart, with their reasons.
    Audited."""
    report = _report(asked)
    asked.audit("appraisal.read")
    return report


def _file(fmt: str, asked: FiguresAsked) -> Response:
    report = _report(asked)
    lang = request_language(asked.request)
    data = render_file(
        asked.request, asked.session, export.render, report, fmt, unit=asked.unit, lang=lang, tz=asked.settings.tz
    )
    asked.audit(f"appraisal.{fmt}")
    disposition = export.content_disposition(report=report, fmt=fmt, lang=lang)
    return Response(
        data,
        media_type=export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


@exports_router.get(
    "/appraisal.xlsx", summary="The officers' appraisal as an Excel workbook", response_class=Response, responses=ERRORS
)
def appraisal_xlsx(asked: AskedDep) -> Response:
    """Officers (the API's numbers; rates as percentages), the unit's rate per field, and the method. Audited."""
    return _file("xlsx", asked)


@exports_router.get(
    "/appraisal.pdf", summary="The officers' appraisal as a printable PDF", response_class=Response, responses=ERRORS
)
def appraisal_pdf(asked: AskedDep) -> Response:
    """A4 landscape: officers, the unit's rate per field, and the method in plain Vietnamese on its own page."""
    return _file("pdf", asked)

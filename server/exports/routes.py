"""`GET /exports/monthly.{csv,xlsx,pdf}`: a unit's report for a month, quarter or year (session or read key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from server.auth.deps import FiguresAsked, ReaderDep
from server.deps import SessionDep, SettingsDep
from server.errors import error_responses
from server.exports import service
from server.i18n import request_language
from server.renderers import render_file

router = APIRouter(prefix="/exports", tags=["exports"])

ERRORS = error_responses(401, 403, 404, 422)

MonthQuery = Annotated[str | None, Query(max_length=16, description="YYYY-MM (the month of the report)")]
PeriodQuery = Annotated[
    str | None, Query(max_length=16, description="instead of month: YYYY-MM, YYYY-Qn (quarter) or YYYY (year)")
]
UnitQuery = Annotated[
    str | None, Query(max_length=64, description="unit code; the report covers its whole subtree (default: yours)")
]


def figures_asked(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    month: MonthQuery = None,
    period: PeriodQuery = None,
    unit: UnitQuery = None,
) -> FiguresAsked:
    """The period (422 when malformed) and the unit (404 unknown, 403 outside the reader's scope) of a download."""
    chosen = service.export_period(month=month, period=period)
    return FiguresAsked(request, session, settings, reader, reader.unit(session=session, code=unit), chosen)


AskedDep = Annotated[FiguresAsked, Depends(figures_asked)]


def _export(fmt: str, asked: FiguresAsked) -> Response:
    session, unit_row, chosen = asked.session, asked.unit, asked.period
    report = service.build_report(
        session=session, settings=asked.settings, unit=unit_row, period=chosen, lang=request_language(asked.request)
    )
    data = render_file(asked.request, session, service.render, report, fmt)  # a yearly PDF: seconds
    asked.audit(f"export.{fmt}")
    lang = None if fmt == "csv" else report.lang  # the CSV holds both languages
    disposition = service.content_disposition("hai-long", unit_row.code, chosen.code, fmt=fmt, lang=lang)
    return Response(
        data,
        media_type=service.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


@router.get(
    "/monthly.csv", summary="Figures per field as CSV (for machines)", response_class=Response, responses=ERRORS
)
def monthly_csv(asked: AskedDep) -> Response:
    """RFC 4180, UTF-8 with BOM, one row per field with its code; rates as fractions with a `.` decimal point."""
    return _export("csv", asked)


@router.get(
    "/monthly.xlsx", summary="The report as an Excel workbook (for people)", response_class=Response, responses=ERRORS
)
def monthly_xlsx(asked: AskedDep) -> Response:
    """Report sheet (rates, targets, status, intervals, definitions), raw counts per field and per child unit."""
    return _export("xlsx", asked)


@router.get("/monthly.pdf", summary="The report as a printable A4 PDF", response_class=Response, responses=ERRORS)
def monthly_pdf(asked: AskedDep) -> Response:
    """Headline, tables and the 12-month trend chart, with Be Vietnam Pro embedded."""
    return _export("pdf", asked)

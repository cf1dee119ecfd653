"""The officers' appraisal: `GET /api/v1/appraisal` (read key or manager session) and its XLSX and PDF files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from server.appraisal import service
from server.appraisal.schemas import AppraisalReport, to_report
from server.auth.deps import ReaderDep
from server.auth.service import audit
from server.deps import SessionDep, SettingsDep
from server.errors import error_responses
from server.indices.periods import parse_period

router = APIRouter(prefix="/api/v1", tags=["appraisal"])

ERRORS = error_responses(
    401,
    403,
    404,
    422,
    s401="No read key or manager session, or an unknown, revoked or wrong kind of key",
    s403="The unit lies outside the caller's subtree, or the account may not read figures",
    s404="Unknown unit",
    s422="Malformed period",
)

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


@router.get(
    "/appraisal",
    response_model=AppraisalReport,
    summary="Officers' appraisal of a unit and its subtree for a period",
    responses=ERRORS,
)
def get_appraisal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    period: PeriodQuery,
    unit: UnitQuery = None,
) -> AppraisalReport:
    """Each officer's n, rate and Wilson interval against the unit's rate for the same mix of fields (indirect
    standardisation), the difference with its interval, status (`above`, `as_expected`, `below`, or
    `insufficient_data` under the minimum sample: never ranked) and the doubtful ratings apart, with their reasons.
    Audited."""
    chosen = parse_period(period)
    target = reader.unit(session=session, code=unit)
    appraisal = service.appraise(session=session, settings=settings, unit=target, period=chosen)
    audit(
        session=session,
        actor=reader.actor,
        action="appraisal.read",
        target=target.code,
        detail=chosen.code,
        ip=request.client.host if request.client else None,
    )
    return to_report(appraisal)

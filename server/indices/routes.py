"""`GET /api/v1/indices`: satisfaction indices of a unit's subtree for a period (docs/API.md, "Indices")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.auth.deps import ReaderDep, reader_errors
from server.deps import SessionDep, SettingsDep
from server.indices.periods import parse_period
from server.indices.schemas import Grouping, IndicesReport
from server.indices.service import compute_indices

router = APIRouter(prefix="/api/v1", tags=["indices"])

ERRORS = reader_errors("Malformed period or grouping")


@router.get(
    "/indices",
    response_model=IndicesReport,
    summary="Satisfaction indices of a unit and its subtree for a period",
    responses=ERRORS,
)
def get_indices(
    session: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    period: Annotated[
        str,
        Query(
            description=(
                "`YYYY-MM` (month), `YYYY-Qn` (quarter), `YYYY` (year) or `YYYY-MM-DD..YYYY-MM-DD` (days, both "
                "included). Days are counted in the reporting time zone, Asia/Ho_Chi_Minh (UTC+7), by default."
            ),
            examples=["2026-10"],
            max_length=32,
        ),
    ],
    unit: Annotated[
        str | None,
        Query(
            description="Unit code; figures include its whole subtree. Default: the caller's own unit.",
            max_length=64,
        ),
    ] = None,
    by: Annotated[
        Grouping | None,
        Query(
            description=(
                "Rows grouped by `field`, target `group` (all, lci, health_education), child `unit`, `counter`, "
                "`officer`, `channel` (kiosk, phone) or `month`. Omit for the overall row only."
            )
        ),
    ] = None,
) -> IndicesReport:
    """Rate (satisfied ÷ valid ratings, misuse excluded), Wilson 95 % interval, levels, reasons, target and status.

    Rates are fractions 0..1; `status` is `insufficient_data` below the minimum sample (default 30 valid ratings).
    Periods are counted in the reporting time zone (Asia/Ho_Chi_Minh), named in the answer's `timezone`.
    """
    target = reader.unit(session=session, code=unit)
    return compute_indices(
        session=session,
        unit=target,
        period=parse_period(period),
        by=by,
        min_sample=settings.min_sample,
        tz=settings.tz,
    )

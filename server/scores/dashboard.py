"""The QĐ 766 drill-down page of the dashboard: where a unit's points were lost (children, fields, months, dossiers).

Its summary on the unit's dashboard is `dashboard/_score766.html`, rendered by `server.dashboard.routes`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from server.auth.deps import ManagerUser, unit_in_scope, verify_csrf, visible_root
from server.dashboard.routes import PeriodQuery, UnitQuery, _common, _render, today
from server.deps import SessionDep, SettingsDep
from server.i18n import request_language
from server.indices.periods import reporting_period
from server.scores.service import costly_dossiers, score_766_breakdown

router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(verify_csrf)])

#: Dossiers listed per page of the drill-down.
PAGE_SIZE = 50


@router.get("/score766", response_class=HTMLResponse)
def score766_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: ManagerUser,
    unit: UnitQuery = None,
    period: PeriodQuery = None,
    show: Annotated[Literal["all", "overdue", "disliked"], Query(description="which dossiers to list")] = "all",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The subtree's QĐ 766 score explained: per child unit and field with the points each cost, the 12 months up
    to the period, and the dossiers that cost points (overdue, disliked, named by a petition)."""
    root = visible_root(session=session, user=user)
    unit_row = unit_in_scope(session=session, root=root, code=unit)
    chosen = reporting_period(period, today=today(settings))
    breakdown = score_766_breakdown(
        session=session, unit=unit_row, period=chosen, tz=settings.tz, lang=request_language(request)
    )
    total, dossiers = costly_dossiers(
        session=session, unit=unit_row, period=chosen, kind=show, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    context = _common(session=session, settings=settings, user=user, unit=unit_row, period=chosen, root=root)
    context.update(
        breakdown=breakdown,
        show=show,
        total=total,
        dossiers=dossiers,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )
    return _render(request, "dashboard/score766.html", "dashboard/_score766_detail.html", context)

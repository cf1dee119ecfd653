"""The QĐ 766 drill-down page of the dashboard: where a unit's points were lost (children, fields, months, dossiers).

Its summary on the unit's dashboard is `dashboard/_score766.html`, rendered by `server.dashboard.routes`;
what the two pages share is `server.dashboard.pages`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from server.auth.deps import verify_csrf
from server.dashboard.pages import UnitPageDep, page_context, render
from server.i18n import request_language
from server.scores.service import costly_dossiers, score_766_breakdown

router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(verify_csrf)])

#: Dossiers listed per page of the drill-down.
PAGE_SIZE = 50


@router.get("/score766", response_class=HTMLResponse)
def score766_page(
    unit_page: UnitPageDep,
    show: Annotated[Literal["all", "overdue", "disliked"], Query(description="which dossiers to list")] = "all",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The subtree's QĐ 766 score explained: per child unit and field with the points each cost, the 12 months up
    to the period, and the dossiers that cost points (overdue, disliked, named by a petition)."""
    session, unit, chosen = unit_page.session, unit_page.unit, unit_page.period
    breakdown = score_766_breakdown(
        session=session, unit=unit, period=chosen, tz=unit_page.settings.tz, lang=request_language(unit_page.request)
    )
    total, dossiers = costly_dossiers(
        session=session, unit=unit, period=chosen, kind=show, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    context = page_context(unit_page)
    context.update(
        breakdown=breakdown,
        show=show,
        total=total,
        dossiers=dossiers,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )
    return render(unit_page.request, "dashboard/score766.html", "dashboard/_score766_detail.html", context)

"""What every dashboard page about a unit shares (the dashboard itself, the QĐ 766 drill-down, the appraisal): the
unit and period asked for within the manager's scope, the context common to them, and the full page or only its htmx
partial.

Kept apart from `server.dashboard.routes` so that the other packages' dashboard pages (server/scores,
server/appraisal) build on it without importing the dashboard's routes (which show the appraisal's own line).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse

from server.auth.deps import FiguresAsked, ManagerUser, Reader, unit_in_scope, visible_root
from server.config import Settings
from server.dashboard import service
from server.deps import SessionDep, SettingsDep
from server.indices.periods import Period, period_choices, reporting_period
from server.templating import is_htmx

UnitQuery = Annotated[str | None, Query(max_length=64, description="unit code (default: your unit)")]
PeriodQuery = Annotated[str | None, Query(max_length=32, description="YYYY-MM, YYYY-Qn or YYYY")]


def today(settings: Settings) -> date:
    """Today in the reporting time zone."""
    return datetime.now(settings.tz).date()


def month_period(text: str | None, settings: Settings) -> Period:
    """The period asked for; this month when absent."""
    return reporting_period(text, today=today(settings))


def unit_page(period_of: Callable[[str | None, Settings], Period]) -> Callable[..., FiguresAsked]:
    """A dependency: the unit asked for (default: the manager's own) if it lies within the manager's scope (404
    unknown, 403 outside), and the period, `period_of` the query's text (422 when malformed)."""

    def dependency(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        user: ManagerUser,
        unit: UnitQuery = None,
        period: PeriodQuery = None,
    ) -> FiguresAsked:
        root = visible_root(session=session, user=user)
        unit_row = unit_in_scope(session=session, root=root, code=unit)
        reader = Reader(actor=user.username, root=root, user=user)
        return FiguresAsked(request, session, settings, reader, unit_row, period_of(period, settings))

    return dependency


#: A dashboard page about a unit for a period (this month by default).
UnitPageDep = Annotated[FiguresAsked, Depends(unit_page(month_period))]


def page_context(page: FiguresAsked) -> dict[str, Any]:
    """What every unit page shows: the unit, the period and the periods to choose from, the breadcrumbs."""
    return {
        "unit": page.unit,
        "period": page.period,
        "choices": period_choices(today=today(page.settings), selected=page.period),
        "crumbs": service.breadcrumbs(session=page.session, unit=page.unit, root=page.reader.root),
        "user": page.reader.user,
    }


def render(request: Request, full: str, partial: str, context: dict[str, Any]) -> HTMLResponse:
    """The full page, or only the partial for htmx (a history restore wants the full page)."""
    htmx = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    response: HTMLResponse = request.app.state.templates.TemplateResponse(request, partial if htmx else full, context)
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response

"""The appraisal pages: a manager's subtree (`/dashboard/appraisal`); officers see their own line on `/dashboard/me`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from server.appraisal import service
from server.appraisal.schemas import AppraisalReport, OfficerRow, to_report
from server.appraisal.words import METHOD_TITLE, REASON_WORDS, STATUS_WORDS, method_paragraphs
from server.auth.deps import ManagerUser, unit_in_scope, verify_csrf, visible_root
from server.auth.service import audit
from server.config import Settings
from server.dashboard import service as dashboard
from server.deps import SessionDep, SettingsDep
from server.i18n import request_language
from server.indices.periods import Period, period_choices, reporting_period
from server.models import Officer, Unit
from server.templating import is_htmx

router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(verify_csrf)])

UnitQuery = Annotated[str | None, Query(max_length=64, description="unit code (default: your unit)")]
PeriodQuery = Annotated[str | None, Query(max_length=32, description="YYYY (default: this year), YYYY-Qn or YYYY-MM")]


def words(report: AppraisalReport, lang: str) -> dict[str, Any]:
    """What the appraisal templates need besides the report: status and reason words, the method in `lang`."""
    return {
        "status_words": STATUS_WORDS,
        "reason_words": REASON_WORDS,
        "method_title": METHOD_TITLE,
        "method": method_paragraphs(report.rules, min_sample=report.min_sample, lang=lang),
    }


def appraisal_period(text: str | None, settings: Settings) -> Period:
    """The period asked for; this year when absent (the appraisal is yearly)."""
    today = datetime.now(settings.tz).date()
    return reporting_period(text or str(today.year), today=today)


@router.get("/appraisal", response_class=HTMLResponse)
def appraisal_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: ManagerUser,
    unit: UnitQuery = None,
    period: PeriodQuery = None,
) -> HTMLResponse:
    """The officers of a unit's subtree against the unit's rates for the same mix of fields (audited)."""
    root = visible_root(session=session, user=user)
    unit_row = unit_in_scope(session=session, root=root, code=unit)
    chosen = appraisal_period(period, settings)
    report = to_report(service.appraise(session=session, settings=settings, unit=unit_row, period=chosen))
    audit(
        session=session,
        actor=user.username,
        action="appraisal.view",
        target=unit_row.code,
        detail=chosen.code,
        ip=request.client.host if request.client else None,
    )
    today = datetime.now(settings.tz).date()
    context = {
        "unit": unit_row,
        "period": chosen,
        "choices": period_choices(today=today, selected=chosen),
        "crumbs": dashboard.breadcrumbs(session=session, unit=unit_row, root=root),
        "report": report,
        "ranked": [o for o in report.officers if o.rank is not None],
        "few": [o for o in report.officers if o.rank is None],
        **words(report, request_language(request)),
    }
    htmx = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    name = "appraisal/_page.html" if htmx else "appraisal/page.html"
    response: HTMLResponse = request.app.state.templates.TemplateResponse(request, name, context)
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


def own_line(*, session: Session, settings: Settings, officer: Officer, period: Period, lang: str) -> dict[str, Any]:
    """An officer's own appraisal line for `/dashboard/me` (never another officer's), with the unit's field rates it
    is compared with."""
    unit = session.get(Unit, officer.unit_id)
    assert unit is not None  # foreign key
    report = to_report(service.appraise(session=session, settings=settings, unit=unit, period=period))
    mine: OfficerRow | None = next((o for o in report.officers if o.key == officer.code), None)
    return {"mine": mine, "unit_fields": report.fields, **words(report, lang)}

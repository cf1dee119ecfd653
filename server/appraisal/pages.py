"""The appraisal pages: a manager's subtree (`/dashboard/appraisal`); officers see their own line on `/dashboard/me`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from server.appraisal import service
from server.appraisal.schemas import AppraisalReport, OfficerRow, to_report
from server.appraisal.words import METHOD_TITLE, REASON_WORDS, STATUS_WORDS, method_paragraphs
from server.auth.deps import FiguresAsked, verify_csrf
from server.auth.service import audit
from server.config import Settings
from server.dashboard.pages import page_context, render, today, unit_page
from server.i18n import request_language
from server.indices.periods import Period, reporting_period
from server.models import Officer, Unit

router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(verify_csrf)])


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
    now = today(settings)
    return reporting_period(text or str(now.year), today=now)


#: The appraisal page of a unit for a period (this year by default).
AppraisalPageDep = Annotated[FiguresAsked, Depends(unit_page(appraisal_period))]


@router.get("/appraisal", response_class=HTMLResponse)
def appraisal_page(page: AppraisalPageDep) -> HTMLResponse:
    """The officers of a unit's subtree against the unit's rates for the same mix of fields (audited)."""
    report = to_report(
        service.appraise(session=page.session, settings=page.settings, unit=page.unit, period=page.period)
    )
    page.audit("appraisal.view")
    context = page_context(page)
    context.update(
        report=report,
        ranked=[o for o in report.officers if o.rank is not None],
        few=[o for o in report.officers if o.rank is None],
        **words(report, request_language(page.request)),
    )
    return render(page.request, "appraisal/page.html", "appraisal/_page.html", context)


def own_line(
    *,
    session: Session,
    settings: Settings,
    officer: Officer,
    period: Period,
    lang: str,
    actor: str,
    ip: str | None = None,
) -> dict[str, Any]:
    """An officer's own appraisal line for `/dashboard/me` (never another officer's), with the unit whose field rates
    it is compared with (the officer's unit and its subtree) and those rates. Audited (`appraisal.me`, like the
    managers' `appraisal.view`): `actor` read the officer's line for the period."""
    unit = session.get(Unit, officer.unit_id)
    assert unit is not None  # foreign key
    report = to_report(service.appraise(session=session, settings=settings, unit=unit, period=period))
    mine: OfficerRow | None = next((o for o in report.officers if o.key == officer.code), None)
    audit(session=session, actor=actor, action="appraisal.me", target=officer.code, detail=period.code, ip=ip)
    return {"mine": mine, "unit_fields": report.fields, "reference_unit": unit, **words(report, lang)}

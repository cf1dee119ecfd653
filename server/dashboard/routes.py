"""Dashboard pages: a unit for a month, quarter or year; field drill-down; comments; officers' own figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlmodel import Session, col, select

from server.appraisal.pages import appraisal_period, own_line
from server.auth.deps import FiguresAsked, require_role, unit_in_scope, verify_csrf
from server.cache import TimedCache
from server.dashboard import service
from server.dashboard.pages import PeriodQuery, UnitPageDep, UnitQuery, page_context, render, today
from server.deps import SessionDep, SettingsDep, client_ip
from server.errors import Forbidden, NotFound
from server.i18n import request_language
from server.indices import overview as reports
from server.indices.periods import period_choices
from server.models import Officer, ProcedureField, Unit, User
from server.presentation.charts import trend_chart
from server.scores.service import score_766
from server.templating import language_context
from server.units.service import children

T = TypeVar("T")

router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(verify_csrf)])

FieldQuery = Annotated[str | None, Query(max_length=64, description="field code")]
DossierQuery = Annotated[str | None, Query(max_length=128, description="dossier code (the ratings of one dossier)")]


def _cached(request: Request, session: Session, key: tuple[Any, ...], compute: Callable[[Session], T]) -> T:
    """`compute(session)`, kept in the dashboard cache under `key`: the request's session on a miss, a session of its
    own when an expired value is refreshed in the background (so it holds nothing of the request)."""
    engine = request.app.state.engine

    def refresh() -> T:
        with Session(engine) as own:
            return compute(own)

    cache: TimedCache = request.app.state.dashboard_cache
    return cache.get_or_compute(key, lambda: compute(session), refresh=refresh)


def _shared_fragment(
    request: Request,
    session: Session,
    template: str,
    key: tuple[Any, ...],
    context: Callable[[Session], dict[str, Any]],
) -> Markup:
    """A part of a page that is the same for everyone who may see it (figures, not personal data), rendered in the
    request's language and kept in the dashboard cache under `key`; scoping is checked before it is asked for.
    `context` reads what it needs through the session it is given (see `_cached`)."""
    lang = request_language(request)
    templates, tz = request.app.state.templates, request.app.state.settings.tz

    def render_fragment(with_session: Session) -> Markup:
        page = templates.get_template(template)
        return Markup(page.render(**context(with_session), tz=tz, **language_context(lang)))

    return _cached(request, session, (template, *key, lang), render_fragment)


def _same_unit(session: Session, unit: Unit) -> Unit:
    """`unit` as an object of `session` (itself when it already is one)."""
    found = session.get(Unit, unit.id)
    if found is None:
        raise NotFound("unknown unit {code!r}", code=unit.code)
    return found


def _comment_filters(page: FiguresAsked, field_filter: str) -> dict[str, Any]:
    """The comments' filters on a unit's page: its child units and the fields to choose from (both cached), no child
    unit chosen, and `field_filter` the field shown ("" for all)."""
    unit = page.unit
    return {
        "comment_units": _cached(
            page.request, page.session, ("children", unit.id), lambda s: list(children(session=s, unit=unit))
        ),
        "comment_fields": _cached(page.request, page.session, ("fields",), _fields),
        "within": "",
        "field_filter": field_filter,
    }


@router.get("", response_class=HTMLResponse)
def dashboard(page: UnitPageDep) -> HTMLResponse:
    """A unit's (and its subtree's) satisfaction for a period against its targets."""
    request, session, settings = page.request, page.session, page.settings
    unit_row, chosen = page.unit, page.period

    def figures(s: Session) -> dict[str, Any]:
        unit_now = _same_unit(s, unit_row)
        view = reports.overview(session=s, settings=settings, unit=unit_now, period=chosen)
        return {"unit": unit_now, "period": chosen, "view": view, "chart": trend_chart(view.trend, view.overall.target)}

    context = page_context(page)
    context.update(
        # What every manager of the unit sees alike is rendered once per unit, period and language and reused.
        figures=_shared_fragment(request, session, "dashboard/_figures.html", (unit_row.id, chosen), figures),
        # The QĐ 766 satisfaction score beside the index (server/scores; its drill-down is /dashboard/score766).
        score766=_shared_fragment(
            request,
            session,
            "dashboard/_score766.html",
            (unit_row.id, chosen),
            lambda s: {
                "unit": _same_unit(s, unit_row),
                "period": chosen,
                "score": score_766(session=s, unit=_same_unit(s, unit_row), period=chosen, tz=settings.tz),
            },
        ),
        kiosks=_shared_fragment(
            request,
            session,
            "dashboard/_kiosks.html",
            (unit_row.id,),
            lambda s: {"kiosks": service.kiosk_status(session=s, unit=_same_unit(s, unit_row))},
        ),
        comments=service.latest_comments(session=session, unit=unit_row, period=chosen),
        **_comment_filters(page, field_filter=""),
    )
    return render(page.request, "dashboard/index.html", "dashboard/_overview.html", context)


@router.get("/fields/{field_code}", response_class=HTMLResponse)
def field_page(page: UnitPageDep, field_code: str) -> HTMLResponse:
    """One field of a unit: its figures per child unit and per month, its reasons and its comments."""
    chosen = page.period
    drill = service.field_drilldown(
        session=page.session, settings=page.settings, unit=page.unit, period=chosen, field_code=field_code
    )
    context = page_context(page)
    context.update(
        drill=drill,
        chart=trend_chart(drill.months, drill.overall.target),
        comments=service.latest_comments(
            session=page.session, unit=page.unit, period=chosen, field_code=drill.field.code
        ),
        **_comment_filters(page, field_filter=drill.field.code),
    )
    return render(page.request, "dashboard/field.html", "dashboard/_field.html", context)


@router.get("/comments", response_class=HTMLResponse)
def comments_page(
    page: UnitPageDep, within: UnitQuery = None, field: FieldQuery = None, dossier: DossierQuery = None
) -> HTMLResponse:
    """Comments from dissatisfied citizens, filtered by a unit below the current one and by field; or one dossier's
    not-satisfied ratings (the QĐ 766 drill-down links here)."""
    session, chosen = page.session, page.period
    target = unit_in_scope(session=session, root=page.unit, code=within) if within else page.unit
    context = page_context(page)
    context.update(
        comments=service.latest_comments(
            session=session, unit=target, period=chosen, field_code=field or None, dossier_code=dossier or None
        ),
        dossier=dossier or "",
        comment_units=list(children(session=session, unit=page.unit)),
        comment_fields=_fields(session),
        within=within or "",
        field_filter=field or "",
    )
    return render(page.request, "dashboard/comments.html", "dashboard/_comments.html", context)


@router.get("/me", response_class=HTMLResponse)
def my_figures(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, Depends(require_role("officer"))],
    period: PeriodQuery = None,
) -> HTMLResponse:
    """An officer's own figures for a period, this year by default (the appraisal is yearly); never other officers',
    never comments. Each view of the appraisal line is audited (`appraisal.me`)."""
    officer = session.get(Officer, user.officer_id) if user.officer_id is not None else None
    chosen = appraisal_period(period, settings)
    row = None
    if officer is not None:
        unit_row = session.get(Unit, officer.unit_id)
        if unit_row is None:
            raise Forbidden("your officer record has no unit")
        rows = reports.report(session=session, settings=settings, unit=unit_row, period=chosen, by="officer").rows
        row = next((r for r in rows if r.key == officer.code), None)
    context = {
        "officer": officer,
        "row": row,
        "period": chosen,
        "choices": period_choices(today=today(settings), selected=chosen),
        "reasons": reports.reason_counts(session=session, counts=row.reasons if row else {}),
    }
    if officer is not None:  # the officer's own appraisal line (server/appraisal), never a colleague's
        lang = request_language(request)
        context.update(
            own_line(
                session=session,
                settings=settings,
                officer=officer,
                period=chosen,
                lang=lang,
                actor=user.username,
                ip=client_ip(request),
            )
        )
    return render(request, "dashboard/me.html", "dashboard/_me.html", context)


def _fields(session: Session) -> list[ProcedureField]:
    return list(session.exec(select(ProcedureField).order_by(col(ProcedureField.sort_order))).all())

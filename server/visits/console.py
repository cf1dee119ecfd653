"""The counter console: an officer picks the field, presses "invite rating", and prints the slip with its QR code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from server.auth.deps import CsrfDep, require_role
from server.config import Settings
from server.contracts import PRINTABLE
from server.deps import SessionDep, SettingsDep
from server.errors import AppError, Forbidden, NotFound
from server.i18n import request_language
from server.models import Counter, KioskDevice, ProcedureField, Unit, User, Visit
from server.templating import app_templates, is_htmx
from server.units.service import is_in_subtree, subtree_ids
from server.visits import service

router = APIRouter(prefix="/console", include_in_schema=False)

COUNTER_COOKIE = "hl_console_counter"
#: The field of the last invitation: preselected for the next one.
FIELD_COOKIE = "hl_console_field"
#: How often the console asks where an invitation stands while it waits for the kiosk and the citizen.
STATUS_POLL_SECONDS = 2
SLIP_FORMATS = ("80mm", "a6")
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class ConsoleOfficer:
    """The person at the counter: a logged-in officer, manager or admin, and the unit whose counters they serve."""

    user: User
    unit: Unit


#: The roles that may serve at a counter (managers and admins too, when their account has a unit).
CONSOLE_ROLES = ("officer", "manager", "admin")
require_console_role = require_role(*CONSOLE_ROLES)


def console_unit(*, session: Session, user: User) -> Unit:
    """The unit whose counters `user` serves; 403 for an account without one."""
    unit = session.get(Unit, user.unit_id) if user.unit_id is not None else None
    if unit is None:
        raise Forbidden(
            "your account has no unit, so it cannot use the counter console; ask an administrator to assign one"
        )
    return unit


def current_officer(user: Annotated[User, Depends(require_console_role)], session: SessionDep) -> ConsoleOfficer:
    """The logged-in console user (shared session: no session → the login page); 403 for other roles or no unit."""
    return ConsoleOfficer(user=user, unit=console_unit(session=session, user=user))


OfficerDep = Annotated[ConsoleOfficer, Depends(current_officer)]


def console_counters(*, session: Session, unit: Unit) -> list[Counter]:
    """The active counters of `unit` and its subtree, by code."""
    return list(
        session.exec(
            select(Counter)
            .where(col(Counter.unit_id).in_(subtree_ids(unit)), col(Counter.active).is_(True))
            .order_by(Counter.code)
        ).all()
    )


def active_fields(*, session: Session) -> list[ProcedureField]:
    """The procedure fields offered at the counter, in their display order."""
    return list(
        session.exec(
            select(ProcedureField)
            .where(col(ProcedureField.active).is_(True))
            .order_by(col(ProcedureField.sort_order), col(ProcedureField.id))
        ).all()
    )


def _slip_context(*, session: Session, settings: Settings, visit_token: str, slip_format: str) -> dict[str, Any]:
    visit = service.find_visit(session=session, token=visit_token)
    if visit is None:
        raise NotFound("unknown visit")
    details = service.visit_details(session=session, visit=visit)
    return {
        "details": details,
        "links": service.visit_links(settings=settings, token=visit.token),
        "expires_on": visit.expires_at.astimezone(settings.tz).strftime("%d/%m/%Y"),
        "created_at": visit.created_at.astimezone(settings.tz).strftime("%H:%M %d/%m/%Y"),
        "slip_format": slip_format if slip_format in SLIP_FORMATS else SLIP_FORMATS[0],
    }


@router.get("/login", response_class=HTMLResponse)
def old_login_page() -> Response:
    """The console's former login page: printed bookmarks go on to the shared login, then back to the console."""
    return RedirectResponse("/login?next=/console", status_code=303)


def _console_page(
    request: Request,
    session: Session,
    settings: Settings,
    officer: ConsoleOfficer,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    counters = console_counters(session=session, unit=officer.unit)
    chosen = request.cookies.get(COUNTER_COOKIE)
    counter = next((c for c in counters if c.code == chosen), counters[0] if counters else None)
    context = {
        "officer": officer,
        "counters": counters,
        "counter": counter,
        "fields": active_fields(session=session),
        "chosen_field": request.cookies.get(FIELD_COOKIE, ""),
        "recent": _recent(session=session, settings=settings, counter=counter, user=officer.user),
        "error": error,
    }
    return app_templates(request).TemplateResponse(
        request, "counter/console.html", context, status_code=status, headers=NO_STORE
    )


@router.get("", response_class=HTMLResponse)
def console_page(request: Request, session: SessionDep, settings: SettingsDep, officer: OfficerDep) -> Response:
    """The counter console: pick the counter and field, invite the citizen to rate."""
    return _console_page(request, session, settings, officer)


@router.post("/visits", response_class=HTMLResponse, dependencies=[CsrfDep])
def invite(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    officer: OfficerDep,
    counter: Annotated[str, Form(max_length=64, pattern=PRINTABLE)] = "",
    field: Annotated[str, Form(max_length=64, pattern=PRINTABLE)] = "",
    procedure_code: Annotated[str, Form(max_length=64, pattern=PRINTABLE)] = "",
    dossier_code: Annotated[str, Form(max_length=128, pattern=PRINTABLE)] = "",
) -> Response:
    """Create the visit ("invite rating"): the slip with its QR code (the kiosk at that counter shows the form)."""
    try:
        visit = service.create_visit(
            session=session,
            settings=settings,
            scope=officer.unit,
            counter_code=counter,
            field_code=field,
            procedure_code=procedure_code.strip() or None,
            dossier_code=dossier_code.strip() or None,
            officer_id=officer.user.officer_id,
            creator=service.VisitCreator.session_of(officer.user),
        )
    except AppError as exc:
        message = exc.in_language(request_language(request))
        if is_htmx(request):
            return app_templates(request).TemplateResponse(
                request, "counter/_invite_error.html", {"message": message}, status_code=exc.status_code
            )
        return _console_page(request, session, settings, officer, error=message, status=exc.status_code)
    response: Response
    if is_htmx(request):
        context = _slip_context(session=session, settings=settings, visit_token=visit.token, slip_format="80mm")
        context.update(_status_context(session=session, settings=settings, visit=visit, recent_for=officer.user))
        response = app_templates(request).TemplateResponse(
            request, "counter/_invited.html", context, status_code=201, headers=NO_STORE
        )
    else:
        response = RedirectResponse(f"/console/visits/{visit.token}", status_code=303)
    response.set_cookie(COUNTER_COOKIE, counter, path="/console", max_age=365 * 86400, samesite="lax", httponly=True)
    response.set_cookie(FIELD_COOKIE, field, path="/console", max_age=365 * 86400, samesite="lax", httponly=True)
    return response


@router.get("/visits/{token}", response_class=HTMLResponse)
def slip_page(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    officer: OfficerDep,
    format: str = "80mm",
) -> Response:
    """A visit's printable slip (80 mm thermal receipt or A6) with its QR code and short link: only for the user who
    registered the visit (a colleague's or the one-stop system's visit is 404, so nobody rates it for the citizen)."""
    context = _slip_context(session=session, settings=settings, visit_token=token, slip_format=format)
    visit = context["details"].visit
    if visit.created_by_user_id != officer.user.id or not is_in_subtree(
        unit=context["details"].unit, root=officer.unit
    ):
        raise NotFound("unknown visit")
    context["officer"] = officer
    context.update(_status_context(session=session, settings=settings, visit=context["details"].visit))
    name = "counter/_slip.html" if is_htmx(request) else "counter/slip.html"
    return app_templates(request).TemplateResponse(request, name, context, headers=NO_STORE)


# --- where an invitation stands: shown on the kiosk, rated, declined; cancelling it -------------------------------


def _recent(*, session: Session, settings: Settings, counter: Counter | None, user: User) -> list[tuple[str, str, str]]:
    """`user`'s latest invitations at the counter (never a colleague's): (token, local time, progress state)."""
    if counter is None:
        return []
    return [
        (
            v.token,
            v.created_at.astimezone(settings.tz).strftime("%H:%M %d/%m/%Y"),
            service.visit_progress(session=session, visit=v),
        )
        for v in service.recent_visits(session=session, counter=counter, user=user)
    ]


def _status_context(
    *, session: Session, settings: Settings, visit: Visit, recent_for: User | None = None
) -> dict[str, Any]:
    state = service.visit_progress(session=session, visit=visit)
    kiosks = session.exec(
        select(KioskDevice.id).where(KioskDevice.counter_id == visit.counter_id, col(KioskDevice.revoked_at).is_(None))
    ).first()
    context: dict[str, Any] = {
        "status_token": visit.token,
        "status_state": state,
        "status_has_kiosk": kiosks is not None,
        "status_poll_seconds": STATUS_POLL_SECONDS,
    }
    if recent_for is not None:
        counter = session.get(Counter, visit.counter_id)
        context["recent"] = _recent(session=session, settings=settings, counter=counter, user=recent_for)
    return context


def _officer_visit(*, session: Session, officer: ConsoleOfficer, token: str) -> Visit:
    """A visit the officer registered, at a counter of their unit or its subtree (else 404, as for an unknown one:
    a colleague's or the one-stop system's visit stays out of reach, its token with it)."""
    visit = service.find_visit(session=session, token=token)
    if visit is None or visit.created_by_user_id != officer.user.id:
        raise NotFound("unknown visit")
    if not is_in_subtree(unit=service.visit_details(session=session, visit=visit).unit, root=officer.unit):
        raise NotFound("unknown visit")
    return visit


def _status_response(
    request: Request,
    session: Session,
    settings: Settings,
    visit: Visit,
    user: User,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = _status_context(session=session, settings=settings, visit=visit, recent_for=user)
    context["status_error"] = error
    return app_templates(request).TemplateResponse(
        request, "counter/_visit_status.html", context, status_code=status, headers=NO_STORE
    )


@router.get("/visits/{token}/status", response_class=HTMLResponse)
def visit_status(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    officer: OfficerDep,
    seen: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """Where an invitation stands (polled by htmx while it waits): shown on the kiosk, rated, declined, cancelled
    or expired; with the counter's recent list, refreshed out of band. Nothing (204) while it is still `seen`."""
    visit = _officer_visit(session=session, officer=officer, token=token)
    if seen and service.visit_progress(session=session, visit=visit) == seen:
        return Response(status_code=204, headers=NO_STORE)
    return _status_response(request, session, settings, visit, officer.user)


@router.post("/visits/{token}/cancel", response_class=HTMLResponse, dependencies=[CsrfDep])
def cancel(token: str, request: Request, session: SessionDep, settings: SettingsDep, officer: OfficerDep) -> Response:
    """Withdraw an invitation nobody rated yet: the kiosk leaves its faces, the slip's link stops working."""
    visit = _officer_visit(session=session, officer=officer, token=token)
    try:
        service.cancel_visit(session=session, visit=visit)
    except AppError as exc:
        message = exc.in_language(request_language(request))
        if is_htmx(request):
            return _status_response(
                request, session, settings, visit, officer.user, error=message, status=exc.status_code
            )
        return _console_page(request, session, settings, officer, error=message, status=exc.status_code)
    if is_htmx(request):
        return _status_response(request, session, settings, visit, officer.user)
    return RedirectResponse("/console", status_code=303)

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
from server.db import utcnow
from server.deps import SessionDep, SettingsDep
from server.errors import AppError, Forbidden, Gone, NotFound
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


def _slip_context(*, session: Session, settings: Settings, visit: Visit, slip_format: str) -> dict[str, Any]:
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
        context = _slip_context(session=session, settings=settings, visit=visit, slip_format="80mm")
        context.update(_status_context(session=session, settings=settings, visit=visit, recent_for=officer.user))
        response = app_templates(request).TemplateResponse(
            request, "counter/_invited.html", context, status_code=201, headers=NO_STORE
        )
    else:
        response = RedirectResponse(f"/console/visits/{visit.token}", status_code=303)
    response.set_cookie(COUNTER_COOKIE, counter, path="/console", max_age=365 * 86400, samesite="lax", httponly=True)
    response.set_cookie(FIELD_COOKIE, field, path="/console", max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def _slip_response(
    request: Request, session: Session, settings: Settings, officer: ConsoleOfficer, visit: Visit, slip_format: str
) -> Response:
    """The slip of one of the officer's visits while it is open (`service.slip_open`: minutes after the invitation,
    not rated); else a friendly 410 that names no token: a slip reopened later would let its holder rate a visit
    the citizen left unrated."""
    state = service.visit_progress(session=session, visit=visit)
    if not service.slip_open(settings=settings, visit=visit, state=state):
        gone = Gone(
            "this slip can no longer be shown: a slip is shown only for {minutes} minutes after the invitation, and "
            "only until the visit is rated",
            minutes=settings.slip_minutes,
        )
        message = gone.in_language(request_language(request))
        name = "counter/_invite_error.html" if is_htmx(request) else "counter/slip_gone.html"
        return app_templates(request).TemplateResponse(
            request, name, {"officer": officer, "message": message}, status_code=gone.status_code, headers=NO_STORE
        )
    context = _slip_context(session=session, settings=settings, visit=visit, slip_format=slip_format)
    context["officer"] = officer
    context.update(_status_context(session=session, settings=settings, visit=visit))
    name = "counter/_slip.html" if is_htmx(request) else "counter/slip.html"
    return app_templates(request).TemplateResponse(request, name, context, headers=NO_STORE)


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
    registered the visit (a colleague's or the one-stop system's visit is 404, so nobody rates it for the citizen),
    and only while the slip is open (`HAILONG_SLIP_MINUTES` after the invitation, not rated; else 410)."""
    visit = _officer_visit(session=session, officer=officer, token=token)
    return _slip_response(request, session, settings, officer, visit, format)


@router.get("/slips/{visit_id}", response_class=HTMLResponse)
def recent_slip_page(
    visit_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    officer: OfficerDep,
    format: str = "80mm",
) -> Response:
    """The slip of a visit in the recent list, addressed by its id (the list never carries a token): the same rules as
    `slip_page`."""
    visit = session.get(Visit, visit_id) if 0 < visit_id < 2**63 else None
    return _slip_response(
        request, session, settings, officer, _own_visit(session=session, officer=officer, visit=visit), format
    )


# --- where an invitation stands: shown on the kiosk, rated, declined; cancelling it -------------------------------


def _recent(
    *, session: Session, settings: Settings, counter: Counter | None, user: User
) -> list[tuple[int | None, str, str]]:
    """`user`'s latest invitations at the counter (never a colleague's): (the visit's id while its slip is open, else
    None; local time; progress state). Never a token: the list stays on screen, the slip is for the citizen."""
    if counter is None:
        return []
    now = utcnow()
    recent = []
    for v in service.recent_visits(session=session, counter=counter, user=user):
        state = service.visit_progress(session=session, visit=v, now=now)
        open_id = v.id if service.slip_open(settings=settings, visit=v, state=state, now=now) else None
        recent.append((open_id, v.created_at.astimezone(settings.tz).strftime("%H:%M %d/%m/%Y"), state))
    return recent


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


def _own_visit(*, session: Session, officer: ConsoleOfficer, visit: Visit | None) -> Visit:
    """`visit` if the officer registered it, at a counter of their unit or its subtree (else 404, as for an unknown
    one: a colleague's or the one-stop system's visit stays out of reach, its token with it)."""
    if visit is None or visit.created_by_user_id != officer.user.id:
        raise NotFound("unknown visit")
    if not is_in_subtree(unit=service.visit_details(session=session, visit=visit).unit, root=officer.unit):
        raise NotFound("unknown visit")
    return visit


def _officer_visit(*, session: Session, officer: ConsoleOfficer, token: str) -> Visit:
    """The visit of `token` if the officer registered it (`_own_visit`), else 404."""
    return _own_visit(session=session, officer=officer, visit=service.find_visit(session=session, token=token))


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

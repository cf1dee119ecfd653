"""The counter console: an officer picks the field, presses "invite rating", and prints the slip with its QR code."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, select

from server.config import Settings
from server.deps import SessionDep, SettingsDep
from server.errors import AppError, NotFound, TooManyRequests
from server.models import Counter, ProcedureField, Unit
from server.templating import is_htmx
from server.units.service import is_in_subtree, subtree_ids
from server.visits import console_auth, service
from server.visits.console_auth import OfficerDep, OptionalOfficerDep
from server.visits.limiter import app_limiter

router = APIRouter(prefix="/console", include_in_schema=False)

COUNTER_COOKIE = "hl_console_counter"
SLIP_FORMATS = ("80mm", "a6")
#: Failed console logins one address may make per quarter hour (each worker counts on its own).
LOGIN_FAILURE_LIMIT = 20
LOGIN_FAILURE_WINDOW = 900
NO_STORE = {"Cache-Control": "no-store"}


def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _safe_next(value: str | None) -> str:
    """Only console pages are valid destinations after login (no open redirect)."""
    if value and value.startswith("/console") and "//" not in value and "\\" not in value:
        return value
    return "/console"


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


def _login_form(
    request: Request, settings: Settings, *, next_url: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    token, fresh_nonce = console_auth.login_form_token(settings=settings, request=request)
    response = _templates(request).TemplateResponse(
        request,
        "counter/login.html",
        {"csrf": token, "next": next_url, "error": error},
        status_code=status,
        headers=NO_STORE,
    )
    if fresh_nonce:
        console_auth.set_login_nonce(settings=settings, response=response, nonce=fresh_nonce)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, settings: SettingsDep, officer: OptionalOfficerDep, next: str = "") -> Response:
    """The console's login form."""
    if officer is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, settings, next_url=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=512)] = "/console",
) -> Response:
    """Check the username and password; start a console login and go on to the console."""
    limiter = app_limiter(request.app.state, "console_login", limit=LOGIN_FAILURE_LIMIT, window=LOGIN_FAILURE_WINDOW)
    verdict = limiter.check(_client(request))
    if not verdict.allowed:
        raise TooManyRequests(
            "too many failed logins from this address; try again later",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    console_auth.check_login_csrf(settings=settings, request=request, token=csrf)
    user = console_auth.authenticate(session=session, username=username, password=password)
    if user is None:
        limiter.fail(_client(request))
        return _login_form(
            request,
            settings,
            next_url=_safe_next(next),
            error="Tên đăng nhập hoặc mật khẩu không đúng, hoặc tài khoản không dùng được quầy.",
            status=400,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    console_auth.log_in(session=session, settings=settings, response=response, user=user, ip=_client(request))
    return response


@router.post("/logout")
def logout(officer: OptionalOfficerDep, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
    """End the console login."""
    if officer is not None:
        console_auth.check_csrf(officer, csrf)
    response = RedirectResponse("/console/login", status_code=303)
    console_auth.log_out(response)
    return response


def _console_page(
    request: Request,
    session: Session,
    settings: Settings,
    officer: console_auth.ConsoleOfficer,
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
        "recent": [
            (v.token, v.created_at.astimezone(settings.tz).strftime("%H:%M %d/%m/%Y"), v.rated_at is not None)
            for v in (service.recent_visits(session=session, counter=counter) if counter else [])
        ],
        "error": error,
    }
    return _templates(request).TemplateResponse(
        request, "counter/console.html", context, status_code=status, headers=NO_STORE
    )


@router.get("", response_class=HTMLResponse)
def console_page(request: Request, session: SessionDep, settings: SettingsDep, officer: OfficerDep) -> Response:
    """The counter console: pick the counter and field, invite the citizen to rate."""
    return _console_page(request, session, settings, officer)


@router.post("/visits", response_class=HTMLResponse)
def invite(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    officer: OfficerDep,
    counter: Annotated[str, Form(max_length=64)] = "",
    field: Annotated[str, Form(max_length=64)] = "",
    procedure_code: Annotated[str, Form(max_length=64)] = "",
    dossier_code: Annotated[str, Form(max_length=128)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """Create the visit ("invite rating"): the slip with its QR code (the kiosk at that counter shows the form)."""
    console_auth.check_csrf(officer, csrf)
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
        )
    except AppError as exc:
        if is_htmx(request):
            return _templates(request).TemplateResponse(
                request, "counter/_invite_error.html", {"message": exc.message}, status_code=exc.status_code
            )
        return _console_page(request, session, settings, officer, error=exc.message, status=exc.status_code)
    response: Response
    if is_htmx(request):
        context = _slip_context(session=session, settings=settings, visit_token=visit.token, slip_format="80mm")
        response = _templates(request).TemplateResponse(
            request, "counter/_slip.html", context, status_code=201, headers=NO_STORE
        )
    else:
        response = RedirectResponse(f"/console/visits/{visit.token}", status_code=303)
    response.set_cookie(COUNTER_COOKIE, counter, path="/console", max_age=365 * 86400, samesite="lax", httponly=True)
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
    """A visit's printable slip (80 mm thermal receipt or A6) with its QR code and short link."""
    context = _slip_context(session=session, settings=settings, visit_token=token, slip_format=format)
    if not is_in_subtree(unit=context["details"].unit, root=officer.unit):
        raise NotFound("unknown visit")
    context["officer"] = officer
    name = "counter/_slip.html" if is_htmx(request) else "counter/slip.html"
    return _templates(request).TemplateResponse(request, name, context, headers=NO_STORE)

"""Login and logout pages (username + password; server-side sessions)."""

from __future__ import annotations

import asyncio
import os
import secrets
import weakref
from datetime import timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.admission import outside_admission
from server.auth.deps import CurrentUser, verify_csrf
from server.auth.service import audit
from server.auth.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginAttempt,
    LoginOutcome,
    begin_login,
    check_password,
    end_session,
    finish_login,
    login_csrf_token_for,
    purge_expired,
    tokens_match,
)
from server.config import Settings
from server.deps import SessionDep, SettingsDep, client_ip
from server.errors import Forbidden
from server.models import User

router = APIRouter(include_in_schema=False)


def home_for(user: User) -> str:
    """Where a user lands after logging in."""
    return "/dashboard/me" if user.role == "officer" else "/dashboard"


def safe_next(target: str | None) -> str | None:
    """A same-site path to return to after login (never another host: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _cookie_flags(settings: Settings) -> dict[str, object]:
    # Secure whenever the public address is https (behind the documented TLS proxy), not only in production.
    secure = settings.environment == "production" or settings.public_base_url.lower().startswith("https://")
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


def _login_page(
    request: Request,
    settings: Settings,
    *,
    status_code: int = 200,
    error: str | None = None,
    username: str = "",
    next_url: str | None = None,
) -> HTMLResponse:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request,
        "auth/login.html",
        {
            "login_csrf": login_csrf_token_for(settings.secret_key, nonce),
            "error": error,
            "username": username,
            "next_url": next_url or "",
        },
        status_code=status_code,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, nonce, max_age=3600, **_cookie_flags(settings))  # type: ignore[arg-type]
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    """The login form (also for a logged-in user: logging in again replaces the session)."""
    return _login_page(request, settings, next_url=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Check the password; on success a new session id (never the old one) and a redirect.

    In three steps, so that no transaction is open while the password is checked (argon2, 0.3-0.6 s): count the
    attempt and read the account (short), check the password (no transaction, no connection), record the outcome
    (short). Async, so that a slowed-down attempt waits without holding a worker thread (issue 19, findings 1, 3).
    """
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not nonce or not tokens_match(csrf_token, login_csrf_token_for(settings.secret_key, nonce)):
        raise Forbidden("the login form has expired; reload the page and try again")
    ip = client_ip(request)
    attempt = await anyio.to_thread.run_sync(_begin, session, username, ip)
    if attempt.throttled:
        return _login_page(
            request,
            settings,
            status_code=429,
            error="Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau một phút.",
            username=username,
            next_url=safe_next(next),
        )
    async with outside_admission(request.scope):  # no transaction is open: wait without holding a slot
        if attempt.slowdown:
            await anyio.sleep(attempt.slowdown)
        valid = await anyio.to_thread.run_sync(check_password, attempt, password, limiter=_password_checks())
    idle, absolute = timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_max_hours)

    def finish() -> LoginOutcome:
        purge_expired(session=session, idle=idle, absolute=absolute)
        return finish_login(
            session=session,
            attempt=attempt,
            valid=valid,
            ip=ip,
            user_agent=request.headers.get("user-agent", ""),
            previous_session_id=request.cookies.get(SESSION_COOKIE),
        )

    outcome = await anyio.to_thread.run_sync(finish)
    if outcome.user is None or outcome.session_id is None:
        return _login_page(
            request,
            settings,
            status_code=401,
            error="Tên đăng nhập hoặc mật khẩu không đúng.",
            username=username,
            next_url=safe_next(next),
        )
    response = RedirectResponse(safe_next(next) or home_for(outcome.user), status_code=303)
    response.set_cookie(SESSION_COOKIE, outcome.session_id, **_cookie_flags(settings))  # type: ignore[arg-type]
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


#: Password checks (argon2: 64 MB and 0.3-0.6 s of CPU each) running at once per worker; the others wait without a
#: thread. 32 parallel logins otherwise shared the cores with everything else, and kiosk batches took seconds.
PASSWORD_CHECKS_AT_ONCE = max(1, (os.cpu_count() or 2) // 2)


_PASSWORD_CHECKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _password_checks() -> anyio.CapacityLimiter:
    """The worker's limiter, one per event loop (made in it on first use; tests run several loops)."""
    loop = asyncio.get_running_loop()
    limiter = _PASSWORD_CHECKS.get(loop)
    if limiter is None:
        limiter = _PASSWORD_CHECKS[loop] = anyio.CapacityLimiter(PASSWORD_CHECKS_AT_ONCE)
    return limiter


def _begin(session: Session, username: str, ip: str | None) -> LoginAttempt:
    """Count the attempt and read the account, then end the transaction (the request's, committed here early)."""
    attempt = begin_login(session=session, username=username, ip=ip)
    session.commit()
    return attempt


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request, session: SessionDep, settings: SettingsDep, user: CurrentUser) -> Response:
    """End the session on the server (a replayed cookie is then worthless) and forget the cookie."""
    end_session(session=session, session_id=request.cookies.get(SESSION_COOKIE, ""))
    audit(session=session, actor=user.username, action="logout", target=user.username, ip=client_ip(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response

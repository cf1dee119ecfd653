"""A deliberately small login for the counter console, kept apart so the shared session system can replace it.

`current_officer` is the one dependency the console (and `POST /api/v1/visits` from a browser) relies on. Here it
is backed by a stateless cookie signed with HMAC-SHA256 and the settings' secret key; the cookie carries the user
id, a per-login nonce, a fingerprint of the password hash (changing the password ends every login) and an expiry.
Every request re-reads the user, so deactivating an account ends its logins at once. CSRF tokens on the console's
forms are the HMAC of the login's nonce; the login form itself uses a signed double-submit cookie.
To swap in the shared accounts system, re-implement `current_officer`/`optional_officer` on top of it (keeping
`ConsoleOfficer`'s fields) and point the login/logout links at its pages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from sqlmodel import Session, select

from server.auth.service import audit, password_hash
from server.config import Settings
from server.db import utcnow
from server.deps import SessionDep, SettingsDep
from server.errors import AppError, Forbidden, Unauthorized
from server.models import ROLES, Unit, User
from server.visits import signing

SESSION_COOKIE = "hl_console"
LOGIN_NONCE_COOKIE = "hl_console_login"
SESSION_PURPOSE = "console-session"
CSRF_PURPOSE = "console-csrf"
LOGIN_CSRF_PURPOSE = "console-login-csrf"
CSRF_HEADER = "X-CSRF-Token"
_DUMMY_HASH = password_hash.hash("an unused password, to spend the same time on unknown users")


@dataclass(frozen=True)
class ConsoleOfficer:
    """The person logged in to the counter console: an officer, manager or admin with a unit."""

    user: User
    unit: Unit
    csrf_token: str


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _secure(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """The active console user with this username and password, or None (same work either way)."""
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        password_hash.verify(password, _DUMMY_HASH)
        return None
    if not password_hash.verify(password, user.password_hash):
        return None
    if not user.active or user.role not in ROLES or user.unit_id is None:
        return None
    return user


def log_in(*, session: Session, settings: Settings, response: Response, user: User, ip: str | None) -> None:
    """Start a console login for `user`: set the signed session cookie and record it."""
    payload = {"u": user.id, "n": signing.new_nonce(), "p": _password_fingerprint(user)}
    max_age = settings.console_session_hours * 3600
    value = signing.dumps(settings.secret_key, SESSION_PURPOSE, payload, max_age_seconds=max_age)
    response.set_cookie(
        SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=_secure(settings)
    )
    response.delete_cookie(LOGIN_NONCE_COOKIE, path="/console")
    user.last_login_at = utcnow()
    audit(session=session, actor=user.username, action="console.login", ip=ip)


def log_out(response: Response) -> None:
    """End the console login (the cookie is the whole session)."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def optional_officer(request: Request, session: SessionDep, settings: SettingsDep) -> ConsoleOfficer | None:
    """The logged-in console user, or None when there is no valid login."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    payload = signing.loads(settings.secret_key, SESSION_PURPOSE, value)
    if payload is None or not isinstance(payload.get("u"), int) or not isinstance(payload.get("n"), str):
        return None
    user = session.get(User, payload["u"])
    if user is None or not user.active or user.role not in ROLES or user.unit_id is None:
        return None
    if payload.get("p") != _password_fingerprint(user):
        return None
    unit = session.get(Unit, user.unit_id)
    if unit is None:
        return None
    csrf = signing.sign(settings.secret_key, CSRF_PURPOSE, payload["n"])
    return ConsoleOfficer(user=user, unit=unit, csrf_token=csrf)


def current_officer(
    request: Request, officer: Annotated[ConsoleOfficer | None, Depends(optional_officer)]
) -> ConsoleOfficer:
    """The logged-in console user; otherwise 401 for the API and htmx, a 303 to the login page for pages."""
    if officer is not None:
        return officer
    if request.url.path.startswith("/api/"):
        raise Unauthorized("log in to the counter console first (/console/login)")
    login = f"/console/login?next={quote(request.url.path)}"
    if request.headers.get("HX-Request") == "true":  # htmx navigates the whole page on HX-Redirect
        raise Unauthorized("your console login has ended; log in again", headers={"HX-Redirect": login})
    raise AppError("log in to the counter console first", status_code=303, headers={"Location": login})


def check_csrf(officer: ConsoleOfficer, token: str | None) -> None:
    """403 unless `token` is this login's CSRF token."""
    if not token or not signing.verify_equal(officer.csrf_token, token):
        raise Forbidden("the form has expired or did not come from this site; reload the page and try again")


def login_form_token(*, settings: Settings, request: Request) -> tuple[str, str | None]:
    """The login form's CSRF token, and the nonce to set as a cookie when the browser has none yet."""
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE) or ""
    fresh = None
    if len(nonce) < 16:
        nonce = fresh = signing.new_nonce()
    return signing.sign(settings.secret_key, LOGIN_CSRF_PURPOSE, nonce), fresh


def set_login_nonce(*, settings: Settings, response: Response, nonce: str) -> None:
    """Give the browser the login form's nonce cookie."""
    response.set_cookie(
        LOGIN_NONCE_COOKIE, nonce, path="/console", httponly=True, samesite="strict", secure=_secure(settings)
    )


def check_login_csrf(*, settings: Settings, request: Request, token: str | None) -> None:
    """403 unless the login form's token matches its nonce cookie."""
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE) or ""
    if not nonce or not token or not signing.verify(settings.secret_key, LOGIN_CSRF_PURPOSE, token, nonce):
        raise Forbidden("the login form has expired or cookies are blocked; reload the page and try again")


OfficerDep = Annotated[ConsoleOfficer, Depends(current_officer)]
OptionalOfficerDep = Annotated[ConsoleOfficer | None, Depends(optional_officer)]

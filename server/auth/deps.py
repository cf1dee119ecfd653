"""Who is calling: the logged-in user (session cookie), their role and unit scope, CSRF checks, read API keys.

Reuse these in every surface that people log in to:

- `CurrentUser` — the logged-in user; browsers without a session are sent to `/login`, API clients get 401.
- `require_role("admin", "manager")` — the same, and 403 for other roles (`AdminUser`, `ManagerUser` are aliases).
- `verify_csrf` — put `dependencies=[Depends(verify_csrf)]` on a router: every POST/PUT/PATCH/DELETE must carry the
  session's token in the `csrf_token` form field or the `X-CSRF-Token` header (htmx sends it from the page's meta tag).
- `visible_root(session=…, user=…)` — the unit whose subtree a user may see (None: everything, for admins).
- `ReaderDep` — a manager/admin session or an `Authorization: Bearer <read key>`: for indices and exports.
- `FiguresAsked` — what a figures route was asked for (the unit within the reader's scope, the period) and by whom,
  built by the route's own dependency from its query parameters; `audit(action)` records the read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, col, select

from server.auth.service import api_key_from_token, audit, bearer_token
from server.auth.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_token_for,
    resolve_session,
    tokens_match,
)
from server.config import Settings
from server.deps import SessionDep, SettingsDep, client_ip
from server.errors import Forbidden, NotFound, Unauthorized, error_response, error_responses, wants_json
from server.indices.periods import Period
from server.models import LoginSession, Unit, User
from server.units.service import get_unit, is_in_subtree

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Unauthorized):
    """No live session: browsers are redirected to the login page, API clients get 401."""


class CsrfFailed(Forbidden):
    """A state-changing request without the session's CSRF token."""


@dataclass(frozen=True)
class Auth:
    """The live login session of a request."""

    session_id: str
    login_session: LoginSession
    user: User
    csrf_token: str


async def get_auth(request: Request, session: SessionDep, settings: SettingsDep) -> Auth | None:
    """The request's live session, or None (expired and unknown cookies count as none).

    Async: a request without a session cookie (API keys, kiosks, integrations) needs no trip through the thread
    pool for it; only looking a cookie up in the database goes there.
    """
    cached: Auth | None = getattr(request.state, "auth", None)
    if cached is not None:
        return cached
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > 128:
        return None
    found = await anyio.to_thread.run_sync(
        lambda: resolve_session(
            session=session,
            session_id=session_id,
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_max_hours),
        )
    )
    if found is None:
        return None
    auth = Auth(session_id, found[0], found[1], csrf_token_for(settings.secret_key, session_id))
    request.state.auth = auth  # templates read it for the CSRF meta tag and the user menu
    return auth


AuthDep = Annotated[Auth | None, Depends(get_auth)]


async def get_current_user(auth: AuthDep) -> User:
    """The logged-in user, or `LoginRequired` (async: pure, so no trip through the thread pool)."""
    if auth is None:
        raise LoginRequired("please log in")
    return auth.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: str) -> Callable[[User], Awaitable[User]]:
    """A dependency giving the logged-in user when their role is one of `roles` (403 otherwise)."""

    async def _dependency(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden("your account does not have access to this page")
        return user

    _dependency.__name__ = f"require_role_{'_'.join(roles)}"
    return _dependency


require_admin = require_role("admin")
require_manager = require_role("admin", "manager")
AdminUser = Annotated[User, Depends(require_admin)]
ManagerUser = Annotated[User, Depends(require_manager)]


async def verify_csrf(request: Request, auth: AuthDep) -> None:
    """Refuse (403) a state-changing request that lacks the session's CSRF token (form field or header)."""
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # cached by Starlette: the handler's Form() parameters still see it
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if auth is None:
        raise LoginRequired("please log in")
    if not tokens_match(given, auth.csrf_token):
        raise CsrfFailed("the form has expired or did not come from this site; reload the page and try again")


CsrfDep = Depends(verify_csrf)


def visible_root(*, session: Session, user: User) -> Unit | None:
    """The unit whose subtree `user` may see; None means every unit (admins without a unit)."""
    if user.role == "admin":
        return None
    unit = session.get(Unit, user.unit_id) if user.unit_id is not None else None
    if unit is None:
        raise Forbidden("your account has no unit; ask an administrator")
    return unit


def default_unit(*, session: Session, root: Unit | None) -> Unit:
    """The unit a page opens on: the scope root, or for admins the first top-level unit."""
    if root is not None:
        return root
    unit = session.exec(select(Unit).where(col(Unit.parent_id).is_(None)).order_by(col(Unit.id))).first()
    if unit is None:
        raise NotFound("there are no units yet; import them under Quản trị → Đơn vị")
    return unit


def unit_in_scope(*, session: Session, root: Unit | None, code: str | None) -> Unit:
    """The unit `code` (default: the scope's root) if it lies within `root`'s subtree; 404 unknown, 403 outside."""
    if not code:
        return default_unit(session=session, root=root)
    unit = get_unit(session=session, code=code)
    if root is not None and not is_in_subtree(unit=unit, root=root):
        raise Forbidden("unit {code!r} is outside the units you may see", code=code)
    return unit


@dataclass(frozen=True)
class Reader:
    """Someone allowed to read figures: a manager/admin session or a `read` API key, with the subtree it covers."""

    actor: str
    root: Unit | None
    user: User | None = None

    def unit(self, *, session: Session, code: str | None) -> Unit:
        """The unit `code` if this reader may see it (default: the reader's root)."""
        return unit_in_scope(session=session, root=self.root, code=code)


@dataclass(frozen=True)
class FiguresAsked:
    """A read of one unit's figures (a report, an appraisal): the request, the reader, and the unit (within the
    reader's scope) and period asked for. Each route builds it from its own query parameters."""

    request: Request
    session: Session
    settings: Settings
    reader: Reader
    unit: Unit
    period: Period

    def audit(self, action: str) -> None:
        """Record that the reader read these figures (who, which unit and period, from where)."""
        audit(
            session=self.session,
            actor=self.reader.actor,
            action=action,
            target=self.unit.code,
            detail=self.period.code,
            ip=client_ip(self.request),
        )


read_key = HTTPBearer(
    auto_error=False,
    scheme_name="ReadKey",
    description="A read key for a unit and its subtree: `hailong apikey create --kind read --unit CODE`.",
)


def get_reader(
    session: SessionDep,
    auth: AuthDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(read_key)],
) -> Reader:
    """A read API key (`Authorization: Bearer`) or a logged-in manager/admin; 401/403 otherwise."""
    if credentials is not None:
        header = f"{credentials.scheme} {credentials.credentials}"
        key, unit = api_key_from_token(session=session, token=bearer_token(header), kind="read")
        return Reader(actor=f"apikey:{key.prefix}", root=unit)
    if auth is None:
        raise LoginRequired("log in, or send Authorization: Bearer <read key>")
    if auth.user.role not in ("admin", "manager"):
        raise Forbidden("only managers and administrators may read unit figures")
    return Reader(actor=auth.user.username, root=visible_root(session=session, user=auth.user), user=auth.user)


ReaderDep = Annotated[Reader, Depends(get_reader)]


def reader_errors(invalid: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a figures route read with `ReaderDep` (a unit and a period); `invalid`: what its 422 means."""
    return error_responses(
        401,
        403,
        404,
        422,
        s401="No read key or manager session, or an unknown, revoked or wrong kind of key",
        s403="The unit lies outside the caller's subtree, or the account may not read figures",
        s404="Unknown unit",
        s422=invalid,
    )


def login_redirect(request: Request) -> Response:
    """Send a browser to the login page, remembering where it wanted to go (htmx: a full-page redirect)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def install_auth_handlers(app: FastAPI) -> None:
    """Browsers without a session go to the login page; API clients get the usual JSON 401."""

    async def _login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        if wants_json(request):
            return error_response(request, 401, exc.text, {"WWW-Authenticate": "Bearer", **(exc.headers or {})})
        return login_redirect(request)

    handler: Callable[[Request, Exception], Awaitable[Response]] = _login_required
    app.add_exception_handler(LoginRequired, handler)

"""Server-side login sessions, password login with throttling, and CSRF tokens.

The session cookie carries a 256-bit random id; the database keeps only its SHA-256, so a leaked table does not
let anyone log in. A session ends after `session_idle_minutes` without a request or `session_max_hours` after
login, whichever comes first, and at logout (the row is deleted, so a replayed cookie is worthless).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from server.auth.service import audit, password_hash
from server.db import utcnow
from server.models import AuditLog, LoginSession, User
from server.tables import LOGIN_SESSION

SESSION_COOKIE = "hl_session"
LOGIN_CSRF_COOKIE = "hl_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

#: Failed logins allowed per username and per address within `THROTTLE_WINDOW`; the next attempt gets 429.
MAX_FAILED_LOGINS = 10
THROTTLE_WINDOW = timedelta(minutes=1)
#: `last_seen_at` is written at most this often (one write per request would be wasteful).
TOUCH_EVERY = timedelta(seconds=30)

LOGIN_FAILED = "login.failed"


def session_id_hash(session_id: str) -> str:
    """SHA-256 (hex) of a session id: what the table stores."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token_for(secret_key: str, session_id: str) -> str:
    """The CSRF token of a session: an HMAC of its id, so it needs no storage and dies with the session."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def login_csrf_token_for(secret_key: str, nonce: str) -> str:
    """The CSRF token of the login form, bound to a random pre-login cookie (login CSRF protection)."""
    return hmac.new(secret_key.encode(), b"login:" + nonce.encode(), hashlib.sha256).hexdigest()


def tokens_match(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


@cache
def _dummy_hash() -> str:
    return password_hash.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt led to: a user and a new session id, or the reason it failed."""

    user: User | None
    session_id: str | None
    throttled: bool = False


def failed_logins(*, session: Session, username: str, ip: str | None, now: datetime) -> int:
    """Failed logins within the throttle window for this username or this address (from the audit log)."""
    who = col(AuditLog.target) == username
    if ip:
        who = sa.or_(who, col(AuditLog.ip) == ip)
    stmt = (
        sa.select(sa.func.count())
        .select_from(AuditLog)
        .where(col(AuditLog.action) == LOGIN_FAILED, col(AuditLog.at) > now - THROTTLE_WINDOW, who)
    )
    return int(session.execute(stmt).scalar_one())


def login(
    *,
    session: Session,
    username: str,
    password: str,
    ip: str | None,
    user_agent: str = "",
    previous_session_id: str | None = None,
) -> LoginOutcome:
    """Check a password (same work for unknown users), throttle guessing, and open a fresh session on success."""
    now = utcnow()
    username = username.strip()[:64]
    if failed_logins(session=session, username=username, ip=ip, now=now) >= MAX_FAILED_LOGINS:
        audit(session=session, actor=username or "?", action="login.throttled", target=username, ip=ip)
        session.flush()
        return LoginOutcome(None, None, throttled=True)
    user = session.exec(select(User).where(User.username == username)).first() if username else None
    # Verify against a dummy hash for unknown users, so the time taken does not reveal which names exist.
    valid = password_hash.verify(password, user.password_hash if user else _dummy_hash())
    if user is None or not valid or not user.active:
        audit(session=session, actor=username or "?", action=LOGIN_FAILED, target=username, ip=ip)
        session.flush()
        return LoginOutcome(None, None)
    if previous_session_id:  # never carry an id across a login (session fixation)
        end_session(session=session, session_id=previous_session_id)
    session_id = secrets.token_urlsafe(32)
    session.add(LoginSession(id_hash=session_id_hash(session_id), user_id=user.id, ip=ip, user_agent=user_agent[:255]))  # type: ignore[arg-type]
    user.last_login_at = now
    audit(session=session, actor=user.username, action="login", target=user.username, ip=ip)
    session.flush()
    return LoginOutcome(user, session_id)


def resolve_session(
    *, session: Session, session_id: str, idle: timedelta, absolute: timedelta
) -> tuple[LoginSession, User] | None:
    """The live session and its active user for a cookie value; expired or orphaned sessions are deleted."""
    row = session.get(LoginSession, session_id_hash(session_id))
    if row is None:
        return None
    now = utcnow()
    user = session.get(User, row.user_id)
    if user is None or not user.active or now - row.last_seen_at > idle or now - row.created_at > absolute:
        session.delete(row)
        session.flush()
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        # Never waited for: the concurrent requests of one session that all see a stale value would otherwise
        # queue on the row lock, holding the worker's threads, while the holder needs one to commit (bench.soak).
        table = LOGIN_SESSION
        free = sa.select(table.c.id_hash).where(table.c.id_hash == row.id_hash).with_for_update(skip_locked=True)
        session.execute(sa.update(table).where(table.c.id_hash == free.scalar_subquery()).values(last_seen_at=now))
        set_committed_value(row, "last_seen_at", now)
    return row, user


def end_session(*, session: Session, session_id: str) -> bool:
    """Delete a session (logout); whether there was one."""
    row = session.get(LoginSession, session_id_hash(session_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def end_user_sessions(*, session: Session, user: User) -> int:
    """Log a user out everywhere (deactivation, password reset); how many sessions ended."""
    result = session.execute(sa.delete(LoginSession).where(col(LoginSession.user_id) == user.id))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(*, session: Session, idle: timedelta, absolute: timedelta) -> None:
    """Delete sessions past either timeout (called at login, so the table stays small without a job)."""
    now = utcnow()
    session.execute(
        sa.delete(LoginSession).where(
            sa.or_(col(LoginSession.last_seen_at) < now - idle, col(LoginSession.created_at) < now - absolute)
        )
    )

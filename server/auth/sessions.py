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
from server.db import upsert_insert, utcnow, write_after
from server.hardening import client_source
from server.models import LoginSession, User
from server.tables import LOGIN_SESSION, LOGIN_THROTTLE

SESSION_COOKIE = "hl_session"
LOGIN_CSRF_COOKIE = "hl_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

#: Failed logins allowed per (username, source) pair within `THROTTLE_WINDOW`; that pair's next attempt gets 429.
#: A source is an IPv4 address or an IPv6 /64 (`server.hardening.client_source`).
MAX_FAILED_LOGINS = 10
#: Failed logins allowed from one source across all usernames (password spraying) within the window.
MAX_FAILED_PER_SOURCE = 30
THROTTLE_WINDOW = timedelta(minutes=1)
#: Once a username has more than `MAX_FAILED_LOGINS` failures in the window from all sources together, every
#: attempt for it waits this long before its password is checked: a slow-down for everyone, never a lock-out.
LOGIN_SLOWDOWN_SECONDS = 1.0
#: `last_seen_at` is written at most this often (one write per request would be wasteful).
TOUCH_EVERY = timedelta(seconds=30)

LOGIN_FAILED = "login.failed"
LOGIN_THROTTLED = "login.throttled"


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


@dataclass(frozen=True)
class LoginAttempt:
    """An attempt counted by `begin_login`: what the password check needs, without a transaction open for it."""

    username: str
    source: str
    throttled: bool
    slowdown: float  # seconds to wait before checking the password
    user: User | None
    stored_hash: str | None


def _count_attempt(session: Session, *, username: str, source: str, limit: int, now: datetime) -> tuple[int, int]:
    """Count one attempt for (username, source) atomically; its (failures, refused) in the window afterwards.

    One `INSERT … ON CONFLICT DO UPDATE … RETURNING`: the row is locked while it is counted (PostgreSQL) or the
    write lock is held (SQLite), so of 40 parallel guesses exactly `limit` get a password check. An attempt counts
    as a failure until `finish_login` finds the password right. Past the limit, attempts are only counted as
    refused. A window older than `THROTTLE_WINDOW` starts again.
    """
    t = LOGIN_THROTTLE.c
    cutoff = now - THROTTLE_WINDOW
    expired = t.window_start <= cutoff
    full = t.failures >= limit
    statement = (
        upsert_insert(LOGIN_THROTTLE, session.get_bind().dialect.name)
        .values(username=username, source=source, window_start=now, failures=1, refused=0)
        .on_conflict_do_update(
            index_elements=[t.username, t.source],
            set_={
                "window_start": sa.case((expired, now), else_=t.window_start),
                "failures": sa.case((expired, 1), (full, t.failures), else_=t.failures + 1),
                "refused": sa.case((expired, 0), (full, t.refused + 1), else_=t.refused),
            },
        )
        .returning(t.failures, t.refused)
    )
    row = session.connection().execute(statement).one()
    return int(row.failures), int(row.refused)


def begin_login(*, session: Session, username: str, ip: str | None, now: datetime | None = None) -> LoginAttempt:
    """Count the attempt (short writes) and read the account; the caller then ends the transaction, so no lock nor
    connection is held while the password is checked (`check_password`, 0.3-0.6 s of argon2)."""
    now = now or utcnow()
    username = username.strip()[:64]
    source = client_source(ip)
    refused, pair_refused = False, 0
    if username:
        _, pair_refused = _count_attempt(session, username=username, source=source, limit=MAX_FAILED_LOGINS, now=now)
        refused = pair_refused > 0
    _, source_refused = _count_attempt(session, username="", source=source, limit=MAX_FAILED_PER_SOURCE, now=now)
    if refused or source_refused:
        # One audit row per pair (or source) and window, however many attempts it refuses: the row counts them.
        if (username and pair_refused == 1) or source_refused == 1:
            limit, scope = (MAX_FAILED_PER_SOURCE, "this address") if source_refused == 1 else (MAX_FAILED_LOGINS, "")
            audit(
                session=session,
                actor=username or "?",
                action=LOGIN_THROTTLED,
                target=username,
                detail=f"{limit} failed logins within {int(THROTTLE_WINDOW.total_seconds())} s {scope}".strip()
                + f" from {source}; further attempts refused until the window ends",
                ip=ip,
            )
        return LoginAttempt(username, source, True, 0.0, None, None)
    t = LOGIN_THROTTLE.c
    everyone = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(t.failures), 0)).where(
            t.username == username, t.window_start > now - THROTTLE_WINDOW
        )
    ).scalar_one()
    slowdown = LOGIN_SLOWDOWN_SECONDS if username and int(everyone) > MAX_FAILED_LOGINS else 0.0
    user = session.exec(select(User).where(User.username == username)).first() if username else None
    return LoginAttempt(username, source, False, slowdown, user, user.password_hash if user else None)


def check_password(attempt: LoginAttempt, password: str) -> bool:
    """argon2 verification, with no database work: run it with no transaction open. Unknown users are checked
    against a dummy hash, so the time taken does not reveal which names exist."""
    valid = password_hash.verify(password, attempt.stored_hash or _dummy_hash())
    return valid and attempt.user is not None and attempt.user.active


def finish_login(
    *,
    session: Session,
    attempt: LoginAttempt,
    valid: bool,
    ip: str | None,
    user_agent: str = "",
    previous_session_id: str | None = None,
) -> LoginOutcome:
    """Record the outcome of a checked password; on success a fresh session, and the attempt no longer counts."""
    user = attempt.user
    if not valid or user is None:
        audit(session=session, actor=attempt.username or "?", action=LOGIN_FAILED, target=attempt.username, ip=ip)
        return LoginOutcome(None, None)
    t = LOGIN_THROTTLE.c
    session.execute(sa.delete(LOGIN_THROTTLE).where(t.username == user.username, t.source == attempt.source))
    session.execute(
        sa.update(LOGIN_THROTTLE)
        .where(t.username == "", t.source == attempt.source, t.failures > 0)
        .values(failures=t.failures - 1)
    )
    if previous_session_id:  # never carry an id across a login (session fixation)
        end_session(session=session, session_id=previous_session_id)
    session_id = secrets.token_urlsafe(32)
    session.add(LoginSession(id_hash=session_id_hash(session_id), user_id=user.id, ip=ip, user_agent=user_agent[:255]))  # type: ignore[arg-type]
    user.last_login_at = utcnow()
    session.add(user)
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
        # After the request's transaction, in one of its own (`write_after`): written here, it took SQLite's write
        # lock for the rest of the request (issue 19, finding 1). Never waited for: the concurrent requests of one
        # session that all see a stale value would otherwise queue on the row lock (bench.soak).
        table = LOGIN_SESSION
        free = sa.select(table.c.id_hash).where(table.c.id_hash == row.id_hash).with_for_update(skip_locked=True)
        write_after(session, sa.update(table).where(table.c.id_hash == free.scalar_subquery()).values(last_seen_at=now))
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
    """Delete sessions past either timeout, and login counts of ended windows (called after a login is checked, so
    the tables stay small without a job)."""
    now = utcnow()
    session.execute(
        sa.delete(LoginSession).where(
            sa.or_(col(LoginSession.last_seen_at) < now - idle, col(LoginSession.created_at) < now - absolute)
        )
    )
    session.execute(sa.delete(LOGIN_THROTTLE).where(LOGIN_THROTTLE.c.window_start <= now - THROTTLE_WINDOW))

"""Accounts and machine credentials: users (argon2id passwords), API keys and token hashing."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from pwdlib import PasswordHash
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from server.db import utcnow, write_after
from server.errors import Conflict, Invalid, Unauthorized
from server.models import API_KEY_KINDS, ROLES, ApiKey, KioskDevice, Officer, Unit, User
from server.tables import API_KEY, AUDIT_LOG

#: How stale an API key's `last_used_at` may get (see `api_key_from_token`).
API_KEY_LAST_USED_RESOLUTION = timedelta(minutes=1)

password_hash = PasswordHash.recommended()  # argon2id
MIN_PASSWORD = 10


def hash_token(token: str) -> str:
    """SHA-256 of a high-entropy secret (device tokens, API keys, pairing codes): fast lookup, nothing reversible."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret from the OS's secure source."""
    return secrets.token_urlsafe(nbytes)


def hash_password(password: str) -> str:
    """The argon2id hash of a new password (0.3-0.6 s of CPU): call it with no transaction open when you can."""
    if len(password) < MIN_PASSWORD:
        raise Invalid("password must be at least {n} characters", n=MIN_PASSWORD)
    if len(password) > 1024:
        raise Invalid("password is too long")
    return password_hash.hash(password)


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    unit: Unit | None,
    officer: Officer | None = None,
    display_name: str = "",
    hashed_password: str | None = None,
) -> User:
    """Add a login; managers and officers need a unit, admins may have one. `hashed_password`: the password's
    `hash_password`, computed before the transaction (the admin pages), instead of here."""
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise Invalid("username must be 1-64 characters without spaces")
    if role not in ROLES:
        raise Invalid("role must be one of {roles}", roles=", ".join(ROLES))
    if role in ("manager", "officer") and unit is None:
        raise Invalid("a {role} needs a unit (--unit CODE)", role=role)
    if hashed_password is None and len(password) < MIN_PASSWORD:
        raise Invalid("password must be at least {n} characters", n=MIN_PASSWORD)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict("user {username!r} exists already", username=username)
    user = User(
        username=username,
        password_hash=hashed_password or password_hash.hash(password),
        role=role,
        unit_id=unit.id if unit else None,
        officer_id=officer.id if officer else None,
        display_name=display_name or username,
    )
    session.add(user)
    session.flush()
    return user


def create_api_key(*, session: Session, kind: str, unit: Unit, label: str = "") -> tuple[ApiKey, str]:
    """A new key for `unit`'s subtree; returns the row and the key itself, which is never stored nor shown again."""
    if kind not in API_KEY_KINDS:
        raise Invalid("kind must be one of {kinds}", kinds=", ".join(API_KEY_KINDS))
    key = f"hl_{kind[0]}_{new_secret(30)}"
    row = ApiKey(kind=kind, unit_id=unit.id, key_hash=hash_token(key), prefix=key[:10], label=label)  # type: ignore[arg-type]
    session.add(row)
    session.flush()
    return row, key


# Built once, with the key's unit: callers then find the unit in the session (`session.get`) without a query.
_API_KEY_BY_HASH = (
    select(ApiKey, Unit).join(Unit, col(Unit.id) == col(ApiKey.unit_id)).where(ApiKey.key_hash == sa.bindparam("h"))
)


def api_key_from_token(*, session: Session, token: str, kind: str) -> tuple[ApiKey, Unit]:
    """The live key of `kind` matching a bearer token and its unit (one query), or 401."""
    found = session.execute(_API_KEY_BY_HASH, {"h": hash_token(token)}).first()
    row = found[0] if found is not None else None
    if found is None or row is None or row.revoked_at is not None or row.kind != kind:
        raise Unauthorized("unknown, revoked or wrong kind of API key", headers={"WWW-Authenticate": "Bearer"})
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= API_KEY_LAST_USED_RESOLUTION:
        # Recorded at most once a minute, after the request's transaction in one of its own (`write_after`: in
        # the request's, it took SQLite's write lock for the rest of it; issue 19, finding 1), and never waited
        # for. Updating the row on every request made every request with the key queue on its row lock until the
        # previous one committed; under load (bench.soak) the waiting requests filled the worker's thread pool.
        table = API_KEY
        free = sa.select(table.c.id).where(table.c.id == row.id).with_for_update(skip_locked=True).scalar_subquery()
        write_after(session, sa.update(table).where(table.c.id == free).values(last_used_at=now))
        set_committed_value(row, "last_used_at", now)
    # The unit is returned, not looked up again: the session's identity map holds it only weakly, so a later
    # `session.get(Unit, …)` would find it gone with this row and query again.
    return row, found[1]


def audit(
    *, session: Session, actor: str, action: str, target: str = "", detail: str = "", ip: str | None = None
) -> None:
    """Record who did what (admin changes, logins, exports); a Core insert, sent at once (no flush machinery)."""
    session.connection().execute(
        _AUDIT_INSERT, {"at": utcnow(), "actor": actor, "action": action, "target": target, "detail": detail, "ip": ip}
    )


_AUDIT_INSERT = sa.insert(AUDIT_LOG)  # built once: visit registrations record one per request


# Built once: every kiosk request runs it (building and cache-keying an ORM select costs as much as running it).
_DEVICE_BY_TOKEN_HASH = select(KioskDevice).where(KioskDevice.token_hash == sa.bindparam("token_hash"))


def device_from_token(*, session: Session, token: str) -> KioskDevice:
    """The live kiosk device holding this bearer token, or 401 (unknown or revoked)."""
    device = session.exec(_DEVICE_BY_TOKEN_HASH, params={"token_hash": hash_token(token)}).first()
    if device is None or device.revoked_at is not None:
        raise Unauthorized("unknown or revoked device token", headers={"WWW-Authenticate": "Bearer"})
    return device


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or 401."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "missing bearer token (Authorization: Bearer <token>)", headers={"WWW-Authenticate": "Bearer"}
        )
    return token.strip()

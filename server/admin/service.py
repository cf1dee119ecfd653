"""Administration: the reference data and accounts an administrator edits. Every change is audited by the routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.auth.service import hash_password
from server.auth.sessions import end_user_sessions
from server.db import utcnow
from server.errors import Conflict, Invalid, NotFound
from server.models import (
    ApiKey,
    AuditLog,
    Counter,
    FieldGroup,
    KioskDevice,
    Officer,
    PairingCode,
    ProcedureField,
    Target,
    TargetGroup,
    Unit,
    User,
)
from server.units.service import create_unit, get_unit

#: Pairing codes: unambiguous characters (no 0/O, 1/I/L), 10 of them ≈ 50 bits, single-use, short-lived.
AUDIT_PAGE = 50


# --- units, counters, officers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeNode:
    """A unit with its children, for the tree view."""

    unit: Unit
    children: list[TreeNode]
    counters: int


def unit_tree(*, session: Session) -> list[TreeNode]:
    """Every unit as a forest (roots first, children by code)."""
    units = session.exec(select(Unit).order_by(col(Unit.code))).all()
    counts = dict(
        session.execute(sa.select(col(Counter.unit_id), sa.func.count()).group_by(col(Counter.unit_id))).all()
    )
    by_parent: dict[int | None, list[Unit]] = {}
    for u in units:
        by_parent.setdefault(u.parent_id, []).append(u)

    def build(u: Unit) -> TreeNode:
        return TreeNode(u, [build(c) for c in by_parent.get(u.id, [])], int(counts.get(u.id, 0)))

    return [build(u) for u in by_parent.get(None, [])]


def check_code(code: str, what: str) -> str:
    """A code: 1-64 characters, no spaces."""
    code = code.strip()
    if not code or len(code) > 64 or any(c.isspace() for c in code):
        raise Invalid(f"{what} code must be 1-64 characters without spaces")
    return code


def check_name(name: str, what: str) -> str:
    """A name: 1-255 characters."""
    name = name.strip()
    if not name or len(name) > 255:
        raise Invalid(f"{what} name must be 1-255 characters")
    return name


def add_unit(*, session: Session, code: str, name: str, parent_code: str, level: str) -> Unit:
    """A new unit under an existing parent (or a new root)."""
    code = check_code(code, "unit")
    name = check_name(name, "unit")
    if session.exec(select(Unit).where(Unit.code == code)).first() is not None:
        raise Conflict(f"unit {code!r} exists already")
    parent = get_unit(session=session, code=parent_code.strip()) if parent_code.strip() else None
    return create_unit(session=session, code=code, name=name, parent=parent, level=level.strip()[:64])


def counters(*, session: Session) -> list[tuple[Counter, Unit]]:
    """Every counter with its unit."""
    rows = session.execute(
        sa.select(Counter, Unit).join(Unit, col(Unit.id) == Counter.unit_id).order_by(col(Unit.code), col(Counter.code))
    ).all()
    return [(c, u) for c, u in rows]


def get_counter(*, session: Session, code: str) -> Counter:
    """The counter with this code, or 404."""
    counter = session.exec(select(Counter).where(Counter.code == code)).first()
    if counter is None:
        raise NotFound(f"unknown counter {code!r}")
    return counter


def officers(*, session: Session) -> list[tuple[Officer, Unit]]:
    """Every officer with their unit."""
    rows = session.execute(
        sa.select(Officer, Unit).join(Unit, col(Unit.id) == Officer.unit_id).order_by(col(Unit.code), col(Officer.code))
    ).all()
    return [(o, u) for o, u in rows]


def get_officer(*, session: Session, code: str) -> Officer:
    """The officer with this code, or 404."""
    officer = session.exec(select(Officer).where(Officer.code == code)).first()
    if officer is None:
        raise NotFound(f"unknown officer {code!r}")
    return officer


def add_officer(*, session: Session, code: str, name: str, unit_code: str) -> Officer:
    """A new officer of a unit."""
    code = check_code(code, "officer")
    name = check_name(name, "officer")
    if session.exec(select(Officer).where(Officer.code == code)).first() is not None:
        raise Conflict(f"officer {code!r} exists already")
    officer = Officer(code=code, name=name, unit_id=get_unit(session=session, code=unit_code.strip()).id)  # type: ignore[arg-type]
    session.add(officer)
    session.flush()
    return officer


# --- fields and targets -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldView:
    """A procedure field with the codes of its target groups."""

    field: ProcedureField
    groups: set[str]


def fields(*, session: Session) -> list[FieldView]:
    """Every procedure field with its groups."""
    groups = {g.id: g.code for g in session.exec(select(TargetGroup)).all()}
    links: dict[int, set[str]] = {}
    for link in session.exec(select(FieldGroup)).all():
        links.setdefault(link.field_id, set()).add(groups[link.group_id])
    rows = session.exec(select(ProcedureField).order_by(col(ProcedureField.sort_order), col(ProcedureField.code))).all()
    return [FieldView(f, links.get(int(f.id or 0), set())) for f in rows]


def target_groups(*, session: Session) -> list[TargetGroup]:
    """The target groups (`all` first)."""
    rows = session.exec(select(TargetGroup)).all()
    return sorted(rows, key=lambda g: (g.code != "all", g.code))


def update_field(
    *, session: Session, code: str, name_vi: str, name_en: str, groups: list[str], active: bool
) -> ProcedureField:
    """Rename a field, set its target groups (`all` is implicit) and whether citizens can pick it."""
    row = session.exec(select(ProcedureField).where(ProcedureField.code == code)).first()
    if row is None:
        raise NotFound(f"unknown field {code!r}")
    row.name_vi = check_name(name_vi, "Vietnamese")
    row.name_en = check_name(name_en, "English")
    row.active = active
    known = {g.code: g for g in session.exec(select(TargetGroup)).all()}
    wanted = {g for g in groups if g and g != "all"}
    unknown = wanted - known.keys()
    if unknown:
        raise Invalid(f"unknown target group {sorted(unknown)[0]!r}")
    session.execute(sa.delete(FieldGroup).where(col(FieldGroup.field_id) == row.id))
    for g in sorted(wanted):
        session.add(FieldGroup(field_id=row.id, group_id=known[g].id))  # type: ignore[arg-type]
    session.flush()
    return row


def milestones(*, session: Session) -> list[tuple[TargetGroup, list[Target]]]:
    """Each group's milestones, oldest first."""
    out = []
    for group in target_groups(session=session):
        rows = session.exec(select(Target).where(Target.group_id == group.id).order_by(col(Target.year_from))).all()
        out.append((group, list(rows)))
    return out


def parse_percent(text: str) -> float:
    """`90`, `90,5`, `90.5` or `90.5%` → 0.905; 422 outside 0..100."""
    cleaned = text.strip().rstrip("%").strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise Invalid(f"threshold {text!r} is not a number of percent (e.g. 90 or 92,5)") from None
    if not 0 <= value <= 100:
        raise Invalid("threshold must be between 0 and 100 %")
    return round(value / 100, 6)


def parse_year(text: str) -> int:
    """A milestone year between 2000 and 2100."""
    try:
        year = int(text.strip())
    except ValueError:
        raise Invalid(f"year {text!r} is not a year") from None
    if not 2000 <= year <= 2100:
        raise Invalid("year must be between 2000 and 2100")
    return year


def set_milestone(*, session: Session, group_code: str, year_from: str, threshold: str) -> Target:
    """Add or change a group's milestone for a year."""
    group = session.exec(select(TargetGroup).where(TargetGroup.code == group_code)).first()
    if group is None:
        raise NotFound(f"unknown target group {group_code!r}")
    year, value = parse_year(year_from), parse_percent(threshold)
    row = session.exec(select(Target).where(Target.group_id == group.id, Target.year_from == year)).first()
    if row is None:
        row = Target(group_id=group.id, year_from=year, threshold=value)  # type: ignore[arg-type]
        session.add(row)
    else:
        row.threshold = value
    session.flush()
    return row


def delete_milestone(*, session: Session, group_code: str, year_from: str) -> None:
    """Remove a group's milestone."""
    group = session.exec(select(TargetGroup).where(TargetGroup.code == group_code)).first()
    year = parse_year(year_from)
    row = (
        session.exec(select(Target).where(Target.group_id == group.id, Target.year_from == year)).first()
        if group
        else None
    )
    if row is None:
        raise NotFound(f"no milestone {group_code!r} from {year}")
    session.delete(row)
    session.flush()


# --- users ---------------------------------------------------------------------------------------------------------


def users(*, session: Session) -> list[tuple[User, Unit | None]]:
    """Every login with its unit."""
    rows = session.execute(
        sa.select(User, Unit).join(Unit, col(Unit.id) == User.unit_id, isouter=True).order_by(col(User.username))
    ).all()
    return [(u, unit) for u, unit in rows]


def get_user(*, session: Session, user_id: int) -> User:
    """The user with this id, or 404."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"unknown user {user_id}")
    return user


def set_active(*, session: Session, user: User, active: bool) -> None:
    """Deactivate (and log out everywhere) or reactivate a login."""
    user.active = active
    if not active:
        end_user_sessions(session=session, user=user)
    session.flush()


def reset_password(*, session: Session, user: User, password: str, hashed_password: str | None = None) -> None:
    """Give a user a new password and end their sessions (`hashed_password`: its `hash_password`, computed before
    the transaction)."""
    user.password_hash = hashed_password or hash_password(password)
    end_user_sessions(session=session, user=user)
    session.flush()


# --- kiosks and API keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceView:
    """A kiosk device with its counter and unit."""

    device: KioskDevice
    counter: Counter
    unit: Unit


def devices(*, session: Session) -> list[DeviceView]:
    """Every paired kiosk (live first), with counter and unit."""
    rows = session.execute(
        sa.select(KioskDevice, Counter, Unit)
        .join(Counter, col(Counter.id) == KioskDevice.counter_id)
        .join(Unit, col(Unit.id) == Counter.unit_id)
        .order_by(col(KioskDevice.revoked_at).is_not(None), col(Unit.code), col(Counter.code))
    ).all()
    return [DeviceView(d, c, u) for d, c, u in rows]


def open_pairing_codes(*, session: Session, now: datetime | None = None) -> list[tuple[PairingCode, Counter]]:
    """Unused, unexpired pairing codes (their codes are not known any more: only when and for which counter)."""
    now = now or utcnow()
    rows = session.execute(
        sa.select(PairingCode, Counter)
        .join(Counter, col(Counter.id) == PairingCode.counter_id)
        .where(col(PairingCode.used_at).is_(None), col(PairingCode.expires_at) > now)
        .order_by(col(PairingCode.created_at).desc())
    ).all()
    return [(p, c) for p, c in rows]


def revoke_device(*, session: Session, device_id: int) -> KioskDevice:
    """Stop accepting a kiosk's token (its ratings stay)."""
    device = session.get(KioskDevice, device_id)
    if device is None:
        raise NotFound(f"unknown kiosk device {device_id}")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        session.flush()
    return device


def api_keys(*, session: Session) -> list[tuple[ApiKey, Unit]]:
    """Every API key (live first) with its unit."""
    rows = session.execute(
        sa.select(ApiKey, Unit)
        .join(Unit, col(Unit.id) == ApiKey.unit_id)
        .order_by(col(ApiKey.revoked_at).is_not(None), col(ApiKey.created_at).desc())
    ).all()
    return [(k, u) for k, u in rows]


def revoke_api_key(*, session: Session, key_id: int) -> ApiKey:
    """Stop accepting an API key."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"unknown API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


# --- audit log -----------------------------------------------------------------------------------------------------


def audit_page(*, session: Session, page: int, size: int = AUDIT_PAGE) -> tuple[list[AuditLog], bool]:
    """One page of the audit log, newest first, and whether there is a next page."""
    page = max(1, page)
    rows = session.exec(
        select(AuditLog)
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .offset((page - 1) * size)
        .limit(size + 1)
    ).all()
    return list(rows[:size]), len(rows) > size

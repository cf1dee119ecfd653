"""Small factories for test data (reference data comes from the migrations)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from server.auth.service import hash_token, new_secret
from server.config import Settings
from server.models import (
    Counter,
    KioskDevice,
    Officer,
    Petition,
    ProcedureField,
    Rating,
    RatingReason,
    Reason,
    ScaleLevel,
    Unit,
    Visit,
)
from server.petitions.service import create_petition
from server.units.service import create_unit

_seq = itertools.count(1)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def unit(session: Session, parent: Unit | None = None, code: str | None = None, name: str | None = None) -> Unit:
    """A unit under `parent`."""
    n = next(_seq)
    return create_unit(session=session, code=code or f"U{n}", name=name or f"Đơn vị {n}", parent=parent)


def tree(session: Session, root: str, a: str, a1: str, b: str) -> dict[str, Unit]:
    """Units coded `root` with two children, `a` (with a child `a1`) and `b`; by role: root, a, a1, b."""
    root_ = unit(session, code=root)
    a_ = unit(session, root_, code=a)
    return {"root": root_, "a": a_, "a1": unit(session, a_, code=a1), "b": unit(session, root_, code=b)}


def counter(session: Session, unit_: Unit, code: str | None = None) -> Counter:
    """A counter of `unit_`."""
    c = Counter(code=code or f"C{next(_seq)}", unit_id=unit_.id, name="Quầy")  # type: ignore[arg-type]
    session.add(c)
    session.flush()
    return c


def officer(session: Session, unit_: Unit, code: str | None = None) -> Officer:
    """An officer of `unit_`."""
    o = Officer(code=code or f"OFF{next(_seq)}", name="Cán bộ", unit_id=unit_.id)  # type: ignore[arg-type]
    session.add(o)
    session.flush()
    return o


def field(session: Session, code: str) -> ProcedureField:
    """A default procedure field by code."""
    return session.exec(select(ProcedureField).where(ProcedureField.code == code)).one()


def rating(
    session: Session,
    counter_: Counter,
    *,
    level: int = 4,
    field_code: str = "land",
    at: datetime | None = None,
    channel: str = "kiosk",
    misuse: bool = False,
    officer_: Officer | None = None,
    reasons: tuple[str, ...] = (),
) -> Rating:
    """A stored rating at `counter_` (satisfied flag taken from the scale)."""
    at = at or datetime.now(UTC)
    satisfied = session.exec(select(ScaleLevel.satisfied).where(ScaleLevel.level == level)).one()
    r = Rating(
        id=uuid.uuid4(),
        level=level,
        satisfied=satisfied,
        field_id=field(session, field_code).id,  # type: ignore[arg-type]
        unit_id=counter_.unit_id,
        counter_id=counter_.id,  # type: ignore[arg-type]
        officer_id=officer_.id if officer_ else None,
        channel=channel,
        rated_at=at,
        client_rated_at=at,
        local_date=local_date(at),
        misuse=misuse,
    )
    session.add(r)
    session.flush()
    for code in reasons:
        reason = session.exec(select(Reason).where(Reason.code == code)).one()
        session.add(RatingReason(rating_id=r.id, reason_id=reason.id))  # type: ignore[arg-type]
    session.flush()
    return r


def petition(
    session: Session,
    settings: Settings,
    unit_: Unit,
    *,
    category: str = "tthc",
    content: str = "Thủ tục chậm",
    **fields: Any,
) -> Petition:
    """A citizen's petition to `unit_` through the form, filed by the service (due date, token, first event,
    notifications); `fields`: received_at, contact and the other arguments of `create_petition`."""
    return create_petition(
        session=session,
        settings=settings,
        unit_id=unit_.id,  # type: ignore[arg-type]
        category=category,
        content=content,
        source="form",
        actor="citizen",
        **fields,
    )


def local_date(at: datetime) -> date:
    """The reporting day of an instant."""
    return at.astimezone(HCM).date()


# --- Kiosks (issue 3) ---------------------------------------------------------------------------------------------


def kiosk_device(session: Session, counter_: Counter) -> tuple[KioskDevice, str]:
    """A kiosk paired to `counter_` and its bearer token."""
    token = new_secret(32)
    device = KioskDevice(counter_id=counter_.id, token_hash=hash_token(token))  # type: ignore[arg-type]
    session.add(device)
    session.flush()
    return device, token


def counter_visit(
    session: Session,
    counter_: Counter,
    *,
    field_code: str = "land",
    officer_: Officer | None = None,
    created_at: datetime | None = None,
    ttl: timedelta = timedelta(days=30),
) -> Visit:
    """A visit started at `counter_` (as the counter console or the one-stop system would)."""
    created_at = created_at or datetime.now(UTC)
    v = Visit(
        token=new_secret(9)[:12],
        counter_id=counter_.id,  # type: ignore[arg-type]
        field_id=field(session, field_code).id,  # type: ignore[arg-type]
        officer_id=officer_.id if officer_ else None,
        created_at=created_at,
        expires_at=created_at + ttl,
    )
    session.add(v)
    session.flush()
    return v

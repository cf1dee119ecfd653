"""Kiosk devices: pairing codes and their exchange for a device token, heartbeats, configuration, visits.

A pairing code is 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as `ABCD-EFGH`:
about 40 bits, single-use, valid for `pairing_code_ttl_hours`. Only hashes of codes and device tokens are stored.
Guessing is slowed by counting failed exchanges per caller and overall (`pairing_attempt`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.auth.service import device_from_token, hash_token, new_secret
from server.cache import TimedCache
from server.config import Settings
from server.contracts import (
    ChoiceInfo,
    CurrentVisit,
    HeartbeatRequest,
    KioskConfig,
    LevelInfo,
    NamedCode,
    PairResponse,
    VisitEvent,
    VisitInfo,
    VisitState,
)
from server.db import utcnow
from server.errors import Conflict, Gone, Invalid, NotFound, TooManyRequests, Unauthorized
from server.models import (
    Counter,
    CounterField,
    KioskDevice,
    PairingAttempt,
    PairingCode,
    ProcedureField,
    Rating,
    RatingRollup,
    Reason,
    ScaleLevel,
    Unit,
    Visit,
)
from server.visits.service import find_visit, visit_progress

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
#: Failed pairing attempts tolerated per caller (an IPv4 address, an IPv6 /64) within ATTEMPT_WINDOW, and overall
#: before pairing locks for every caller that has failed too.
MAX_FAILURES_PER_CLIENT = 10
MAX_FAILURES_TOTAL = 100
ATTEMPT_WINDOW = timedelta(minutes=15)
#: A visit is offered to its counter's kiosk this long after the console started it.
VISIT_OFFER_WINDOW = timedelta(minutes=10)
#: The kiosk lists a counter's fields most rated there first, over this many past days (from the day rollups).
FIELD_FREQUENCY_DAYS = 90


def normalise_code(code: str) -> str:
    """Upper case without spaces or dashes: `abcd-efgh` and `ABCDEFGH` are the same code."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def get_counter(*, session: Session, code: str) -> Counter:
    """The counter with this code, or 404."""
    counter = session.exec(select(Counter).where(Counter.code == code)).first()
    if counter is None:
        raise NotFound("unknown counter {code!r}", code=code)
    return counter


def create_pairing_code(
    *, session: Session, counter_code: str, settings: Settings, now: datetime | None = None
) -> tuple[str, datetime]:
    """A new single-use code for the counter's kiosk (shown once as `ABCD-EFGH`) and when it expires."""
    counter = get_counter(session=session, code=counter_code)
    if not counter.active:
        raise Conflict("counter {code!r} is inactive", code=counter_code)
    now = now or utcnow()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires_at = now + timedelta(hours=settings.pairing_code_ttl_hours)
    session.add(PairingCode(counter_id=counter.id, code_hash=hash_token(code), created_at=now, expires_at=expires_at))  # type: ignore[arg-type]
    session.flush()
    return f"{code[:4]}-{code[4:]}", expires_at


def check_pairing_allowed(*, session: Session, client: str, now: datetime | None = None) -> None:
    """429 when this caller, or everyone together, failed too often lately (guessing codes)."""
    now = now or utcnow()
    since = now - ATTEMPT_WINDOW
    failures = sa.select(sa.func.count()).where(
        col(PairingAttempt.at) >= since, col(PairingAttempt.succeeded).is_(False)
    )
    mine = session.execute(failures.where(col(PairingAttempt.client) == client)).scalar_one()
    retry = {"Retry-After": str(int(ATTEMPT_WINDOW.total_seconds()))}
    if mine >= MAX_FAILURES_PER_CLIENT:
        raise TooManyRequests("too many wrong pairing codes from this address; wait 15 minutes", headers=retry)
    # The overall limit holds back only callers that have guessed wrong themselves: a kiosk being set up with its
    # valid code from an address that never failed still pairs while guessers elsewhere are locked out (issue 19,
    # finding 6; 100 wrong codes from 10 addresses used to lock pairing for everyone).
    if mine and session.execute(failures).scalar_one() >= MAX_FAILURES_TOTAL:
        raise TooManyRequests("pairing is locked after many wrong codes; wait 15 minutes", headers=retry)


def pair_device(
    *, session: Session, code: str, client: str, now: datetime | None = None, field_order: TimedCache | None = None
) -> PairResponse:
    """Exchange a pairing code for a new device token and the configuration the kiosk shows (the lists a heartbeat
    brings: the kiosk has none of its own); every try is recorded (failures slow guessing down).

    On failure the attempt is added to the session before the error is raised: the caller commits it.
    """
    now = now or utcnow()
    check_pairing_allowed(session=session, client=client, now=now)
    attempt = PairingAttempt(at=now, client=client[:64], succeeded=False)
    session.add(attempt)
    normalised = normalise_code(code)
    row = (
        session.exec(select(PairingCode).where(PairingCode.code_hash == hash_token(normalised))).first()
        if len(normalised) == CODE_LENGTH
        else None
    )
    if row is None:
        session.flush()
        raise NotFound("unknown pairing code; check it or ask the administrator for a new one")
    if row.used_at is not None:
        session.flush()
        raise Conflict("this pairing code has been used already; ask the administrator for a new one")
    if row.expires_at <= now:
        session.flush()
        raise Gone("this pairing code has expired; ask the administrator for a new one")
    counter = session.get(Counter, row.counter_id)
    unit = session.get(Unit, counter.unit_id) if counter else None
    if counter is None or unit is None or not counter.active:
        session.flush()
        raise Conflict("the counter of this pairing code is no longer active")
    # Single use even when two kiosks race with the same code: only one UPDATE finds it unused.
    claimed = session.execute(
        sa.update(PairingCode)
        .where(col(PairingCode.id) == row.id, col(PairingCode.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.flush()
        raise Conflict("this pairing code has been used already; ask the administrator for a new one")
    token = new_secret(32)
    device = KioskDevice(counter_id=counter.id, token_hash=hash_token(token), created_at=now)  # type: ignore[arg-type]
    session.add(device)
    session.flush()
    session.execute(sa.update(PairingCode).where(col(PairingCode.id) == row.id).values(device_id=device.id))
    attempt.succeeded = True
    session.flush()
    return PairResponse(
        token=token,
        counter=counter.code,
        unit=unit.code,
        counter_name=counter.name,
        unit_name=unit.name,
        config=kiosk_config(session=session, device=device, now=now, field_order=field_order),
    )


def demo_token_accepted(*, session: Session, token: str) -> bool:
    """Whether the server would accept this device token (the demo kiosk pairs again when not)."""
    try:
        device_from_token(session=session, token=token)
    except Unauthorized:
        return False
    return True


def record_heartbeat(
    *, session: Session, device: KioskDevice, report: HeartbeatRequest, now: datetime | None = None
) -> None:
    """Remember when the kiosk was last heard of, what it still holds, its version and its clock offset."""
    now = now or utcnow()
    device.last_seen_at = now
    device.backlog = report.backlog
    device.app_version = report.app_version
    if report.sent_at is not None:
        offset = (now - report.sent_at).total_seconds()
        device.clock_offset_seconds = round(offset, 3)
        device.clock_flagged = abs(offset) > 300
    session.add(device)
    session.flush()


def kiosk_config(
    *, session: Session, device: KioskDevice, now: datetime | None = None, field_order: TimedCache | None = None
) -> KioskConfig:
    """What the kiosk shows: counter and unit names, active fields and reasons, the scale (most positive first); the
    counter's field counts come from `field_order` when given (see `counter_field_codes`)."""
    counter = session.get(Counter, device.counter_id)
    assert counter is not None  # a foreign key
    unit = session.get(Unit, counter.unit_id)
    assert unit is not None
    fields = session.exec(
        select(ProcedureField).where(col(ProcedureField.active)).order_by(col(ProcedureField.sort_order))
    ).all()
    reasons = session.exec(select(Reason).where(col(Reason.active)).order_by(col(Reason.sort_order))).all()
    levels = session.exec(select(ScaleLevel).order_by(col(ScaleLevel.level).desc())).all()
    now = now or utcnow()
    return KioskConfig(
        counter=NamedCode(code=counter.code, name=counter.name),
        unit=NamedCode(code=unit.code, name=unit.name),
        fields=[ChoiceInfo(code=f.code, name_vi=f.name_vi, name_en=f.name_en) for f in fields],
        reasons=[ChoiceInfo(code=r.code, name_vi=r.name_vi, name_en=r.name_en) for r in reasons],
        levels=[LevelInfo(level=s.level, name_vi=s.name_vi, name_en=s.name_en, satisfied=s.satisfied) for s in levels],
        server_time=now,
        counter_fields=counter_field_codes(
            session=session, counter=counter, fields=list(fields), now=now, field_order=field_order
        ),
    )


def served_field_ids(*, session: Session, counter_id: int) -> set[int]:
    """The fields chosen for a counter in admin (empty: the counter serves every active field)."""
    return set(session.exec(select(CounterField.field_id).where(CounterField.counter_id == counter_id)).all())


def counter_field_codes(
    *,
    session: Session,
    counter: Counter,
    fields: list[ProcedureField],
    now: datetime,
    field_order: TimedCache | None = None,
) -> list[str]:
    """The codes of the active fields `counter` serves, most rated at this counter over the last
    FIELD_FREQUENCY_DAYS first (read from the day rollups), then in their display order.

    The counts are the one costly part and every kiosk asks every few seconds: `field_order` keeps them per counter
    and first day counted (`HAILONG_FIELD_ORDER_CACHE_SECONDS`), so a new day counts afresh. Which fields the counter
    serves, and which are active, is read every time: an administrator's choice applies at once."""
    assert counter.id is not None
    chosen = served_field_ids(session=session, counter_id=counter.id)
    served = [f for f in fields if not chosen or f.id in chosen] or fields
    since = (now - timedelta(days=FIELD_FREQUENCY_DAYS)).date()

    def count() -> dict[int, int]:
        rows = session.execute(
            sa.select(RatingRollup.field_id, sa.func.sum(RatingRollup.n))  # type: ignore[call-overload]
            .where(
                col(RatingRollup.unit_id) == counter.unit_id,
                col(RatingRollup.day) >= since,
                col(RatingRollup.counter_id) == counter.id,
            )
            .group_by(RatingRollup.field_id)
        ).all()
        return {int(field_id): int(n) for field_id, n in rows}

    counts = count() if field_order is None else field_order.get_or_compute(("field counts", counter.id, since), count)
    ranked = sorted(enumerate(served), key=lambda pair: (-int(counts.get(pair[1].id or 0, 0)), pair[0]))
    return [f.code for _, f in ranked]


def report_visit_event(
    *, session: Session, device: KioskDevice, event: VisitEvent, now: datetime | None = None
) -> VisitState:
    """A kiosk shows a visit's faces (`shown`) or the citizen declined there (`declined`); answers whether the
    visit can still be rated on that kiosk. A visit of another counter is `unknown` to it."""
    now = now or utcnow()
    visit = find_visit(session=session, token=event.token)
    if visit is None or visit.counter_id != device.counter_id:
        return VisitState(token=event.token, state="unknown")
    state = visit_progress(session=session, visit=visit, now=now)
    if state in ("waiting", "shown"):
        if event.event == "declined":
            visit.declined_at = now
            state = "declined"
        elif visit.shown_at is None:
            visit.shown_at = now
        session.add(visit)
        session.flush()
    return VisitState.model_validate(
        {"token": event.token, "state": "open" if state in ("waiting", "shown") else state}
    )


def current_visit(*, session: Session, device: KioskDevice, now: datetime | None = None) -> CurrentVisit:
    """The newest unrated, unexpired visit started at the device's counter in the last 10 minutes, if any."""
    now = now or utcnow()
    row = session.execute(
        sa.select(Visit.token, ProcedureField.code, Visit.created_at, Visit.expires_at)  # type: ignore[call-overload]
        .join(ProcedureField, col(ProcedureField.id) == col(Visit.field_id))
        .where(
            col(Visit.counter_id) == device.counter_id,
            col(Visit.rated_at).is_(None),
            col(Visit.declined_at).is_(None),
            col(Visit.cancelled_at).is_(None),
            col(Visit.expires_at) > now,
            col(Visit.created_at) >= now - VISIT_OFFER_WINDOW,
        )
        .order_by(col(Visit.created_at).desc(), col(Visit.id).desc())
        .limit(1)
    ).first()
    if row is None:
        return CurrentVisit(visit=None)
    token, field_code, created_at, expires_at = row
    return CurrentVisit(visit=VisitInfo(token=token, field=field_code, created_at=created_at, expires_at=expires_at))


@dataclass(frozen=True)
class DeviceRow:
    """A kiosk as the administrator sees it in `hailong kiosk-list`."""

    id: int
    counter: str
    created_at: datetime
    last_seen_at: datetime | None
    backlog: int
    app_version: str | None
    clock_offset_seconds: float | None
    clock_flagged: bool
    revoked_at: datetime | None
    ratings: int


def list_devices(*, session: Session) -> list[DeviceRow]:
    """Every paired kiosk with its counter and how many ratings it delivered."""
    counts: dict[int, int] = dict(
        session.execute(
            sa.select(Rating.device_id, sa.func.count())  # type: ignore[call-overload]
            .where(col(Rating.device_id).is_not(None))
            .group_by(Rating.device_id)
        ).all()
    )
    rows = session.execute(
        sa.select(KioskDevice, Counter.code).join(Counter).order_by(col(KioskDevice.id))  # type: ignore[call-overload]
    ).all()
    return [
        DeviceRow(
            id=d.id,
            counter=code,
            created_at=d.created_at,
            last_seen_at=d.last_seen_at,
            backlog=d.backlog,
            app_version=d.app_version,
            clock_offset_seconds=d.clock_offset_seconds,
            clock_flagged=d.clock_flagged,
            revoked_at=d.revoked_at,
            ratings=int(counts.get(d.id, 0)),
        )
        for d, code in rows
    ]


def revoke_devices(
    *, session: Session, device_id: int | None = None, counter_code: str | None = None, now: datetime | None = None
) -> int:
    """Revoke one device or every live device of a counter; returns how many were revoked."""
    if (device_id is None) == (counter_code is None):
        raise Invalid("name either a device id or a counter code")
    query = select(KioskDevice).where(col(KioskDevice.revoked_at).is_(None))
    if device_id is not None:
        query = query.where(KioskDevice.id == device_id)
    else:
        query = query.where(KioskDevice.counter_id == get_counter(session=session, code=counter_code or "").id)
    devices = session.exec(query).all()
    for device in devices:
        device.revoked_at = now or utcnow()
        session.add(device)
    session.flush()
    return len(devices)

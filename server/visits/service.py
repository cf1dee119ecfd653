"""Visits: register one for a counter and field, look one up by its token, and tell whether it can be rated."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.config import Settings
from server.db import insert_or_nothing, utcnow
from server.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from server.models import Counter, Officer, ProcedureField, Unit, User, Visit
from server.tables import COUNTER, FIELD, RATING, UNIT, VISIT
from server.units.service import is_in_subtree, path_in_subtree

#: 9 random bytes → 12 URL-safe characters, 72 bits: short enough for a small printed QR code.
TOKEN_BYTES = 9
MAX_TOKEN_LENGTH = 16


def new_token() -> str:
    """A fresh visit token from the OS's secure random source (72 bits, 12 URL-safe characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(token: str) -> bool:
    """Whether `token` could be a visit token at all (saves a query for junk)."""
    return 0 < len(token) <= MAX_TOKEN_LENGTH and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)


@dataclass(frozen=True)
class VisitLinks:
    """The addresses that go with a visit token."""

    rating_url: str
    qr_png_url: str
    qr_svg_url: str


def visit_links(*, settings: Settings, token: str) -> VisitLinks:
    """The public rating link (printed in the QR code) and the QR image paths of a token."""
    return VisitLinks(
        rating_url=f"{settings.public_base_url}/r/{token}",
        qr_png_url=f"/api/v1/visits/{token}/qr.png",
        qr_svg_url=f"/api/v1/visits/{token}/qr.svg",
    )


@dataclass(frozen=True)
class VisitCreator:
    """Who registers a visit, as recorded on it: a login session (with the user and their officer) or a key."""

    kind: str  # one of models.VISIT_CREATOR_KINDS
    user_id: int | None = None
    officer_id: int | None = None  # the officer record of the session's user, if any
    key_id: int | None = None

    @classmethod
    def session_of(cls, user: User) -> VisitCreator:
        """A logged-in user registering a visit (officer, manager or admin session)."""
        return cls(kind=f"{user.role}_session", user_id=user.id, officer_id=user.officer_id)


# Built once (Core): a one-stop system registers a visit for every citizen served. The field comes with the
# counter (NULL when unknown): one round trip instead of two.
_FIELD_NAMED = FIELD.c.code == sa.bindparam("field")
_COUNTER_AND_FIELD = (
    sa.select(
        COUNTER.c.id,
        COUNTER.c.active,
        UNIT.c.path.label("unit_path"),
        UNIT.c.active.label("unit_active"),
        sa.select(FIELD.c.id).where(_FIELD_NAMED).scalar_subquery().label("field_id"),
        sa.select(FIELD.c.active).where(_FIELD_NAMED).scalar_subquery().label("field_active"),
    )
    .join(UNIT, UNIT.c.id == COUNTER.c.unit_id)
    .where(COUNTER.c.code == sa.bindparam("counter"))
)


def create_visit(
    *,
    session: Session,
    settings: Settings,
    scope: Unit,
    counter_code: str,
    field_code: str,
    procedure_code: str | None = None,
    dossier_code: str | None = None,
    officer_code: str | None = None,
    officer_id: int | None = None,
    creator: VisitCreator | None = None,
    now: datetime | None = None,
) -> Visit:
    """Register a visit at a counter inside `scope`'s subtree; unknown names are 422, a counter outside is 403.

    `creator` is recorded on the visit; an officer's session may name no officer but itself (403, before any other
    check, so that it learns nothing about other codes): the rating of a visit counts for the officer it names, in
    the yearly appraisal.
    """
    now = now or utcnow()
    if officer_code is not None and creator is not None and creator.kind == "officer_session":
        # First, before any lookup: whether another officer's code exists, is active or is in the scope is no
        # business of an officer's session (a 422 for some codes and a 403 for others would tell).
        own = session.get(Officer, creator.officer_id) if creator.officer_id is not None else None
        if own is None or own.code != officer_code:
            raise Forbidden("an officer may register visits only in their own name")
    conn = session.connection()
    counter = conn.execute(_COUNTER_AND_FIELD, {"counter": counter_code, "field": field_code}).first()
    if counter is None:
        raise Invalid("unknown counter {code!r}", code=counter_code)
    if not path_in_subtree(counter.unit_path, root=scope):
        raise Forbidden("counter {code!r} is outside unit {unit!r} and its subtree", code=counter_code, unit=scope.code)
    if not counter.active or not counter.unit_active:
        raise Invalid("counter {code!r} is inactive", code=counter_code)
    if counter.field_id is None:
        raise Invalid("unknown field {code!r}", code=field_code)
    if not counter.field_active:
        raise Invalid("field {code!r} is inactive", code=field_code)
    if officer_code is not None:
        officer = session.exec(select(Officer).where(Officer.code == officer_code)).first()
        if officer is None:
            raise Invalid("unknown officer {code!r}", code=officer_code)
        if not officer.active:
            raise Invalid("officer {code!r} is inactive", code=officer_code)
        officer_unit = session.get(Unit, officer.unit_id)
        if officer_unit is None or not is_in_subtree(unit=officer_unit, root=scope):
            raise Invalid(
                "officer {code!r} is outside unit {unit!r} and its subtree", code=officer_code, unit=scope.code
            )
        officer_id = officer.id
    visit = Visit(
        token=new_token(),
        counter_id=counter.id,
        field_id=counter.field_id,
        procedure_code=procedure_code or None,
        dossier_code=dossier_code or None,
        officer_id=officer_id,
        created_at=now,
        expires_at=now + timedelta(days=settings.visit_ttl_days),
        created_by_kind=creator.kind if creator else None,
        created_by_user_id=creator.user_id if creator else None,
        created_by_key_id=creator.key_id if creator else None,
    )
    # 72 random bits make a clash practically impossible; the unique index would still refuse one: draw again.
    # ON CONFLICT DO NOTHING instead of a savepoint: one statement, and the transaction stays usable.
    insert = insert_or_nothing(VISIT, conn.dialect.name, "id")
    for _attempt in range(3):
        visit_id = conn.execute(insert, visit.model_dump(exclude={"id"})).scalar()
        if visit_id is not None:
            visit.id = visit_id
            return visit
        visit.token = new_token()
    raise Conflict("could not allocate a visit token; try again")


def find_visit(*, session: Session, token: str) -> Visit | None:
    """The visit with this token, if any."""
    if not looks_like_token(token):
        return None
    return session.exec(select(Visit).where(Visit.token == token)).first()


@dataclass(frozen=True)
class RatableVisit:
    """A visit that may be rated now, with what a rating needs and the names the phone form shows."""

    id: int
    token: str
    counter_id: int
    field_id: int
    officer_id: int | None
    unit_id: int
    unit_name: str
    field_name_vi: str
    field_name_en: str
    counter_name: str = ""
    created_at: datetime | None = None  # when the visit was registered: the phone page shows which visit it rates


# Built once (Core, not the ORM): every step of a phone rating runs it, and building and cache-keying an ORM
# select cost more than running it. Whether any channel rated the visit comes with it: one round trip.
_RATABLE = (
    sa.select(
        VISIT.c.id,
        VISIT.c.token,
        VISIT.c.counter_id,
        VISIT.c.field_id,
        VISIT.c.officer_id,
        VISIT.c.rated_at,
        VISIT.c.expires_at,
        VISIT.c.created_at,
        COUNTER.c.unit_id,
        COUNTER.c.name.label("counter_name"),
        UNIT.c.name,
        FIELD.c.name_vi,
        FIELD.c.name_en,
        sa.exists().where(RATING.c.visit_id == VISIT.c.id).label("has_rating"),
    )
    .join(COUNTER, COUNTER.c.id == VISIT.c.counter_id)
    .join(UNIT, UNIT.c.id == COUNTER.c.unit_id)
    .join(FIELD, FIELD.c.id == VISIT.c.field_id)
    .where(VISIT.c.token == sa.bindparam("token"))
)


def visit_to_rate(*, session: Session, token: str, now: datetime | None = None) -> RatableVisit:
    """The visit a rating link points to: 404 unknown, 409 already rated (any channel), 410 expired."""
    if not looks_like_token(token):
        raise NotFound("unknown rating link")
    row = session.connection().execute(_RATABLE, {"token": token}).first()
    if row is None:
        raise NotFound("unknown rating link")
    if row.rated_at is not None or row.has_rating:
        raise Conflict("this visit has been rated already")
    if row.expires_at <= (now or utcnow()):
        raise Gone("this rating link has expired")
    return RatableVisit(
        id=row.id,
        token=row.token,
        counter_id=row.counter_id,
        field_id=row.field_id,
        officer_id=row.officer_id,
        unit_id=row.unit_id,
        unit_name=row.name,
        field_name_vi=row.name_vi,
        field_name_en=row.name_en,
        counter_name=row.counter_name,
        created_at=row.created_at,
    )


def live_visit(*, session: Session, token: str, now: datetime | None = None) -> Visit:
    """A visit whose link is still valid (rated or not): 404 unknown, 410 expired. For QR codes and slips."""
    visit = find_visit(session=session, token=token)
    if visit is None:
        raise NotFound("unknown visit token")
    if visit.expires_at <= (now or utcnow()):
        raise Gone("this visit's rating link has expired")
    return visit


@dataclass(frozen=True)
class VisitDetails:
    """A visit with the names a slip prints."""

    visit: Visit
    counter: Counter
    unit: Unit
    field: ProcedureField
    officer: Officer | None


def visit_details(*, session: Session, visit: Visit) -> VisitDetails:
    """The counter, unit, field and officer of a visit (one query)."""
    row = session.execute(
        select(Counter, Unit, ProcedureField, Officer)
        .join(Unit, col(Unit.id) == col(Counter.unit_id))
        .join(ProcedureField, col(ProcedureField.id) == visit.field_id)
        .outerjoin(Officer, col(Officer.id) == visit.officer_id)
        .where(col(Counter.id) == visit.counter_id)
    ).one()  # foreign keys: the counter, its unit and the field exist
    counter, unit, field, officer = row
    return VisitDetails(visit=visit, counter=counter, unit=unit, field=field, officer=officer)


def recent_visits(*, session: Session, counter: Counter, user: User, limit: int = 5) -> list[Visit]:
    """The latest visits `user` registered at a counter, newest first: never a colleague's or the one-stop
    system's (their tokens would let the holder rate a citizen's visit before the citizen does)."""
    return list(
        session.exec(
            select(Visit)
            .where(Visit.counter_id == counter.id, Visit.created_by_user_id == user.id)
            .order_by(col(Visit.created_at).desc())
            .limit(limit)
        ).all()
    )


#: Where an invitation stands, as the console and the kiosk see it. `waiting`: started, not on a kiosk yet;
#: `shown`: a kiosk shows its faces. Every other state is final for the kiosk (the phone link of a declined visit
#: stays valid).
VISIT_PROGRESS = ("waiting", "shown", "rated", "declined", "cancelled", "expired")


def visit_progress(*, session: Session, visit: Visit, now: datetime | None = None) -> str:
    """Where `visit` stands: rated (by any channel), cancelled, declined on the kiosk, expired, shown or waiting."""
    rated = visit.rated_at is not None or (
        session.connection().execute(sa.select(sa.exists().where(RATING.c.visit_id == visit.id))).scalar()
    )
    if rated:
        return "rated"
    if visit.cancelled_at is not None:
        return "cancelled"
    if visit.declined_at is not None:
        return "declined"
    if visit.expires_at <= (now or utcnow()):
        return "expired"
    return "shown" if visit.shown_at is not None else "waiting"


#: The states in which the console may still show a visit's slip: nobody rated it or withdrew it, its link is valid.
SLIP_STATES = ("waiting", "shown", "declined")


def slip_open(*, settings: Settings, visit: Visit, state: str, now: datetime | None = None) -> bool:
    """Whether the console may (still) show `visit`'s slip, its QR code and rating link: only just after the
    invitation (`settings.slip_minutes`, time to print it for the citizen) and only while nobody rated it. Later, an
    officer reopening the slip could rate a visit the citizen left unrated. `state` is `visit_progress`'s answer."""
    now = now or utcnow()
    return state in SLIP_STATES and now - visit.created_at < timedelta(minutes=settings.slip_minutes)


def cancel_visit(*, session: Session, visit: Visit, now: datetime | None = None) -> str:
    """Withdraw an invitation that nobody rated yet: the kiosk leaves its faces, the slip's link stops working.
    Answers the visit's state afterwards (a rated visit stays rated: 409)."""
    now = now or utcnow()
    state = visit_progress(session=session, visit=visit, now=now)
    if state == "rated":
        raise Conflict("this visit has been rated already; it can no longer be cancelled")
    if state in ("waiting", "shown", "declined"):
        visit.cancelled_at = now
        visit.expires_at = min(visit.expires_at, now)
        session.add(visit)
        session.flush()
        return "cancelled"
    return state

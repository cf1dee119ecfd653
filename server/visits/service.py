"""Visits: register one for a counter and field, look one up by its token, and tell whether it can be rated."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.config import Settings
from server.db import utcnow
from server.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from server.models import Counter, Officer, ProcedureField, Rating, Unit, Visit
from server.units.service import is_in_subtree

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
    now: datetime | None = None,
) -> Visit:
    """Register a visit at a counter inside `scope`'s subtree; unknown names are 422, a counter outside is 403."""
    now = now or utcnow()
    counter = session.exec(select(Counter).where(Counter.code == counter_code)).first()
    if counter is None:
        raise Invalid(f"unknown counter {counter_code!r}")
    unit = session.get(Unit, counter.unit_id)
    if unit is None or not is_in_subtree(unit=unit, root=scope):
        raise Forbidden(f"counter {counter_code!r} is outside unit {scope.code!r} and its subtree")
    if not counter.active or not unit.active:
        raise Invalid(f"counter {counter_code!r} is inactive")
    field = session.exec(select(ProcedureField).where(ProcedureField.code == field_code)).first()
    if field is None or not field.active:
        raise Invalid(f"unknown field {field_code!r}" if field is None else f"field {field_code!r} is inactive")
    if officer_code is not None:
        officer = session.exec(select(Officer).where(Officer.code == officer_code)).first()
        if officer is None or not officer.active:
            raise Invalid(
                f"unknown officer {officer_code!r}" if officer is None else f"officer {officer_code!r} is inactive"
            )
        officer_unit = session.get(Unit, officer.unit_id)
        if officer_unit is None or not is_in_subtree(unit=officer_unit, root=scope):
            raise Invalid(f"officer {officer_code!r} is outside unit {scope.code!r} and its subtree")
        officer_id = officer.id
    visit = Visit(
        token=new_token(),
        counter_id=counter.id,  # type: ignore[arg-type]
        field_id=field.id,  # type: ignore[arg-type]
        procedure_code=procedure_code or None,
        dossier_code=dossier_code or None,
        officer_id=officer_id,
        created_at=now,
        expires_at=now + timedelta(days=settings.visit_ttl_days),
    )
    # 72 random bits make a clash practically impossible; the unique index would still refuse one, so retry.
    for _attempt in range(3):
        try:
            with session.begin_nested():
                session.add(visit)
                session.flush()
            return visit
        except sa.exc.IntegrityError:
            visit.token = new_token()
    raise Conflict("could not allocate a visit token; try again")


def find_visit(*, session: Session, token: str) -> Visit | None:
    """The visit with this token, if any."""
    if not looks_like_token(token):
        return None
    return session.exec(select(Visit).where(Visit.token == token)).first()


def visit_to_rate(*, session: Session, token: str, now: datetime | None = None) -> Visit:
    """The visit a rating link points to: 404 unknown, 409 already rated (any channel), 410 expired."""
    if not looks_like_token(token):
        raise NotFound("unknown rating link")
    # One round trip for the visit and whether any channel rated it (the phone page asks this twice per rating).
    rated = sa.exists().where(col(Rating.visit_id) == col(Visit.id))
    found = session.execute(select(Visit, rated).where(Visit.token == token)).first()
    if found is None:
        raise NotFound("unknown rating link")
    visit, has_rating = found
    if visit.rated_at is not None or has_rating:
        raise Conflict("this visit has been rated already")
    if visit.expires_at <= (now or utcnow()):
        raise Gone("this rating link has expired")
    return visit


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


def recent_visits(*, session: Session, counter: Counter, limit: int = 5) -> list[Visit]:
    """The latest visits registered at a counter, newest first."""
    return list(
        session.exec(
            select(Visit).where(Visit.counter_id == counter.id).order_by(col(Visit.created_at).desc()).limit(limit)
        ).all()
    )

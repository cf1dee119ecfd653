"""Test data for visits, phone ratings and the counter console (reference data comes from the migrations)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from server.auth.service import create_api_key
from server.db import utcnow
from server.models import Counter, Officer, Unit, User, Visit
from server.visits.service import new_token
from tests import factories


def visit(
    session: Session,
    counter: Counter,
    *,
    field_code: str = "land",
    officer: Officer | None = None,
    expires_in: timedelta = timedelta(days=30),
    created_by: User | None = None,
) -> Visit:
    """A visit at `counter`, valid for `expires_in` (negative: already expired), registered by `created_by`'s
    session (None: the creator is not recorded, as for visits from before migration 0015)."""
    now = utcnow()
    row = Visit(
        token=new_token(),
        counter_id=counter.id,  # type: ignore[arg-type]
        field_id=factories.field(session, field_code).id,  # type: ignore[arg-type]
        officer_id=officer.id if officer else None,
        created_at=now,
        expires_at=now + expires_in,
        created_by_kind=f"{created_by.role}_session" if created_by else None,
        created_by_user_id=created_by.id if created_by else None,
    )
    session.add(row)
    session.flush()
    return row


def api_key(session: Session, unit: Unit, kind: str = "visits") -> str:
    """A new API key of `kind` for `unit`'s subtree."""
    return create_api_key(session=session, kind=kind, unit=unit)[1]

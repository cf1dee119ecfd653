"""Kiosk ratings that answer a visit: the visits locked, checked against the device, and marked rated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.errors import AppError
from server.ingest.device import IngestDevice
from server.tables import VISIT


def lock_visits(conn: sa.Connection, tokens: set[str]) -> dict[str, dict[str, Any]]:
    """The visits named by the batch, locked (PostgreSQL) so a phone rating cannot slip in between."""
    if not tokens:
        return {}
    v = VISIT.c
    query = (
        sa.select(v.id, v.token, v.counter_id, v.field_id, v.officer_id, v.expires_at, v.rated_at)
        .where(v.token.in_(sorted(tokens)))
        .order_by(v.id)
        .with_for_update()
    )
    return {row.token: row._asdict() for row in conn.execute(query)}


def visit_problem(visit: dict[str, Any] | None, device: IngestDevice, rated_at: datetime) -> str | None:
    """Why a rating cannot answer this visit (unknown, another counter's, expired), or None."""
    if visit is None:
        return "unknown visit token"
    if visit["counter_id"] != device.counter_id:
        return "the visit belongs to another counter"
    if rated_at > visit["expires_at"]:
        return "the visit had expired when this rating was made"
    return None


def mark_visit_rated(conn: sa.Connection, visit_id: int, rated_at: datetime) -> None:
    """Record that the visit has its rating; 409 when a phone rating took it in the meantime."""
    done = conn.execute(
        sa.update(VISIT).where(VISIT.c.id == visit_id, VISIT.c.rated_at.is_(None)).values(rated_at=rated_at)
    )
    if done.rowcount != 1:  # rated by phone in the meantime without a rating row: let the kiosk send again
        raise AppError("a visit in this batch was rated at the same moment; send the batch again", 409)

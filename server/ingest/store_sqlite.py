"""SQLite writes: the ratings in one `INSERT … ON CONFLICT DO NOTHING RETURNING id`, then their reasons (the device's
row is updated by `server.ingest.device.update_device`). SQLite serialises writers (`BEGIN IMMEDIATE`)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.ingest.candidates import Candidate, Rows, comment
from server.ingest.misuse import MISUSE_RAPID_REPEAT
from server.tables import RATING, RATING_REASON


def rating_row(rows: Rows, cand: Candidate) -> dict[str, Any]:
    """Every column of the rating row."""
    item, visit = cand.item, cand.visit
    return {
        "id": item.id,
        "level": item.level,
        "satisfied": rows.ref.satisfied[item.level],
        "field_id": visit["field_id"] if visit else rows.ref.fields[item.field],
        "unit_id": rows.device.unit_id,
        "counter_id": rows.device.counter_id,
        "officer_id": visit["officer_id"] if visit else None,
        "visit_id": visit["id"] if visit else None,
        "channel": "kiosk",
        "comment": comment(item),
        "contact": None,
        "contact_consent": False,
        "rated_at": cand.rated_at,
        "client_rated_at": item.rated_at,
        "local_date": cand.rated_at.astimezone(rows.tz).date(),
        "received_at": rows.now,
        "device_id": rows.device.id,
        "misuse": cand.misuse,
        "misuse_reason": MISUSE_RAPID_REPEAT if cand.misuse else None,
    }


def insert_ratings(conn: sa.Connection, candidates: list[Candidate], rows: Rows) -> set[uuid.UUID] | None:
    """Insert what is new, skip what exists (by id, or a visit already rated); the ids inserted (None: all)."""
    if not candidates:
        return None
    statement = sqlite_insert(RATING).on_conflict_do_nothing().returning(RATING.c.id)
    return set(conn.execute(statement, [rating_row(rows, c) for c in candidates]).scalars())


def insert_reasons(conn: sa.Connection, reasons: list[tuple[uuid.UUID, int]]) -> None:
    """The reasons of the ratings created (row-level triggers: one statement or many costs the same)."""
    if reasons:
        conn.execute(sa.insert(RATING_REASON), [{"rating_id": r, "reason_id": x} for r, x in reasons])

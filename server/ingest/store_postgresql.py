"""PostgreSQL writes: a batch's ratings, their reasons and its device's row in one statement (what exists is
skipped). A concurrent identical batch waits for the first insert and then skips."""

from __future__ import annotations

import uuid
from typing import Any

import pydantic_core
import sqlalchemy as sa

from server.ingest.candidates import Candidate, Rows, comment
from server.ingest.misuse import MISUSE_RAPID_REPEAT

#: Column, its key in the JSON sent to PostgreSQL, and its SQL type.
_PG_COLUMNS = [
    ("id", "i", "uuid"),
    ("level", "l", "int"),
    ("satisfied", "s", "bool"),
    ("field_id", "f", "int"),
    ("officer_id", "o", "int"),
    ("visit_id", "v", "int"),
    ("comment", "c", "text"),
    ("rated_at", "r", "timestamptz"),
    ("client_rated_at", "k", "timestamptz"),
    ("local_date", "d", "date"),
    ("misuse", "m", "bool"),
]
_PG_SCALARS = ["unit_id", "counter_id", "received_at", "device_id"]
# One round trip: the ratings (what exists is skipped), the reasons of those inserted, and the device's row (last
# contact, clock, latest walk-up press among those inserted). The statement-level triggers see all of it when the
# statement ends. What comes back is a count, and the ids only when some rows were skipped (a replay, a rated
# visit): the usual batch answers one row instead of 500.
_PG_INSERT = (
    "WITH inserted AS ("
    "INSERT INTO rating ({columns}, misuse_reason, {scalars}, channel, contact, contact_consent) "
    "SELECT {keys}, CASE WHEN r.m THEN '{misuse}' END, {scalar_params}, 'kiosk', NULL, false "
    "FROM json_to_recordset(%(rows)s::json) AS r({key_types}) "
    "ON CONFLICT DO NOTHING RETURNING id, rated_at, visit_id), "
    "reasons AS ("
    "INSERT INTO rating_reason (rating_id, reason_id) "
    "SELECT x.rating_id, x.reason_id FROM unnest(%(reason_ratings)s::uuid[], %(reasons)s::int[]) AS x(rating_id, "
    "reason_id) WHERE x.rating_id IN (SELECT id FROM inserted)), "
    "device AS ("
    "UPDATE kiosk_device SET last_seen_at = %(received_at)s, "
    "clock_offset_seconds = COALESCE(CAST(%(clock_offset_seconds)s AS double precision), clock_offset_seconds), "
    "clock_flagged = COALESCE(CAST(%(clock_flagged)s AS boolean), clock_flagged), "
    "last_press_at = GREATEST(last_press_at, (SELECT max(rated_at) FROM inserted WHERE visit_id IS NULL)) "
    "WHERE id = %(device_id)s) "
    "SELECT count(*), CASE WHEN count(*) < %(n)s THEN array_agg(id) END FROM inserted"
).format(
    columns=", ".join(name for name, _, _ in _PG_COLUMNS),
    scalars=", ".join(_PG_SCALARS),
    keys=", ".join(f"r.{key}" for _, key, _ in _PG_COLUMNS),
    misuse=MISUSE_RAPID_REPEAT,
    scalar_params=", ".join(f"%({name})s" for name in _PG_SCALARS),
    key_types=", ".join(f"{key} {kind}" for _, key, kind in _PG_COLUMNS),
)


def insert_ratings(
    conn: sa.Connection,
    candidates: list[Candidate],
    rows: Rows,
    reasons: list[tuple[uuid.UUID, int]],
    device_values: dict[str, Any],
) -> set[uuid.UUID] | None:
    """Insert what is new with its reasons, and update the device (see `_PG_INSERT`); the ids inserted (None: all)."""
    # The batch travels as one JSON document that PostgreSQL unpacks into rows, serialised by pydantic-core in
    # one call (UUIDs, times and dates included): far cheaper than adapting 500 × 11 parameters one by one, and
    # than turning each value into text in Python first.
    ref, tz = rows.ref, rows.tz
    records = []
    for cand in candidates:
        item, visit = cand.item, cand.visit
        records.append(
            {
                "i": item.id,
                "l": item.level,
                "s": ref.satisfied[item.level],
                "f": visit["field_id"] if visit else ref.fields[item.field],
                "o": visit["officer_id"] if visit else None,
                "v": visit["id"] if visit else None,
                "c": comment(item) if item.comment else None,
                "r": cand.rated_at,
                "k": item.rated_at,
                "d": cand.rated_at.astimezone(tz).date(),
                "m": cand.misuse,
            }
        )
    params = {
        "rows": pydantic_core.to_json(records).decode(),
        "n": len(candidates),
        "unit_id": rows.device.unit_id,
        "counter_id": rows.device.counter_id,
        "received_at": rows.now,
        "device_id": rows.device.id,
        "reason_ratings": [r[0] for r in reasons],
        "reasons": [r[1] for r in reasons],
        "clock_offset_seconds": device_values.get("clock_offset_seconds"),
        "clock_flagged": device_values.get("clock_flagged"),
    }
    count, ids = conn.exec_driver_sql(_PG_INSERT, params).one()
    return None if count == len(candidates) else set(ids or ())

"""Ratings not inserted (a replay, a rating under a known id, a visit already rated) compared with what is stored:
`duplicate` when it says the same, `conflict` otherwise (the stored row stays as it was)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa

from server.contracts import RatingIn
from server.errors import AppError
from server.ingest.device import IngestDevice
from server.ingest.references import Reference
from server.tables import RATING, RATING_REASON


def compare_with_stored(
    conn: sa.Connection,
    look_up: Sequence[tuple[int, RatingIn]],
    ref: Reference,
    visits: dict[str, dict[str, Any]],
    device: IngestDevice,
) -> list[tuple[int, RatingIn, Literal["duplicate", "conflict"], str | None]]:
    """`duplicate` when the stored rating says the same, `conflict` otherwise (the stored row stays as it was)."""
    if not look_up:
        return []
    ids = sorted({item.id for _, item in look_up})
    stored = {
        row.id: row
        for row in conn.execute(
            sa.select(
                RATING.c.id,
                RATING.c.level,
                RATING.c.field_id,
                RATING.c.counter_id,
                RATING.c.visit_id,
                RATING.c.comment,
                RATING.c.client_rated_at,
            ).where(RATING.c.id.in_(ids))
        )
    }
    reasons: dict[uuid.UUID, set[int]] = {}
    for rating_id, reason_id in conn.execute(
        sa.select(RATING_REASON.c.rating_id, RATING_REASON.c.reason_id).where(RATING_REASON.c.rating_id.in_(ids))
    ):
        reasons.setdefault(rating_id, set()).add(reason_id)
    out: list[tuple[int, RatingIn, Literal["duplicate", "conflict"], str | None]] = []
    for index, item in look_up:
        row = stored.get(item.id)
        if row is None:
            if item.visit_token:
                out.append((index, item, "conflict", "the visit has already been rated"))
                continue
            # Cannot happen with ON CONFLICT semantics; refuse the batch rather than answer wrongly.
            raise AppError("the batch could not be stored consistently; send it again", 503)
        visit = visits.get(item.visit_token) if item.visit_token else None
        same = (
            row.level == item.level
            and row.counter_id == device.counter_id
            and (
                row.visit_id == visit["id"]
                if visit
                else row.visit_id is None and row.field_id == ref.fields[item.field]
            )
            and (row.comment or None) == ((item.comment or "").strip() or None)
            and row.client_rated_at == item.rated_at
            and reasons.get(item.id, set()) == {ref.reasons[c] for c in item.reasons}
        )
        if same:
            out.append((index, item, "duplicate", None))
        else:
            out.append((index, item, "conflict", "a different rating is stored under this id; it was kept as it was"))
    return out

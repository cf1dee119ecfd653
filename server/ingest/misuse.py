"""Misuse detection: a walk-up press that comes too soon after the previous press at the same device is flagged
(`rapid_repeat`), whichever order the presses arrive in; a late-arriving press may flag a stored one."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

import sqlalchemy as sa

from server.config import Settings
from server.ingest.candidates import Candidate
from server.ingest.device import IngestDevice
from server.tables import RATING

MISUSE_RAPID_REPEAT = "rapid_repeat"


class Press(NamedTuple):
    """A rating as the misuse filter sees it: when, and whether it came without a visit."""

    id: uuid.UUID
    at: datetime
    walk_up: bool


def flag_rapid_repeats(presses: Iterable[Press], window: timedelta) -> set[uuid.UUID]:
    """Ids of walk-up presses that came less than `window` after the previous press at the same device.

    Order-independent: presses are taken in time order (ties by id), whatever order they arrived in.
    """
    ordered = sorted(presses, key=_TIME_THEN_ID)
    return {cur.id for prev, cur in itertools.pairwise(ordered) if cur.walk_up and cur.at - prev.at < window}


_TIME_THEN_ID = attrgetter("at", "id")


_PRESSES_AROUND = sa.select(RATING.c.id, RATING.c.rated_at, RATING.c.visit_id, RATING.c.misuse).where(
    RATING.c.device_id == sa.bindparam("device_id"),
    RATING.c.rated_at >= sa.bindparam("low", type_=RATING.c.rated_at.type),
    RATING.c.rated_at <= sa.bindparam("high", type_=RATING.c.rated_at.type),
)


def apply_misuse(
    conn: sa.Connection, device: IngestDevice, candidates: list[Candidate], settings: Settings
) -> set[uuid.UUID]:
    """Flag rapid repeats among the new ratings; return stored ones that a late-arriving press now flags."""
    window = timedelta(seconds=settings.misuse_window_seconds)
    if not candidates or window <= timedelta(0):
        return set()
    times = [c.rated_at for c in candidates]
    stored = conn.execute(
        _PRESSES_AROUND, {"device_id": device.id, "low": min(times) - window, "high": max(times) + window}
    ).all()
    presses = {row.id.int: Press(row.id, row.rated_at, row.visit_id is None) for row in stored}
    for cand in candidates:
        key = cand.item.id.int
        if key not in presses:
            presses[key] = Press(cand.item.id, cand.rated_at, cand.visit is None)
    flagged = flag_rapid_repeats(presses.values(), window)
    if not flagged:
        return set()
    stored_ids = {row.id for row in stored}
    for cand in candidates:
        if cand.item.id in flagged and cand.item.id not in stored_ids:
            cand.misuse = True
    return flagged & {row.id for row in stored if not row.misuse}


def flag_stored(conn: sa.Connection, ids: set[uuid.UUID]) -> None:
    """Flag stored ratings (those `apply_misuse` returned) that are not flagged yet."""
    if ids:
        conn.execute(
            sa.update(RATING)
            .where(RATING.c.id.in_(sorted(ids)), RATING.c.misuse.is_(False))
            .values(misuse=True, misuse_reason=MISUSE_RAPID_REPEAT)
        )

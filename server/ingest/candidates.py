"""The checks a rating must pass (known codes, a plausible time), and what a rating that passed them becomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from server.contracts import MAX_PAST_DAYS, RatingIn
from server.ingest.device import IngestDevice
from server.ingest.references import Reference


@dataclass(slots=True)
class Candidate:
    """A rating that passed the checks: where it stands in the batch, its corrected time, and its visit if any."""

    index: int
    item: RatingIn
    rated_at: datetime
    visit: dict[str, Any] | None = None
    misuse: bool = False


def item_problem(
    item: RatingIn, ref: Reference, rated_at: datetime, earliest: datetime, latest: datetime
) -> str | None:
    """Why the rating cannot be stored (an unknown code, a time out of range), or None."""
    if item.level not in ref.satisfied:
        return f"unknown level {item.level}; the scale has {', '.join(str(v) for v in sorted(ref.satisfied))}"
    if item.visit_token is None and item.field not in ref.fields:
        return f"unknown field {item.field!r}"
    for code in item.reasons:
        if code not in ref.reasons:
            return f"unknown reason {code!r}"
    if rated_at < earliest:
        return f"rated_at is more than {MAX_PAST_DAYS} days in the past"
    if rated_at > latest:
        return "rated_at lies in the future (after correcting the device's clock)"
    return None


def by_id(cand: Candidate) -> int:
    """The sort key of one lock order for every transaction."""
    return cand.item.id.int  # the order of the canonical text and of PostgreSQL's uuid alike


@dataclass(frozen=True)
class Rows:
    """What turns candidates into `rating` rows: the codes, the device and its unit, the time, the reporting zone."""

    ref: Reference
    device: IngestDevice
    now: datetime
    tz: tzinfo


def comment(item: RatingIn) -> str | None:
    """The comment as stored: trimmed, None when empty."""
    return (item.comment or "").strip() or None

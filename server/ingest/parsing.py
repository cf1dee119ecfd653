"""A kiosk batch's body: the envelope checked as a whole, each rating on its own (a bad one never spoils the rest)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from server.config import Settings
from server.contracts import RatingIn, RatingsBatch, RawRatingsBatch
from server.errors import Invalid, PayloadTooLarge

#: Body cap per rating of a batch (a kiosk's rating is ~250 bytes; a 1000-character comment may take 6 KB).
BYTES_PER_RATING = 8192


@dataclass(frozen=True)
class InvalidItem:
    """An item that failed validation: its id as sent (when it was text) and why."""

    raw_id: str | None
    detail: str


Item = RatingIn | InvalidItem


@dataclass(frozen=True)
class ParsedBatch:
    """A batch envelope: its items, each checked on its own, and the device's clock when it was sent."""

    items: list[Item]
    sent_at: datetime | None


def max_body_bytes(settings: Settings) -> int:
    """The largest ingest body accepted."""
    return 4096 + settings.max_batch * BYTES_PER_RATING


def parse_batch(body: bytes, *, max_batch: int) -> ParsedBatch:
    """Validate the envelope (422 when malformed, 413 when too many items) and each item on its own."""
    try:
        batch = RatingsBatch.model_validate_json(body)
    except ValidationError as exc:
        if any(not _inside_an_item(err["loc"]) for err in exc.errors()):
            raise _envelope_problem(exc) from None
    else:
        if len(batch.ratings) > max_batch:
            raise _too_many(len(batch.ratings), max_batch)
        return ParsedBatch(items=list(batch.ratings), sent_at=batch.sent_at)
    raw = RawRatingsBatch.model_validate_json(body)  # the envelope itself was valid
    if len(raw.ratings) > max_batch:
        raise _too_many(len(raw.ratings), max_batch)
    return ParsedBatch(items=[_validate_item(item) for item in raw.ratings], sent_at=raw.sent_at)


def _inside_an_item(loc: tuple[int | str, ...]) -> bool:
    return len(loc) >= 2 and loc[0] == "ratings" and isinstance(loc[1], int)


def _too_many(n: int, max_batch: int) -> PayloadTooLarge:
    return PayloadTooLarge("{n} ratings in one request; at most {most} are accepted", n=n, most=max_batch)


def _envelope_problem(exc: ValidationError) -> Invalid:
    err = exc.errors()[0]
    if err["type"] == "json_invalid":
        return Invalid("the body is not valid JSON; send {example} as application/json", example='{"ratings": [...]}')
    if err["type"] == "model_type" and not err["loc"]:
        return Invalid("the body must be a JSON object: {example}", example='{"ratings": [...], "sent_at": "..."}')
    where = ".".join(str(p) for p in err["loc"])
    # pydantic's own sentence, in English on every page (it has no catalog of ours)
    problem = str(err["msg"])
    return (
        Invalid("{where}: {problem}", where=where, problem=problem) if where else Invalid("{problem}", problem=problem)
    )


def _validate_item(item: Any) -> Item:
    if not isinstance(item, dict):
        return InvalidItem(raw_id=None, detail="each rating must be a JSON object")
    raw_id = item.get("id")
    raw_id = raw_id if isinstance(raw_id, str) else None
    try:
        return RatingIn.model_validate(item)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:3]:
            where = ".".join(str(p) for p in err["loc"])
            problems.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
        return InvalidItem(raw_id=raw_id, detail="; ".join(problems))

"""Kiosk ratings into the central store, exactly once per id.

A batch is checked item by item (a bad item never spoils the others), then inserted with one
`INSERT … ON CONFLICT DO NOTHING RETURNING id`: what comes back was created now; whatever did not is looked up
and compared, so a replay answers `duplicate` and a different rating under a known id answers `conflict`, leaving
the stored row as it was. Concurrent identical batches are safe on both backends: PostgreSQL makes the second
insert wait for the first and then skip, SQLite serialises writers (`BEGIN IMMEDIATE`).

The hot path avoids the ORM: a handful of queries per batch whatever its size.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from operator import attrgetter
from typing import Any, Literal, NamedTuple

import pydantic_core
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from server.auth.service import hash_token
from server.config import Settings
from server.contracts import (
    MAX_FUTURE_SECONDS,
    MAX_PAST_DAYS,
    RatingIn,
    RatingsBatch,
    RawRatingsBatch,
)
from server.db import utcnow
from server.errors import AppError, Invalid, PayloadTooLarge, Unauthorized
from server.tables import COUNTER, DEVICE, FIELD, RATING, RATING_REASON, REASON, SCALE, VISIT

#: Body cap per rating of a batch (a kiosk's rating is ~250 bytes; a 1000-character comment may take 6 KB).
BYTES_PER_RATING = 8192
CLOCK_TOLERANCE_SECONDS = 300
MISUSE_RAPID_REPEAT = "rapid_repeat"


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


@dataclass(frozen=True)
class Reference:
    """Codes the batch may use: field and reason ids by code, and each level's `satisfied` flag."""

    fields: dict[str, int]
    reasons: dict[str, int]
    satisfied: dict[int, bool]


class Press(NamedTuple):
    """A rating as the misuse filter sees it: when, and whether it came without a visit."""

    id: uuid.UUID
    at: datetime
    walk_up: bool


@dataclass(frozen=True, slots=True)
class IngestDevice:
    """The kiosk delivering a batch: what the ingest needs of its row, read (and on PostgreSQL locked) at once."""

    id: int
    counter_id: int
    unit_id: int
    last_press_at: datetime | None


# One round trip for the device, its unit, the lock and the transaction's plan cache mode (PostgreSQL).
_DEVICE_FOR_INGEST = (
    sa.select(DEVICE.c.id, DEVICE.c.counter_id, COUNTER.c.unit_id, DEVICE.c.last_press_at, DEVICE.c.revoked_at)
    .select_from(DEVICE.join(COUNTER, COUNTER.c.id == DEVICE.c.counter_id))
    .where(DEVICE.c.token_hash == sa.bindparam("token_hash"))
)
# SQLite: FOR UPDATE is not sent, but it makes server/db.py take the write lock before this read, so the misuse
# check sees the device's latest press (as the row lock does on PostgreSQL).
_DEVICE_FOR_INGEST_SQLITE = _DEVICE_FOR_INGEST.with_for_update()
# One batch per device at a time. A device's forwarder sends one batch after another, but a retry racing a slow first
# attempt would otherwise run the misuse check on a stale view and could deadlock with it in the rollup triggers (the
# misuse UPDATE revisits rollup rows the insert already locked); `make bench` met such deadlocks with concurrent
# requests from one device. (SQLite has one writer anyway.) Waiting for the lock holds a worker thread;
# server/admission.py keeps fewer requests in the app than threads, so the holder always gets one to finish.
#
# The engine plans every statement for its parameters (`force_custom_plan`, for the reports). That holds for the
# foreign-key checks PostgreSQL runs on each inserted row too: 5 per rating, each planned anew, was over half of the
# database's work for a batch. Their plans never depend on the values: this transaction uses the default mode.
_DEVICE_FOR_INGEST_PG = _DEVICE_FOR_INGEST.add_columns(
    sa.func.set_config("plan_cache_mode", "auto", sa.true()).label("plan_cache_mode")
).with_for_update(of=DEVICE)


def device_for_ingest(conn: sa.Connection, token: str) -> IngestDevice:
    """The live device holding this bearer token, locked until the transaction ends (PostgreSQL); 401 otherwise."""
    query = _DEVICE_FOR_INGEST_PG if conn.dialect.name == "postgresql" else _DEVICE_FOR_INGEST_SQLITE
    row = conn.execute(query, {"token_hash": hash_token(token)}).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked device token", headers={"WWW-Authenticate": "Bearer"})
    return IngestDevice(id=row.id, counter_id=row.counter_id, unit_id=row.unit_id, last_press_at=row.last_press_at)


def max_body_bytes(settings: Settings) -> int:
    """The largest ingest body accepted."""
    return 4096 + settings.max_batch * BYTES_PER_RATING


def parse_batch(body: bytes, *, max_batch: int) -> ParsedBatch:
    """Validate the envelope (422 when malformed, 413 when too many items) and each item on its own."""
    try:
        batch = RatingsBatch.model_validate_json(body)
    except ValidationError as exc:
        if any(not _inside_an_item(err["loc"]) for err in exc.errors()):
            raise Invalid(_envelope_problem(exc)) from None
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
    return PayloadTooLarge(f"{n} ratings in one request; at most {max_batch} are accepted")


def _envelope_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    if err["type"] == "json_invalid":
        return 'the body is not valid JSON; send {"ratings": [...]} as application/json'
    if err["type"] == "model_type" and not err["loc"]:
        return 'the body must be a JSON object: {"ratings": [...], "sent_at": "..."}'
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


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


def flag_rapid_repeats(presses: Iterable[Press], window: timedelta) -> set[uuid.UUID]:
    """Ids of walk-up presses that came less than `window` after the previous press at the same device.

    Order-independent: presses are taken in time order (ties by id), whatever order they arrived in.
    """
    ordered = sorted(presses, key=_TIME_THEN_ID)
    return {cur.id for prev, cur in itertools.pairwise(ordered) if cur.walk_up and cur.at - prev.at < window}


_TIME_THEN_ID = attrgetter("at", "id")


# The statements every batch runs are built once: building and cache-keying a SQLAlchemy statement costs about
# as much Python as executing it. One round trip for the three small tables (every request runs it, single
# ratings included).
_REFERENCE = sa.union_all(
    sa.select(sa.literal("f").label("kind"), FIELD.c.code.label("key"), FIELD.c.id.label("value")),
    sa.select(sa.literal("r"), REASON.c.code, REASON.c.id),
    sa.select(sa.literal("s"), sa.cast(SCALE.c.level, sa.String), sa.cast(SCALE.c.satisfied, sa.Integer)),
)


def load_reference(conn: sa.Connection) -> Reference:
    """Field and reason codes (inactive ones too: a kiosk may hold an older list) and the scale."""
    fields: dict[str, int] = {}
    reasons: dict[str, int] = {}
    satisfied: dict[int, bool] = {}
    for kind, key, value in conn.execute(_REFERENCE):
        if kind == "f":
            fields[key] = value
        elif kind == "r":
            reasons[key] = value
        else:
            satisfied[int(key)] = bool(value)
    return Reference(fields=fields, reasons=reasons, satisfied=satisfied)


#: How long a worker reuses the codes it read. Fields, reasons and the scale change only by migration (or by hand in
#: SQL); the application only renames fields and (de)activates them, which the ingest ignores. A batch naming a code
#: or level the cache does not hold reads them again at once, so a new code is never refused for a stale cache.
REFERENCE_SECONDS = 60.0


class ReferenceCache:
    """`load_reference`, kept by a worker for `seconds` (HAILONG_REFERENCE_CACHE_SECONDS): a round trip fewer."""

    def __init__(self, seconds: float = REFERENCE_SECONDS) -> None:
        self.seconds = seconds
        self._held: tuple[float, Reference] | None = None  # replaced whole: safe across the worker's threads

    def get(self, conn: sa.Connection, items: Iterable[Item]) -> Reference:
        """The codes, read again when older than `seconds` or when one of `items` names one they lack."""
        held, now = self._held, time.monotonic()
        if held is not None and now - held[0] < self.seconds and _knows_all(held[1], items):
            return held[1]
        ref = load_reference(conn)
        self._held = (now, ref)
        return ref


def _knows_all(ref: Reference, items: Iterable[Item]) -> bool:
    for item in items:
        if isinstance(item, InvalidItem):
            continue
        if item.level not in ref.satisfied or (item.visit_token is None and item.field not in ref.fields):
            return False
        for code in item.reasons:
            if code not in ref.reasons:
                return False
    return True


@dataclass(slots=True)
class _Candidate:
    """A rating that passed the checks: where it stands in the batch, its corrected time, and its visit if any."""

    index: int
    item: RatingIn
    rated_at: datetime
    visit: dict[str, Any] | None = None
    misuse: bool = False


#: One answer: the id as answered (a UUID, or the text sent when it was not one), the status, and a detail for
#: `conflict` and `invalid`.
Outcome = tuple[uuid.UUID | str | None, str, str | None]


def ingest_ratings(
    *,
    session: Session,
    device: IngestDevice,
    batch: ParsedBatch,
    settings: Settings,
    now: datetime | None = None,
    reference: ReferenceCache | None = None,
) -> list[Outcome]:
    """Store a device's batch (the device read by `device_for_ingest` in this transaction); one outcome per item,
    in order (see the module docstring)."""
    now = now or utcnow()
    conn = session.connection()
    offset = now - batch.sent_at if batch.sent_at is not None else timedelta(0)
    ref = reference.get(conn, batch.items) if reference is not None else load_reference(conn)
    earliest = now - timedelta(days=MAX_PAST_DAYS)
    latest = now + timedelta(seconds=MAX_FUTURE_SECONDS)
    results: list[Outcome | None] = [None] * len(batch.items)

    # This loop and the ones below run for every rating of every batch: plain tuples and slots, no per-item dicts.
    checked: list[_Candidate] = []
    for i, item in enumerate(batch.items):
        if isinstance(item, InvalidItem):
            results[i] = (item.raw_id, "invalid", item.detail)
            continue
        try:
            rated_at = (item.rated_at + offset).astimezone(UTC)
        except OverflowError:  # a time (or device clock) near year 1 or 9999
            results[i] = (item.id, "invalid", "rated_at is out of range after clock correction")
            continue
        problem = _item_problem(item, ref, rated_at, earliest, latest)
        if problem:
            results[i] = (item.id, "invalid", problem)
        else:
            checked.append(_Candidate(i, item, rated_at))

    visits = _lock_visits(conn, {c.item.visit_token for c in checked if c.item.visit_token})
    candidates: list[_Candidate] = []
    look_up: list[tuple[int, RatingIn]] = []  # not inserted now: a replay, a conflict, or a rated visit
    seen_ids: set[int] = set()  # UUIDs as integers: hashed in C, not by UUID.__hash__
    used_visits: set[int] = set()
    for cand in checked:
        item = cand.item
        visit = None
        if item.visit_token:
            visit = cand.visit = visits.get(item.visit_token)
            problem = _visit_problem(visit, device, cand.rated_at)
            if problem:
                results[cand.index] = (item.id, "invalid", problem)
                continue
        key = item.id.int
        if key in seen_ids or (visit is not None and (visit["rated_at"] is not None or visit["id"] in used_visits)):
            look_up.append((cand.index, item))
            continue
        seen_ids.add(key)
        if visit is not None:
            used_visits.add(visit["id"])
        candidates.append(cand)

    existing_flags = _apply_misuse(conn, device, candidates, settings)
    candidates.sort(key=_by_id)  # one lock order for every transaction: no deadlocks between batches
    rows = _Rows(ref=ref, device=device, now=now, tz=settings.tz)
    device_values = _device_values(device, now, batch.sent_at, offset)
    reason_rows = [(cand.item.id, ref.reasons[code]) for cand in candidates for code in sorted(set(cand.item.reasons))]
    if conn.dialect.name == "postgresql" and candidates:
        # Ratings, their reasons and the device's row in one statement (the reasons of ratings skipped are not).
        inserted = _insert_ratings_postgresql(conn, candidates, rows, reason_rows, device_values)
        device_updated = True
    else:
        inserted = _insert_ratings(conn, candidates, rows)
        device_updated = False
    created: list[_Candidate] = []
    for cand in candidates:
        item = cand.item
        if inserted is not None and item.id not in inserted:
            look_up.append((cand.index, item))
            continue
        results[cand.index] = (item.id, "created", None)
        created.append(cand)
        if cand.visit is not None:
            _mark_visit_rated(conn, cand.visit["id"], cand.rated_at)
    if not device_updated:
        created_ids = {cand.item.id for cand in created}
        _insert_reasons(conn, [r for r in reason_rows if r[0] in created_ids])
    if existing_flags:
        conn.execute(
            sa.update(RATING)
            .where(RATING.c.id.in_(sorted(existing_flags)), RATING.c.misuse.is_(False))
            .values(misuse=True, misuse_reason=MISUSE_RAPID_REPEAT)
        )
    for index, item, status, detail in _compare_with_stored(conn, look_up, ref, visits, device):
        results[index] = (item.id, status, detail)

    if not device_updated:
        _update_device(conn, device, device_values, created)
    return [r for r in results if r is not None]


def _by_id(cand: _Candidate) -> int:
    return cand.item.id.int  # the order of the canonical text and of PostgreSQL's uuid alike


def _visit_problem(visit: dict[str, Any] | None, device: IngestDevice, rated_at: datetime) -> str | None:
    if visit is None:
        return "unknown visit token"
    if visit["counter_id"] != device.counter_id:
        return "the visit belongs to another counter"
    if rated_at > visit["expires_at"]:
        return "the visit had expired when this rating was made"
    return None


def _item_problem(
    item: RatingIn, ref: Reference, rated_at: datetime, earliest: datetime, latest: datetime
) -> str | None:
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


def _lock_visits(conn: sa.Connection, tokens: set[str]) -> dict[str, dict[str, Any]]:
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


@dataclass(frozen=True)
class _Rows:
    """What turns candidates into `rating` rows: the codes, the device and its unit, the time, the reporting zone."""

    ref: Reference
    device: IngestDevice
    now: datetime
    tz: tzinfo

    def full(self, cand: _Candidate) -> dict[str, Any]:
        """Every column of the rating row."""
        item, visit = cand.item, cand.visit
        return {
            "id": item.id,
            "level": item.level,
            "satisfied": self.ref.satisfied[item.level],
            "field_id": visit["field_id"] if visit else self.ref.fields[item.field],
            "unit_id": self.device.unit_id,
            "counter_id": self.device.counter_id,
            "officer_id": visit["officer_id"] if visit else None,
            "visit_id": visit["id"] if visit else None,
            "channel": "kiosk",
            "comment": _comment(item),
            "contact": None,
            "contact_consent": False,
            "rated_at": cand.rated_at,
            "client_rated_at": item.rated_at,
            "local_date": cand.rated_at.astimezone(self.tz).date(),
            "received_at": self.now,
            "device_id": self.device.id,
            "misuse": cand.misuse,
            "misuse_reason": MISUSE_RAPID_REPEAT if cand.misuse else None,
        }


def _comment(item: RatingIn) -> str | None:
    return (item.comment or "").strip() or None


_PRESSES_AROUND = sa.select(RATING.c.id, RATING.c.rated_at, RATING.c.visit_id, RATING.c.misuse).where(
    RATING.c.device_id == sa.bindparam("device_id"),
    RATING.c.rated_at >= sa.bindparam("low", type_=RATING.c.rated_at.type),
    RATING.c.rated_at <= sa.bindparam("high", type_=RATING.c.rated_at.type),
)


def _apply_misuse(
    conn: sa.Connection, device: IngestDevice, candidates: list[_Candidate], settings: Settings
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


def _insert_ratings(conn: sa.Connection, candidates: list[_Candidate], rows: _Rows) -> set[uuid.UUID] | None:
    """SQLite: insert what is new, skip what exists (by id, or a visit already rated); the ids inserted (None: all)."""
    if not candidates:
        return None
    statement = sqlite_insert(RATING).on_conflict_do_nothing().returning(RATING.c.id)
    return set(conn.execute(statement, [rows.full(c) for c in candidates]).scalars())


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


def _insert_ratings_postgresql(
    conn: sa.Connection,
    candidates: list[_Candidate],
    rows: _Rows,
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
                "c": _comment(item) if item.comment else None,
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


def _insert_reasons(conn: sa.Connection, reasons: list[tuple[uuid.UUID, int]]) -> None:
    """SQLite: the reasons of the ratings created (row-level triggers: one statement or many costs the same)."""
    if reasons:
        conn.execute(sa.insert(RATING_REASON), [{"rating_id": r, "reason_id": x} for r, x in reasons])


def _mark_visit_rated(conn: sa.Connection, visit_id: int, rated_at: datetime) -> None:
    done = conn.execute(
        sa.update(VISIT).where(VISIT.c.id == visit_id, VISIT.c.rated_at.is_(None)).values(rated_at=rated_at)
    )
    if done.rowcount != 1:  # rated by phone in the meantime without a rating row: let the kiosk send again
        raise AppError("a visit in this batch was rated at the same moment; send the batch again", 409)


def _compare_with_stored(
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


# The SET clause is whichever columns the parameters name.
_UPDATE_DEVICE = sa.update(DEVICE).where(DEVICE.c.id == sa.bindparam("device_key"))


def _device_values(device: IngestDevice, now: datetime, sent_at: datetime | None, offset: timedelta) -> dict[str, Any]:
    """What a batch records on its device's row, but the latest press: last contact and the clock's offset."""
    values: dict[str, Any] = {"last_seen_at": now}
    if sent_at is not None:
        values["clock_offset_seconds"] = round(offset.total_seconds(), 3)
        values["clock_flagged"] = abs(offset.total_seconds()) > CLOCK_TOLERANCE_SECONDS
    return values


def _update_device(
    conn: sa.Connection, device: IngestDevice, values: dict[str, Any], created: list[_Candidate]
) -> None:
    """The device's row when no rating was inserted (PostgreSQL), or on SQLite: `values` and the latest press."""
    walk_ups = [cand.rated_at for cand in created if cand.visit is None]
    if walk_ups:
        latest_press = max(walk_ups)
        if device.last_press_at is None or latest_press > device.last_press_at:
            values = {**values, "last_press_at": latest_press}
    conn.execute(_UPDATE_DEVICE, {"device_key": device.id, **values})


def results_json(results: list[Outcome]) -> bytes:
    """The answer body (`RatingsResult` in the contract), built without a second validation pass."""
    out = [
        {"id": rid, "status": status} if detail is None else {"id": rid, "status": status, "detail": detail}
        for rid, status, detail in results
    ]
    return pydantic_core.to_json({"results": out})  # UUIDs in their canonical text form

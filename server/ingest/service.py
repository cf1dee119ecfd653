"""Kiosk ratings into the central store, exactly once per id: the orchestration the route calls.

A batch is checked item by item (a bad item never spoils the others; `server.ingest.parsing`,
`server.ingest.candidates`, `server.ingest.visits`), flagged for misuse (`server.ingest.misuse`), then inserted with
one `INSERT … ON CONFLICT DO NOTHING RETURNING id` (`server.ingest.store_postgresql`, `server.ingest.store_sqlite`):
what comes back was created now; whatever did not is looked up and compared (`server.ingest.comparison`), so a
replay answers `duplicate` and a different rating under a known id answers `conflict`, leaving the stored row as it
was. Concurrent identical batches are safe on both backends: PostgreSQL makes the second insert wait for the first
and then skip, SQLite serialises writers (`BEGIN IMMEDIATE`).

The hot path avoids the ORM: a handful of queries per batch whatever its size.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pydantic_core
from sqlmodel import Session

from server.config import Settings
from server.contracts import MAX_FUTURE_SECONDS, MAX_PAST_DAYS, RatingIn
from server.db import utcnow
from server.ingest import store_postgresql, store_sqlite
from server.ingest.candidates import Candidate, Rows, by_id, item_problem
from server.ingest.comparison import compare_with_stored
from server.ingest.device import IngestDevice, device_values, update_device
from server.ingest.misuse import apply_misuse, flag_stored
from server.ingest.parsing import InvalidItem, ParsedBatch
from server.ingest.references import ReferenceCache, load_reference
from server.ingest.visits import lock_visits, mark_visit_rated, visit_problem

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
    checked: list[Candidate] = []
    for i, item in enumerate(batch.items):
        if isinstance(item, InvalidItem):
            results[i] = (item.raw_id, "invalid", item.detail)
            continue
        try:
            rated_at = (item.rated_at + offset).astimezone(UTC)
        except OverflowError:  # a time (or device clock) near year 1 or 9999
            results[i] = (item.id, "invalid", "rated_at is out of range after clock correction")
            continue
        problem = item_problem(item, ref, rated_at, earliest, latest)
        if problem:
            results[i] = (item.id, "invalid", problem)
        else:
            checked.append(Candidate(i, item, rated_at))

    visits = lock_visits(conn, {c.item.visit_token for c in checked if c.item.visit_token})
    candidates: list[Candidate] = []
    look_up: list[tuple[int, RatingIn]] = []  # not inserted now: a replay, a conflict, or a rated visit
    seen_ids: set[int] = set()  # UUIDs as integers: hashed in C, not by UUID.__hash__
    used_visits: set[int] = set()
    for cand in checked:
        item = cand.item
        visit = None
        if item.visit_token:
            visit = cand.visit = visits.get(item.visit_token)
            problem = visit_problem(visit, device, cand.rated_at)
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

    existing_flags = apply_misuse(conn, device, candidates, settings)
    candidates.sort(key=by_id)  # one lock order for every transaction: no deadlocks between batches
    rows = Rows(ref=ref, device=device, now=now, tz=settings.tz)
    values = device_values(device, now, batch.sent_at, offset)
    reason_rows = [(cand.item.id, ref.reasons[code]) for cand in candidates for code in sorted(set(cand.item.reasons))]
    if conn.dialect.name == "postgresql" and candidates:
        # Ratings, their reasons and the device's row in one statement (the reasons of ratings skipped are not).
        inserted = store_postgresql.insert_ratings(conn, candidates, rows, reason_rows, values)
        device_updated = True
    else:
        inserted = store_sqlite.insert_ratings(conn, candidates, rows)  # None, touching nothing, when there are none
        device_updated = False
    created: list[Candidate] = []
    for cand in candidates:
        item = cand.item
        if inserted is not None and item.id not in inserted:
            look_up.append((cand.index, item))
            continue
        results[cand.index] = (item.id, "created", None)
        created.append(cand)
        if cand.visit is not None:
            mark_visit_rated(conn, cand.visit["id"], cand.rated_at)
    if not device_updated:
        created_ids = {cand.item.id for cand in created}
        store_sqlite.insert_reasons(conn, [r for r in reason_rows if r[0] in created_ids])
    flag_stored(conn, existing_flags)
    for index, item, status, detail in compare_with_stored(conn, look_up, ref, visits, device):
        results[index] = (item.id, status, detail)

    if not device_updated:
        update_device(conn, device, values, [cand.rated_at for cand in created if cand.visit is None])
    return [r for r in results if r is not None]


def results_json(results: list[Outcome]) -> bytes:
    """The answer body (`RatingsResult` in the contract), built without a second validation pass."""
    out = [
        {"id": rid, "status": status} if detail is None else {"id": rid, "status": status, "detail": detail}
        for rid, status, detail in results
    ]
    return pydantic_core.to_json({"results": out})  # UUIDs in their canonical text form

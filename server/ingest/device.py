"""The kiosk delivering a batch: its row read and locked at the start of the transaction, and what the batch records
on it (last contact, the clock's offset, the latest walk-up press)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.auth.service import hash_token
from server.errors import Unauthorized
from server.tables import COUNTER, DEVICE

CLOCK_TOLERANCE_SECONDS = 300


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


def device_values(device: IngestDevice, now: datetime, sent_at: datetime | None, offset: timedelta) -> dict[str, Any]:
    """What a batch records on its device's row, but the latest press: last contact and the clock's offset."""
    values: dict[str, Any] = {"last_seen_at": now}
    if sent_at is not None:
        values["clock_offset_seconds"] = round(offset.total_seconds(), 3)
        values["clock_flagged"] = abs(offset.total_seconds()) > CLOCK_TOLERANCE_SECONDS
    return values


# The SET clause is whichever columns the parameters name.
_UPDATE_DEVICE = sa.update(DEVICE).where(DEVICE.c.id == sa.bindparam("device_key"))


def update_device(conn: sa.Connection, device: IngestDevice, values: dict[str, Any], walk_ups: list[datetime]) -> None:
    """The device's row when no rating was inserted (PostgreSQL), or on SQLite: `values` and the latest press among
    `walk_ups` (the times of the walk-up ratings created)."""
    if walk_ups:
        latest_press = max(walk_ups)
        if device.last_press_at is None or latest_press > device.last_press_at:
            values = {**values, "last_press_at": latest_press}
    conn.execute(_UPDATE_DEVICE, {"device_key": device.id, **values})

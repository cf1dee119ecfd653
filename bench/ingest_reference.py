"""The reference for bench.ingest: a minimal FastAPI endpoint that inserts what it is sent, nothing more.

No validation beyond `json.loads`, no idempotency, misuse or clock logic, no per-item answers worth the name: the
device's counter and unit come from a dictionary of token hashes read at start-up (no query per request), and the
batch goes to PostgreSQL as one plain `INSERT … SELECT FROM unnest(arrays)` with the raw driver (one connection per
worker thread, one transaction per request), its reasons as another. One statement per batch matters: the rollup
triggers run once per statement, and row-by-row statements from concurrent batches deadlock in them. The rating
table's indexes, foreign keys and triggers apply as for the real endpoint, so the pair shows what hailong's own work
costs on top of the database's.

    DATABASE_URL=postgresql+psycopg://... uvicorn bench.ingest_reference:create_app --factory
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Annotated

import psycopg
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header
from fastapi.responses import Response

from bench.single_reference import TZ, per_thread_connection, raw_body
from server.db import make_engine
from server.models import Rating, RatingReason

INSERT = (
    "INSERT INTO rating (id, level, satisfied, field_id, unit_id, counter_id, device_id, channel, contact_consent, "
    "rated_at, client_rated_at, local_date, received_at, misuse) "
    "SELECT r.id, r.level, r.level >= 3, %(field)s, %(unit)s, %(counter)s, %(device)s, 'kiosk', false, r.at, r.at, "
    "r.day, now(), false FROM unnest(%(ids)s::uuid[], %(levels)s::int[], %(ats)s::timestamptz[], %(days)s::date[]) "
    "AS r(id, level, at, day)"
)
REASONS = "INSERT INTO rating_reason (rating_id, reason_id) SELECT * FROM unnest(%(ids)s::uuid[], %(reasons)s::int[])"


DEVICES = "SELECT d.token_hash, d.id, d.counter_id, c.unit_id FROM kiosk_device d JOIN counter c ON c.id = d.counter_id"


def create_app() -> FastAPI:
    """The reference app on DATABASE_URL; ratings go to the counter and unit of the calling device."""
    url = os.environ["DATABASE_URL"]
    if url.startswith("sqlite"):
        return _sqlite_app(url)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        fields: dict[str, int] = dict(conn.execute("SELECT code, id FROM field").fetchall())
        reasons: dict[str, int] = dict(conn.execute("SELECT code, id FROM reason").fetchall())
        devices = {token_hash: tuple(ids) for token_hash, *ids in conn.execute(DEVICES)}
    connection = per_thread_connection(dsn)
    app = FastAPI()

    @app.post("/api/v1/ratings")
    def ingest(data: Annotated[bytes, Depends(raw_body)], authorization: Annotated[str, Header()]) -> Response:
        device_id, counter_id, unit_id = devices[hashlib.sha256(authorization[7:].encode()).hexdigest()]
        items = json.loads(data)["ratings"]
        ats = [datetime.fromisoformat(item["rated_at"]).astimezone(UTC) for item in items]
        params = {
            "ids": [uuid.UUID(item["id"]) for item in items],
            "levels": [item["level"] for item in items],
            "ats": ats,
            "days": [at.astimezone(TZ).date() for at in ats],
            "field": fields[items[0]["field"]],
            "unit": unit_id,
            "counter": counter_id,
            "device": device_id,
        }
        chosen = [(params["ids"][i], reasons[code]) for i, item in enumerate(items) for code in item["reasons"]]
        conn = connection()
        with conn.transaction():
            conn.execute(INSERT, params)
            if chosen:
                conn.execute(REASONS, {"ids": [c[0] for c in chosen], "reasons": [c[1] for c in chosen]})
        results = [{"id": item["id"], "status": "created"} for item in items]
        return Response(json.dumps({"results": results}), media_type="application/json")

    return app


def _sqlite_app(url: str) -> FastAPI:
    engine = make_engine(url)
    table = Rating.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        fields: dict[str, int] = dict(conn.execute(sa.text("SELECT code, id FROM field")).tuples().all())
        reasons: dict[str, int] = dict(conn.execute(sa.text("SELECT code, id FROM reason")).tuples().all())
        devices = {token_hash: tuple(ids) for token_hash, *ids in conn.execute(sa.text(DEVICES))}
    app = FastAPI()

    @app.post("/api/v1/ratings")
    def ingest(data: Annotated[bytes, Depends(raw_body)], authorization: Annotated[str, Header()]) -> Response:
        device_id, counter_id, unit_id = devices[hashlib.sha256(authorization[7:].encode()).hexdigest()]
        items = json.loads(data)["ratings"]
        rows = []
        for item in items:
            at = datetime.fromisoformat(item["rated_at"]).astimezone(UTC)
            rows.append(
                {
                    "id": uuid.UUID(item["id"]),
                    "level": item["level"],
                    "satisfied": item["level"] >= 3,
                    "field_id": fields[item["field"]],
                    "unit_id": unit_id,
                    "counter_id": counter_id,
                    "device_id": device_id,
                    "channel": "kiosk",
                    "rated_at": at,
                    "client_rated_at": at,
                    "local_date": at.astimezone(TZ).date(),
                    "received_at": at,
                }
            )
        chosen = [
            {"rating_id": row["id"], "reason_id": reasons[code]}
            for row, item in zip(rows, items, strict=True)
            for code in item["reasons"]
        ]
        with engine.begin() as conn:
            conn.execute(sa.insert(table), rows)
            if chosen:
                conn.execute(sa.insert(RatingReason.__table__), chosen)  # type: ignore[attr-defined]
        results = [{"id": item["id"], "status": "created"} for item in items]
        return Response(json.dumps({"results": results}), media_type="application/json")

    return app

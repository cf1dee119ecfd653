"""The reference for single-rating ingest: a minimal FastAPI endpoint, one row per request with the raw driver.

No authentication, no validation beyond `json.loads`, no idempotency, misuse, clock or rollup logic in Python:
`POST /api/v1/ratings` takes the same body as the real endpoint and inserts its rating(s) with psycopg (one
connection per worker thread, one transaction per request). By default it writes into `rating`, whose indexes,
foreign keys and rollup triggers apply as for the real endpoint; with `REFERENCE_TABLE=rating_plain` it writes into
a plain copy of the table (`CREATE TABLE rating_plain (LIKE rating INCLUDING ALL)`: the same columns and indexes, no
triggers, no foreign keys), so that the price of the rollups shows beside the price of our Python.

    DATABASE_URL=postgresql+psycopg://... uvicorn bench.single_reference:create_app --factory
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
INSERT = (
    "INSERT INTO {table} (id, level, satisfied, field_id, unit_id, counter_id, channel, contact_consent, rated_at, "
    "client_rated_at, local_date, received_at, misuse) "
    "VALUES (%s, %s, %s, %s, %s, %s, 'kiosk', false, %s, %s, %s, now(), false)"
)


async def raw_body(request: Request) -> bytes:
    """The request body as bytes."""
    return await request.body()


def per_thread_connection(dsn: str) -> Callable[[], psycopg.Connection[Any]]:
    """A function that gives each worker thread its own connection to `dsn`, opened on first use (again if closed)."""
    local = threading.local()

    def connection() -> psycopg.Connection[Any]:
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(dsn)
        return conn

    return connection


def create_app() -> FastAPI:
    """The reference app on DATABASE_URL; ratings go to counter id COUNTER_ID (default 1) and its unit."""
    dsn = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        fields = dict(conn.execute("SELECT code, id FROM field").fetchall())
        counter_id = int(os.environ.get("COUNTER_ID", "1"))
        row = conn.execute("SELECT unit_id FROM counter WHERE id = %s", (counter_id,)).fetchone()
        assert row is not None, "no such counter"
        unit_id = row[0]
    table = os.environ.get("REFERENCE_TABLE", "rating")
    if table not in ("rating", "rating_plain"):
        raise ValueError(f"REFERENCE_TABLE must be rating or rating_plain, not {table!r}")
    insert = INSERT.format(table=table)
    connection = per_thread_connection(dsn)
    app = FastAPI()

    @app.post("/api/v1/ratings")
    def ingest(data: Annotated[bytes, Depends(raw_body)]) -> Response:
        body = json.loads(data)
        conn = connection()
        with conn.transaction():
            for item in body["ratings"]:
                at = datetime.fromisoformat(item["rated_at"])
                level = int(item["level"])
                conn.execute(
                    insert,  # type: ignore[arg-type]
                    (
                        uuid.UUID(item["id"]),
                        level,
                        level >= 3,
                        fields[item["field"]],
                        unit_id,
                        counter_id,
                        at,
                        at,
                        at.astimezone(TZ).date(),
                    ),
                )
        results = [{"id": item["id"], "status": "created"} for item in body["ratings"]]
        return Response(json.dumps({"results": results}), media_type="application/json")

    return app

"""The reference for bench.ingest: a minimal FastAPI endpoint that inserts what it is sent, nothing more.

No authentication, no validation beyond `json.loads`, no idempotency, no misuse or clock logic: one
`INSERT … VALUES` executemany per batch through SQLAlchemy Core. It shows what this machine and database manage
for plain inserts over HTTP, so the real ingest's figure can be judged against it.

    DATABASE_URL=... uvicorn bench.ingest_reference:create_app --factory
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from server.db import make_engine
from server.models import Rating

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


async def raw_body(request: Request) -> bytes:
    """The request body as bytes."""
    return await request.body()


def create_app() -> FastAPI:
    """The reference app on DATABASE_URL (expects one unit, counter and field with id 1, as bench.ingest seeds)."""
    engine = make_engine(os.environ["DATABASE_URL"], pool_size=10)
    table = Rating.__table__  # type: ignore[attr-defined]
    app = FastAPI()

    @app.post("/api/v1/ratings")
    def ingest(data: Annotated[bytes, Depends(raw_body)]) -> Response:
        body = json.loads(data)
        rows = []
        for item in body["ratings"]:
            at = datetime.fromisoformat(item["rated_at"])
            rows.append(
                {
                    "id": uuid.UUID(item["id"]),
                    "level": item["level"],
                    "satisfied": item["level"] >= 3,
                    "field_id": 1,
                    "unit_id": 1,
                    "counter_id": 1,
                    "channel": "kiosk",
                    "rated_at": at,
                    "client_rated_at": at,
                    "local_date": at.astimezone(TZ).date(),
                    "received_at": at,
                }
            )
        with engine.begin() as conn:
            conn.execute(sa.insert(table), rows)
        results = [{"id": item["id"], "status": "created"} for item in body["ratings"]]
        return Response(json.dumps({"results": results}), media_type="application/json")

    return app

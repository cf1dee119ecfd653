"""The request's session (server.deps.get_session) without the tests' override: what a handler writes is committed
before the answer, whether the handler commits itself (the kiosk ingest) or leaves it to the dependency, and
rolled back when the handler raises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.db import make_engine, session_scope
from server.deps import SessionDep
from server.errors import Conflict
from server.models import Counter, Unit
from tests import factories
from tests.conftest import make_settings
from tests.databases import DatabaseFactory


def test_the_request_session_commits_before_the_answer_and_rolls_back_on_errors(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            counter = factories.counter(session, factories.unit(session, code="DEPS-U"))
            device, token = factories.kiosk_device(session, counter)
            device_id = device.id
        app = create_app(make_settings(url))

        @app.post("/test-only/fail")
        def fail(session: SessionDep) -> None:
            session.add(Unit(code="DEPS-NEVER", name="never", path="/"))
            session.flush()
            raise Conflict("refused after writing")

        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:
            # Committed by the dependency (in a worker thread) before the answer.
            assert (
                client.post(
                    "/api/v1/kiosks/heartbeat", json={"backlog": 3, "app_version": "t"}, headers=headers
                ).status_code
                == 200
            )
            with Session(engine) as check:
                assert (
                    check.execute(
                        sa.text("SELECT backlog FROM kiosk_device WHERE id = :id"), {"id": device_id}
                    ).scalar_one()
                    == 3
                )
            # Committed by the handler itself.
            rating = {
                "id": str(uuid.uuid4()), "level": 4, "field": "land", "visit_token": None, "reasons": ["late"],
                "comment": None, "rated_at": datetime.now(UTC).isoformat(),
            }  # fmt: skip
            answer = client.post("/api/v1/ratings", json={"ratings": [rating]}, headers=headers)
            assert answer.json()["results"][0]["status"] == "created"
            with Session(engine) as check:
                assert check.execute(sa.text("SELECT count(*) FROM rating_reason")).scalar_one() == 1
            # Rolled back.
            assert client.post("/test-only/fail").status_code == 409
            assert client.post("/api/v1/ratings", json={"ratings": [rating]}, headers={}).status_code == 401
            with Session(engine) as check:
                assert (
                    check.execute(
                        sa.select(sa.func.count()).select_from(Unit).where(Unit.code == "DEPS-NEVER")
                    ).scalar_one()
                    == 0
                )
                assert check.execute(sa.select(sa.func.count()).select_from(Counter)).scalar_one() == 1
    finally:
        engine.dispose()

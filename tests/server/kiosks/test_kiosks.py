"""Kiosk endpoints: pairing (single use, expiry, guessing limits), heartbeat, configuration, current visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from server.app import create_app
from server.auth.service import hash_token
from server.config import Settings
from server.db import make_engine, session_scope
from server.kiosks.service import CODE_ALPHABET, create_pairing_code
from server.models import Counter, KioskDevice, PairingAttempt, PairingCode, Visit
from tests import factories
from tests.conftest import make_settings
from tests.databases import DatabaseFactory


@pytest.fixture
def counter(session: Session) -> Counter:
    return factories.counter(session, factories.unit(session, name="Xã Ea Súp"))


def pair(client: TestClient, code: str) -> tuple[int, dict[str, Any]]:
    response = client.post("/api/v1/kiosks/pair", json={"code": code})
    return response.status_code, response.json()


def test_pairing_code_is_single_use_and_stored_as_a_hash(
    client: TestClient, session: Session, settings: Settings, counter: Counter
) -> None:
    code, expires_at = create_pairing_code(session=session, counter_code=counter.code, settings=settings)
    assert len(code.replace("-", "")) == 8 and set(code.replace("-", "")) <= set(CODE_ALPHABET)
    assert expires_at - datetime.now(UTC) > timedelta(hours=23)
    row = session.exec(select(PairingCode).where(PairingCode.counter_id == counter.id)).one()
    assert code.replace("-", "") not in row.code_hash and row.code_hash == hash_token(code.replace("-", ""))

    status, body = pair(client, code.lower().replace("-", " "))  # typed loosely on a keypad
    assert status == 201
    assert (body["counter"], body["unit"], body["unit_name"]) == (
        counter.code,
        session.get(factories.Unit, counter.unit_id).code,
        "Xã Ea Súp",
    )  # type: ignore[union-attr]
    device = session.exec(select(KioskDevice).where(KioskDevice.counter_id == counter.id)).one()
    assert device.token_hash == hash_token(body["token"]) and body["token"] not in device.token_hash
    # The answer carries what the kiosk shows, the very configuration its heartbeats answer: a kiosk has no lists of
    # its own (docs/API.md, "Kiosk pairing").
    auth = {"Authorization": f"Bearer {body['token']}"}
    heartbeat = client.post("/api/v1/kiosks/heartbeat", json={"backlog": 0, "app_version": "t"}, headers=auth).json()
    assert body["config"].pop("server_time") and heartbeat.pop("server_time")
    assert body["config"] == heartbeat
    assert [lv["level"] for lv in heartbeat["levels"]] == [4, 3, 2, 1] and len(heartbeat["fields"]) == 14
    again, answer = pair(client, code)
    assert again == 409 and "used" in answer["detail"]
    ingest = client.post("/api/v1/ratings", json={"ratings": []}, headers={"Authorization": f"Bearer {body['token']}"})
    assert ingest.status_code == 200


def test_expired_and_unknown_codes(client: TestClient, session: Session, settings: Settings, counter: Counter) -> None:
    code, _ = create_pairing_code(
        session=session, counter_code=counter.code, settings=settings, now=datetime.now(UTC) - timedelta(hours=25)
    )
    assert pair(client, code)[0] == 410
    assert pair(client, "ABCD-EFGH")[0] == 404
    assert pair(client, "x")[0] == 404
    assert client.post("/api/v1/kiosks/pair", json={"code": 12345678}).status_code == 422


def test_guessing_is_locked_per_caller(
    client: TestClient, session: Session, settings: Settings, counter: Counter
) -> None:
    code, _ = create_pairing_code(session=session, counter_code=counter.code, settings=settings)
    for _ in range(10):
        assert pair(client, "WRONG-ONE")[0] == 404
    status, body = pair(client, code)  # even the right code waits now
    assert status == 429 and "15 minutes" in body["detail"]
    failures = session.exec(select(PairingAttempt).where(col(PairingAttempt.succeeded).is_(False))).all()
    assert len(failures) == 10
    # Failures expire: a quarter of an hour later the right code works.
    for attempt in failures:
        attempt.at = datetime.now(UTC) - timedelta(minutes=16)
        session.add(attempt)
    session.flush()
    assert pair(client, code)[0] == 201


def test_guessing_from_many_addresses_locks_pairing_for_the_guessers(
    client: TestClient, session: Session, settings: Settings, counter: Counter
) -> None:
    session.add_all(PairingAttempt(client=f"10.0.0.{i}", succeeded=False) for i in range(100))
    session.flush()
    code, _ = create_pairing_code(session=session, counter_code=counter.code, settings=settings)
    assert pair(client, "WRONG-ONE")[0] == 404  # this caller's first wrong code makes it one of the guessers
    status, body = pair(client, code)
    assert status == 429 and "locked" in body["detail"]
    # A caller that never guessed wrong still pairs (issue 19, finding 6): tests/server/test_hardening_round2.py.


def test_inactive_counter(client: TestClient, session: Session, settings: Settings, counter: Counter) -> None:
    code, _ = create_pairing_code(session=session, counter_code=counter.code, settings=settings)
    counter.active = False
    session.add(counter)
    session.flush()
    assert pair(client, code)[0] == 409


def test_heartbeat_records_and_answers_the_configuration(
    client: TestClient, session: Session, counter: Counter
) -> None:
    device, token = factories.kiosk_device(session, counter)
    sent_at = datetime.now(UTC) - timedelta(minutes=10)  # a slow clock
    response = client.post(
        "/api/v1/kiosks/heartbeat",
        json={"backlog": 17, "dead_letters": 2, "app_version": "0.1.0", "sent_at": sent_at.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    cfg = response.json()
    assert cfg["counter"] == {"code": counter.code, "name": counter.name}
    assert [lv["level"] for lv in cfg["levels"]] == [4, 3, 2, 1]
    assert len(cfg["fields"]) == 14 and cfg["fields"][0]["code"] == "land"
    assert {r["code"] for r in cfg["reasons"]} >= {"late", "attitude"}
    session.refresh(device)
    assert (device.backlog, device.app_version, device.clock_flagged) == (17, "0.1.0", True)
    assert device.last_seen_at is not None and 590 < (device.clock_offset_seconds or 0) < 700
    assert (
        client.get("/api/v1/kiosks/config", headers={"Authorization": f"Bearer {token}"}).json()["unit"]["name"]
        == "Xã Ea Súp"
    )
    bad = client.post(
        "/api/v1/kiosks/heartbeat",
        json={"backlog": True, "app_version": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert bad.status_code == 422 and "backlog" in bad.json()["detail"]
    assert client.post("/api/v1/kiosks/heartbeat", json={"backlog": 0, "app_version": "x"}).status_code == 401


def test_current_visit_is_the_newest_open_one_at_this_counter(
    client: TestClient, session: Session, counter: Counter
) -> None:
    _, token = factories.kiosk_device(session, counter)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/kiosks/current-visit", headers=headers).json() == {"visit": None}
    now = datetime.now(UTC)
    factories.counter_visit(session, counter, created_at=now - timedelta(minutes=11))  # too old to offer
    other_counter = factories.counter(session, factories.unit(session))
    factories.counter_visit(session, other_counter, created_at=now)  # elsewhere
    older = factories.counter_visit(session, counter, field_code="tax", created_at=now - timedelta(minutes=3))
    newest = factories.counter_visit(session, counter, field_code="land", created_at=now - timedelta(minutes=1))
    rated = factories.counter_visit(session, counter, created_at=now)
    rated.rated_at = now
    expired = factories.counter_visit(session, counter, created_at=now, ttl=timedelta(seconds=-1))
    session.add_all([rated, expired])
    session.flush()
    visit = client.get("/api/v1/kiosks/current-visit", headers=headers).json()["visit"]
    assert (visit["token"], visit["field"]) == (newest.token, "land")
    assert datetime.fromisoformat(visit["expires_at"]) > datetime.fromisoformat(visit["created_at"])
    newest.rated_at = now
    session.add(newest)
    session.flush()
    assert client.get("/api/v1/kiosks/current-visit", headers=headers).json()["visit"]["token"] == older.token
    assert session.exec(select(Visit).where(Visit.token == older.token)).one().rated_at is None


def test_polling_for_visits_does_not_queue_for_the_sqlite_write_lock(db_factory: DatabaseFactory) -> None:
    """Idle kiosks poll every second; on SQLite those reads must not wait behind a writer."""
    url = db_factory.new_url()
    engine = make_engine(url)
    with session_scope(engine) as session:
        _, token = factories.kiosk_device(session, factories.counter(session, factories.unit(session)))
    writer = engine.connect()
    writer.execute(sa.text("UPDATE unit SET name = name"))  # an open write transaction (BEGIN IMMEDIATE on SQLite)
    try:
        with TestClient(create_app(make_settings(url))) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/kiosks/current-visit", headers=headers).json() == {"visit": None}
            assert client.get("/api/v1/kiosks/config", headers=headers).status_code == 200
    finally:
        writer.rollback()
        writer.close()
        engine.dispose()

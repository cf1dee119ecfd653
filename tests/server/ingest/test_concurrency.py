"""Concurrent deliveries through a real server and real transactions: every rating id is stored exactly once."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter as Tally
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from server.app import create_app
from server.db import make_engine, session_scope
from tests import factories
from tests.browser.conftest import serve
from tests.conftest import make_settings
from tests.databases import DatabaseFactory


def _paired_kiosk(url: str) -> str:
    engine = make_engine(url)
    with session_scope(engine) as session:
        counter = factories.counter(session, factories.unit(session))
        _, token = factories.kiosk_device(session, counter)
    engine.dispose()
    return token


def _batch(n: int) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(hours=2)
    return [
        {
            "id": str(uuid.uuid4()),
            "level": 1 + i % 4,
            "field": "land",
            "reasons": ["late"] if i % 4 == 0 else [],
            "rated_at": (start + timedelta(seconds=7 * i)).isoformat(),
        }
        for i in range(n)
    ]


def _post_together(base_url: str, token: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bodies))
    responses: list[httpx.Response | BaseException] = [RuntimeError("not run")] * len(bodies)

    def send(i: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            barrier.wait()
            try:
                responses[i] = client.post(
                    "/api/v1/ratings", json=bodies[i], headers={"Authorization": f"Bearer {token}"}
                )
            except BaseException as exc:
                responses[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = [r for r in responses if isinstance(r, httpx.Response)]
    assert len(out) == len(bodies), responses
    return out


def test_32_concurrent_identical_batches_store_each_rating_once(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    token = _paired_kiosk(url)
    ratings = _batch(200)
    with serve(create_app(make_settings(url))) as base_url:
        responses = _post_together(base_url, token, [{"ratings": ratings}] * 32)
    assert [r.status_code for r in responses] == [200] * 32, [r.text for r in responses if r.status_code != 200]
    per_id: dict[str, Tally[str]] = {}
    for response in responses:
        results = response.json()["results"]
        assert [r["id"] for r in results] == [r["id"] for r in ratings]
        for r in results:
            per_id.setdefault(r["id"], Tally())[r["status"]] += 1
    assert all(t == Tally({"created": 1, "duplicate": 31}) for t in per_id.values()), per_id
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*), count(DISTINCT id) FROM rating")).one() == (200, 200)
        assert conn.execute(sa.text("SELECT count(*) FROM rating_reason")).scalar_one() == 50
    engine.dispose()


def test_overlapping_batches_in_different_orders(db_factory: DatabaseFactory) -> None:
    """Batches sharing ids in other orders neither deadlock nor double-store."""
    url = db_factory.new_url()
    token = _paired_kiosk(url)
    ratings = _batch(120)
    bodies = []
    for i in range(12):
        part = ratings[i * 5 : i * 5 + 60]
        bodies.append({"ratings": part if i % 2 else part[::-1]})
    with serve(create_app(make_settings(url))) as base_url:
        responses = _post_together(base_url, token, bodies)
    assert [r.status_code for r in responses] == [200] * len(bodies)
    created = Tally(r["id"] for resp in responses for r in resp.json()["results"] if r["status"] == "created")
    assert set(created.values()) == {1}
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM rating")).scalar_one()
    engine.dispose()
    assert stored == len(created) == 115


def test_a_slow_upload_does_not_block_other_kiosks(db_factory: DatabaseFactory) -> None:
    """The body is read before the database is touched: a kiosk on a slow line holds no connection or lock."""
    import socket

    url = db_factory.new_url()
    slow_token, fast_token = _paired_kiosk(url), _paired_kiosk(url)
    body = json.dumps({"ratings": _batch(3)}).encode()
    with serve(create_app(make_settings(url))) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(
                b"POST /api/v1/ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {slow_token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            )
            time.sleep(0.3)  # the server has the headers and is waiting for the rest
            with httpx.Client(base_url=base_url, timeout=10) as client:
                fast = client.post(
                    "/api/v1/ratings", json={"ratings": _batch(2)}, headers={"Authorization": f"Bearer {fast_token}"}
                )
            assert [r["status"] for r in fast.json()["results"]] == ["created", "created"]
            slow.sendall(body[10:])
            answer = http.client.HTTPResponse(slow)
            answer.begin()
            statuses = [r["status"] for r in json.loads(answer.read())["results"]]
    assert answer.status == 200 and statuses == ["created"] * 3

"""The admission limit (server/admission.py) on a real server and real PostgreSQL: never more requests inside the
app than the pool has connections; the others wait before the app (holding neither a thread nor a connection) and
all complete once the first ones finish. Static files are not held back. SQLite gets no limit (one writer anyway).

Requests are held inside the app deterministically: the test locks the kiosks' rows, so each ingest request that
gets in waits on PostgreSQL's row lock (visible in pg_stat_activity) until the test lets go.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from server.admission import AdmissionLimitMiddleware
from server.app import create_app
from server.db import make_engine, session_scope
from tests import factories
from tests.browser.conftest import serve
from tests.conftest import make_settings
from tests.databases import DatabaseFactory

POOL_SIZE = 2  # 2 connections per worker (no overflow), so the limit is 2
KIOSKS = 5


def _admission(app: Any) -> AdmissionLimitMiddleware | None:
    node = app.middleware_stack
    while node is not None:
        if isinstance(node, AdmissionLimitMiddleware):
            return node
        node = getattr(node, "app", None)
    return None


def _kiosk_tokens(url: str, n: int) -> list[str]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        tokens = [
            factories.kiosk_device(session, factories.counter(session, factories.unit(session)))[1] for _ in range(n)
        ]
    engine.dispose()
    return tokens


def _batch() -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(minutes=5)
    ratings = [
        {"id": str(uuid.uuid4()), "level": 4, "field": "land", "rated_at": (at + timedelta(seconds=10 * i)).isoformat()}
        for i in range(3)
    ]
    return {"ratings": ratings, "sent_at": datetime.now(UTC).isoformat()}


def _eventually(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait for a state the test brings about (the timeout only turns a hang into a failure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.02)


def test_no_more_requests_inside_than_connections_and_all_complete(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    app = create_app(make_settings(url, db_pool_size=POOL_SIZE))
    if db_factory.backend == "sqlite":
        with serve(app) as base_url:
            assert httpx.get(base_url + "/healthz").status_code == 200
            admission = _admission(app)
        # SQLite serialises writers itself: no limit in front of the app (bodies are still read first, timed).
        assert admission is not None and admission.limit is None
        return
    tokens = _kiosk_tokens(url, KIOSKS)
    observer = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    locker = make_engine(url).connect()
    waiting_on_locks = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )

    def lock_waiters() -> int:
        with observer.connect() as conn:
            return int(conn.execute(waiting_on_locks).scalar_one())

    responses: dict[int, httpx.Response | BaseException] = {}

    def deliver(i: int, base_url: str) -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=120) as client:
                responses[i] = client.post(
                    "/api/v1/ratings", json=_batch(), headers={"Authorization": f"Bearer {tokens[i]}"}
                )
        except BaseException as exc:
            responses[i] = exc

    try:
        with serve(app) as base_url:
            assert httpx.get(base_url + "/healthz").status_code == 200  # builds the middleware stack
            admission = _admission(app)
            assert admission is not None and admission.limit == POOL_SIZE

            transaction = locker.begin()
            locker.execute(sa.text("SELECT id FROM kiosk_device FOR UPDATE"))  # every kiosk's batch will wait
            threads = [threading.Thread(target=deliver, args=(i, base_url)) for i in range(KIOSKS)]
            for t in threads:
                t.start()
            _eventually(
                lambda: admission.inside == 2 and admission.waiting == KIOSKS - 2 and lock_waiters() == 2,
                "2 requests inside waiting on the row locks, the others queued in front of the app",
            )
            # The queued ones hold no connection: the two inside are all PostgreSQL sees of the app.
            assert lock_waiters() == 2 and admission.inside == 2 and admission.waiting == KIOSKS - 2
            # Static files do not queue behind them.
            static = httpx.get(base_url + "/static/css/app.css", timeout=30)
            assert static.status_code == 200 and admission.waiting == KIOSKS - 2

            transaction.rollback()  # let go: every queued request gets its turn
            for t in threads:
                t.join(timeout=120)
            assert admission.inside == 0 and admission.waiting == 0
    finally:
        locker.close()
        observer.dispose()

    assert sorted(responses) == list(range(KIOSKS))
    for i, response in responses.items():
        assert isinstance(response, httpx.Response), (i, response)
        assert response.status_code == 200, response.text
        assert [r["status"] for r in response.json()["results"]] == ["created"] * 3
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rating")).scalar_one() == 3 * KIOSKS
    engine.dispose()


# --- issue 19, finding 2: slow uploads take no slot, time out, and /healthz is never held back -------------------

SLOW_SOCKETS = 20


def _open_slow_uploads(base_url: str, n: int, path: str = "/login") -> list[socket.socket]:
    """`n` connections that declare a 60 KB form, send 9 bytes of it and then nothing."""
    host, port = base_url.removeprefix("http://").split(":")
    sockets = []
    for _ in range(n):
        sock = socket.create_connection((host, int(port)), timeout=60)
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: 60000\r\n\r\nusername=".encode()
        )
        sockets.append(sock)
    return sockets


def _status_line(sock: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_slow_uploads_take_no_admission_slot(db_factory: DatabaseFactory) -> None:
    """Finding 2: 20 stalled bodies against a pool of 2 leave /healthz, /login and rating links answering."""
    url = db_factory.new_url()
    app = create_app(make_settings(url, db_pool_size=POOL_SIZE, body_timeout_seconds=120))
    with serve(app) as base_url:
        assert httpx.get(base_url + "/healthz").status_code == 200
        admission = _admission(app)
        assert admission is not None
        sockets = _open_slow_uploads(base_url, SLOW_SOCKETS)
        try:
            _eventually(lambda: admission.reading == SLOW_SOCKETS, "all slow bodies being read before admission")
            assert admission.inside == 0 and admission.waiting == 0  # none of them holds (or waits for) a slot
            # The timeout only turns a hang (the old behaviour) into a failure; the stalled bodies wait for 120 s.
            with httpx.Client(base_url=base_url, timeout=60) as client:
                assert client.get("/healthz").status_code == 200
                assert client.get("/login").status_code == 200
                assert client.get("/r/no-such-visit-token").status_code in (404, 410)
                form = {"username": "x", "password": "y", "csrf_token": "z"}
                assert client.post("/login", data=form, headers={"accept": "text/html"}).status_code == 403
        finally:
            for sock in sockets:
                sock.close()


def test_a_stalled_body_is_answered_408(db_factory: DatabaseFactory) -> None:
    """Finding 2: a body that makes no progress for HAILONG_BODY_TIMEOUT_SECONDS ends with 408, on both backends."""
    url = db_factory.new_url()
    app = create_app(make_settings(url, db_pool_size=POOL_SIZE, body_timeout_seconds=1))
    with serve(app) as base_url:
        sockets = _open_slow_uploads(base_url, 3) + _open_slow_uploads(base_url, 1, "/api/v1/ratings")
        try:
            for sock in sockets:
                assert _status_line(sock) == "HTTP/1.1 408 Request Timeout"
        finally:
            for sock in sockets:
                sock.close()
        admission = _admission(app)
        assert admission is not None and admission.timed_out == 4 and admission.reading == 0
        assert httpx.get(base_url + "/healthz").status_code == 200


def test_healthz_is_not_held_behind_a_full_app(db_factory: DatabaseFactory) -> None:
    """Finding 2: with every slot taken (requests waiting on a row lock), /healthz still answers at once."""
    url = db_factory.new_url()
    if db_factory.backend == "sqlite":  # no slots on SQLite: nothing can fill the app; /healthz answers
        app = create_app(make_settings(url))
        with serve(app) as base_url:
            assert httpx.get(base_url + "/healthz").json()["backend"] == "sqlite"
        return
    tokens = _kiosk_tokens(url, POOL_SIZE)
    app = create_app(make_settings(url, db_pool_size=POOL_SIZE))
    locker = make_engine(url).connect()
    results: list[int] = []

    def deliver(token: str, base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            response = client.post("/api/v1/ratings", json=_batch(), headers={"Authorization": f"Bearer {token}"})
            results.append(response.status_code)

    try:
        with serve(app) as base_url:
            assert httpx.get(base_url + "/healthz").status_code == 200
            admission = _admission(app)
            assert admission is not None
            transaction = locker.begin()
            locker.execute(sa.text("SELECT id FROM kiosk_device FOR UPDATE"))
            threads = [threading.Thread(target=deliver, args=(t, base_url)) for t in tokens]
            for t in threads:
                t.start()
            _eventually(lambda: admission.inside == POOL_SIZE, "every slot taken")
            assert httpx.get(base_url + "/healthz", timeout=60).status_code == 200
            assert admission.inside == POOL_SIZE  # still full: /healthz went past the limit
            transaction.rollback()
            for t in threads:
                t.join(timeout=120)
    finally:
        locker.close()
    assert results == [200] * POOL_SIZE

"""Fault injection: PostgreSQL stops (immediate shutdown, a crash to the server) and comes back during ingest.

The machine's shared cluster is never touched: the test runs a throwaway PostgreSQL of its own (`initdb` into a
temporary directory, a free port, trust authentication), migrates it, serves the central app on it (uvicorn, real
HTTP, one process for the whole test) and lets a real kiosk process forward taps. Every rating that showed "thank
you" must be stored exactly once after PostgreSQL is back, and the same server process must answer /healthz ok again.

PostgreSQL variant: runs when TEST_DATABASE_URL is set, and then fails (never skips) without `initdb`.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command

from bench.pg_instance import PrivatePostgres, private_postgres
from kiosk.outbox import Outbox
from tests.browser.conftest import free_port
from tests.databases import alembic_config
from tests.kiosk.conftest import central_server, eventually, kiosk_settings, own_screen, pair_kiosk
from tests.kiosk.test_crash import kiosk_process, wait_until_up

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL variant: runs when TEST_DATABASE_URL is set"
)


@contextmanager
def throwaway_postgres() -> Iterator[PrivatePostgres]:
    """bench's private instance; with TEST_DATABASE_URL set a missing `initdb` is a failure, never a skip."""
    try:
        with private_postgres() as pg:
            yield pg
    except RuntimeError as exc:
        if "initdb is missing" in str(exc):
            pytest.fail(f"TEST_DATABASE_URL is set but {exc}")
        raise


def migrate(url: str) -> None:
    """The project's Alembic migrations, as `hailong db upgrade` applies them."""
    command.upgrade(alembic_config(url), "head")


@pytest.mark.slow
def test_postgres_stopped_mid_stream_then_back_loses_and_doubles_nothing(tmp_path: Path) -> None:
    thanked: list[str] = []
    attempted: set[str] = set()
    with throwaway_postgres() as pg:
        url = pg.create_database("hailong")
        migrate(url)
        with central_server(url) as central:
            data_dir = tmp_path / "kiosk"
            pair_kiosk(kiosk_settings(data_dir, central.url), central)
            port = free_port()
            with (
                kiosk_process(data_dir, central.url, port) as proc,
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
                httpx.Client(base_url=central.url, timeout=10) as server,
            ):
                wait_until_up(client, proc)
                stop = threading.Event()
                screen = own_screen(client)  # the kiosk process's token, from its page

                def tapping() -> None:
                    i = 0
                    while not stop.is_set():
                        i += 1
                        rid = str(uuid.uuid4())
                        attempted.add(rid)
                        data = {"rid": rid, "level": str(1 + i % 4), "field": "land", "lang": "vi"}
                        response = client.post("/ratings", data=data, headers=screen)
                        if response.status_code == 200 and 'data-screen="thanks"' in response.text:
                            thanked.append(rid)
                        time.sleep(0.01)

                tapper = threading.Thread(target=tapping)
                tapper.start()
                try:
                    eventually(lambda: len(central.rating_ids()) >= 20, what="some ratings stored before the fault")
                    pg.pg_ctl("stop", "-m", "immediate")  # a crash, as far as the server can tell
                    down_at = len(thanked)
                    outage = server.get("/healthz")
                    assert outage.status_code == 503 and outage.json()["database"] == "unreachable", outage.text
                    # What the kiosk gets meanwhile: 503 with Retry-After, not a 500 with a logged traceback.
                    outbox = Outbox(data_dir / "outbox.db")
                    token = outbox.get("token")
                    outbox.close()
                    ingest = server.post(
                        "/api/v1/ratings", json={"ratings": []}, headers={"Authorization": f"Bearer {token}"}
                    )
                    assert ingest.status_code == 503 and ingest.headers["retry-after"] == "5", ingest.text
                    assert "database is unavailable" in ingest.json()["detail"]
                    eventually(lambda: len(thanked) >= down_at + 30, what="taps thanked while PostgreSQL is down")
                    assert client.get("/healthz").json()["pending"] > 0
                    pg.pg_ctl("start")
                    eventually(lambda: len(thanked) >= down_at + 60, what="more taps after PostgreSQL is back")
                finally:
                    stop.set()
                    tapper.join(timeout=30)
                eventually(lambda: client.get("/healthz").json()["pending"] == 0, timeout=60, what="final delivery")
                kiosk_health = client.get("/healthz").json()
                # The same server process, never restarted, is healthy again (pool_pre_ping drops dead connections).
                health = server.get("/healthz")
            stored = central.rating_ids()

    assert health.status_code == 200 and health.json()["database"] == "ok", health.text
    tally = Tally(stored)
    assert [rid for rid, n in tally.items() if n > 1] == [], "a rating was stored twice"
    assert set(thanked) <= set(stored), f"{len(set(thanked) - set(stored))} thanked ratings never arrived"
    assert set(stored) <= attempted
    assert kiosk_health["dead"] == 0 and kiosk_health["sent"] == len(stored)
    print(f"PostgreSQL restart: {len(thanked)} thanked ({len(thanked) - down_at} after the stop), {len(stored)} stored")

"""Fault injection: the central server (`hailong serve`, a real process) is killed with SIGKILL mid-batch.

A kiosk forwards large batches (500 ratings each); the server is killed at random moments, started again on the same
port, and the kiosk finishes on its own. Every rating must be stored exactly once, the kiosk's outbox must end empty,
and the rollups must equal a recount of the raw ratings (`hailong rollup rebuild` finds nothing to fix).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kiosk.runtime import Runtime
from server.contracts import RatingResult
from tests.databases import DatabaseFactory
from tests.kiosk.conftest import CentralServer, central_server, eventually, kiosk_client, kiosk_settings, pair_kiosk
from tests.test_cli import HAILONG, run

TRIALS = 4
PER_TRIAL = 500  # the batch size
BATCHES_PER_TRIAL = 2  # queued before each kill: 4,000 ratings in all


@contextmanager
def serve_process(central: CentralServer, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`hailong serve` on the central server's port, up and answering /healthz; SIGKILLed at the end if alive."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = central.db_url
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [HAILONG, "serve", "--port", str(central.port)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd="/"
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the server exited: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{central.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


def queue(rt: Runtime, counter: str, n: int, rng: random.Random) -> list[str]:
    """`n` ratings in the kiosk's outbox, as taps over the last hours would have left them."""
    now = datetime.now(UTC)
    ids = []
    for _ in range(n):
        rid = str(uuid.uuid4())
        level = rng.choice([1, 2, 3, 4])
        item = {
            "id": rid,
            "level": level,
            "field": rng.choice(["land", "construction"]),
            "visit_token": None,
            "reasons": ["late"] if level <= 2 and rng.random() < 0.5 else [],
            "comment": None,
            "rated_at": (now - timedelta(seconds=rng.uniform(0, 6 * 3600))).isoformat(),
        }
        assert rt.outbox.add(item, counter=counter)
        ids.append(rid)
    return ids


class Deliveries:
    """Holds the kiosk's deliveries while no server is up, and tells when one has started against a live server.

    The request itself is the kiosk's own, to the real server: only its start is timed. Without the hold a kill at a
    fixed delay after start-up could land while the kiosk was still backing off from the last kill, and in one CI run
    (2026-12-05) none of the four kills found a delivery in flight.
    """

    def __init__(self, rt: Runtime) -> None:
        central = rt.central
        assert central is not None
        send = central.send_ratings
        self.open = threading.Event()
        self.started = threading.Event()

        async def held(items: list[dict[str, object]]) -> list[RatingResult]:
            await asyncio.to_thread(self.open.wait)
            self.started.set()
            return await send(items)

        central.send_ratings = held  # type: ignore[method-assign]

    def release(self) -> None:
        """Let deliveries go to the server that is now up; the next one to start sets `started`."""
        self.started.clear()
        self.open.set()

    def hold(self) -> None:
        self.open.clear()


@pytest.mark.slow
def test_sigkill_mid_batch_stores_every_rating_once(
    db_factory: DatabaseFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hailong.kiosk")
    rng = random.Random(7_2026)
    log = tmp_path / "server.log"
    interrupted = 0
    stored_after_kill: list[int] = []
    with central_server(db_factory.new_url()) as central:
        settings = kiosk_settings(tmp_path / "kiosk", central.url, batch_size=500, request_timeout_seconds=30)
        pair_kiosk(settings, central)
        central.stop()  # from now on the server is `hailong serve`
        with kiosk_client(settings) as client:
            rt: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            deliveries = Deliveries(rt)
            try:
                queued: list[str] = []
                for _ in range(TRIALS):
                    # Fresh batches before every kill: a fast machine delivered all of an up-front queue within the
                    # first two kills' windows, and the kills after it found nothing in flight.
                    queued += queue(rt, rt.pairing.counter, BATCHES_PER_TRIAL * PER_TRIAL, rng)  # type: ignore[union-attr]
                    with serve_process(central, log) as proc:
                        deliveries.release()
                        assert deliveries.started.wait(timeout=30), "the kiosk sent nothing to the restarted server"
                        time.sleep(rng.uniform(0.0, 0.15))  # somewhere in a batch: reading, inserting or committing
                        proc.send_signal(signal.SIGKILL)
                        proc.wait(timeout=10)
                        deliveries.hold()
                    stored_after_kill.append(len(central.rating_ids()))
                    if client.get("/healthz").json()["pending"]:
                        interrupted += 1
                with serve_process(central, log):  # up for good: the kiosk finishes on its own
                    deliveries.release()
                    delivered = lambda: client.get("/healthz").json()["pending"] == 0  # noqa: E731
                    eventually(delivered, timeout=120, what="final delivery")
                    health = client.get("/healthz").json()
            finally:
                deliveries.open.set()  # never leave the kiosk's thread waiting
        stored = central.rating_ids()
        rollups = run("rollup", "rebuild", url=central.db_url)

    # A batch is one transaction: a kill leaves whole batches stored, never part of one.
    assert all(n % PER_TRIAL == 0 for n in stored_after_kill), stored_after_kill
    assert interrupted >= 1, "no kill landed while ratings were waiting: the test proved nothing"
    # A kill during a delivery breaks the kiosk's request (not its connection attempt): one must have landed there.
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("delivery failed")]
    in_flight = [m for m in failures if "ConnectError" not in m]
    assert in_flight, f"no kill broke a delivery in flight: the test proved nothing ({failures[:3]})"
    assert len(queued) == TRIALS * BATCHES_PER_TRIAL * PER_TRIAL
    tally = Tally(stored)
    assert [rid for rid, n in tally.items() if n > 1] == [], "a rating was stored twice"
    assert sorted(stored) == sorted(queued)
    assert (health["pending"], health["dead"], health["sent"]) == (0, 0, len(queued))
    assert rollups.returncode == 0, rollups.stderr
    assert "nothing to fix" in rollups.stdout, rollups.stdout
    print(
        f"server SIGKILL: {TRIALS} kills, {interrupted} with ratings waiting, {len(in_flight)} deliveries broken "
        f"in flight ({in_flight[0]}), stored after each {stored_after_kill}"
    )

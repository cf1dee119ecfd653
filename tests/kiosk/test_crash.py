"""Crash safety: the kiosk process is killed with SIGKILL at random moments while citizens tap and it syncs.

Every rating whose "thank you" was shown must reach the central store exactly once. The kiosk runs as a real
subprocess (`python -m kiosk`); taps are direct HTTP posts, as the touch UI sends them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import free_port
from tests.databases import factory_for
from tests.kiosk.conftest import central_server, eventually, kiosk_settings, own_screen, pair_kiosk

TRIALS = 50
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def kiosk_process(data_dir: Path, server_url: str, port: int, **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A kiosk subprocess that retries fast (`extra_env`: more variables); killed (SIGKILL) at the end if alive."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HAILONG_KIOSK_RETRY_BASE_SECONDS": "0.02",
        "HAILONG_KIOSK_RETRY_MAX_SECONDS": "0.1",
        "HAILONG_KIOSK_HEARTBEAT_SECONDS": "0.3",
        **extra_env,
    }
    args = [sys.executable, "-m", "kiosk", "--server", server_url, "--data-dir", str(data_dir), "--port", str(port)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


def wait_until_up(client: httpx.Client, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the kiosk exited on its own"
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.02)
    raise AssertionError("the kiosk did not start")


@pytest.mark.slow
def test_sigkill_while_tapping_and_syncing_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    thanked: list[str] = []
    attempted: set[str] = set()
    with factory_for("sqlite") as factory, central_server(factory.new_url()) as central:
        data_dir = tmp_path / "kiosk"
        pair_kiosk(kiosk_settings(data_dir, central.url), central)
        port = free_port()
        for _ in range(TRIALS):
            with (
                kiosk_process(data_dir, central.url, port) as proc,
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client,
            ):
                wait_until_up(client, proc)
                stop = threading.Event()
                screen = own_screen(client)  # this process's token, from its page

                def tapping(
                    client: httpx.Client = client, stop: threading.Event = stop, screen: dict[str, str] = screen
                ) -> None:
                    while not stop.is_set():
                        rid = str(uuid.uuid4())
                        attempted.add(rid)
                        level = rng.choice([1, 2, 3, 4])
                        data = {"rid": rid, "level": str(level), "field": "land", "lang": "vi"}
                        try:
                            response = client.post("/ratings", data=data, headers=screen)
                        except httpx.TransportError:
                            return  # killed mid-request: no thanks was shown
                        if response.status_code == 200 and 'data-screen="thanks"' in response.text:
                            thanked.append(rid)

                tapper = threading.Thread(target=tapping)
                tapper.start()
                time.sleep(rng.uniform(0.0, 0.4))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                stop.set()
                tapper.join(timeout=10)

        # One last start: the kiosk finds what it kept and delivers it.
        with (
            kiosk_process(data_dir, central.url, port) as proc,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client,
        ):
            wait_until_up(client, proc)
            eventually(lambda: client.get("/healthz").json()["pending"] == 0, timeout=60, what="final delivery")
            health = client.get("/healthz").json()
        stored = central.rating_ids()

    assert len(thanked) > TRIALS, "too few taps to mean anything"
    tally = Tally(stored)
    assert not [rid for rid, n in tally.items() if n > 1], "a rating was stored twice"
    assert set(thanked) <= set(stored), f"{len(set(thanked) - set(stored))} thanked ratings never arrived"
    assert set(stored) <= attempted
    assert health["dead"] == 0 and health["sent"] == len(stored)

"""Kiosk: tap-to-thanks time on the kiosk and the kiosk process's memory.

Runs a central server (SQLite) and a paired kiosk as subprocesses, then taps N times in a row the way the touch UI
does (POST /ratings). Reports the kiosk's own time per tap (the `Server-Timing` header: stored durably with
`synchronous=FULL`, then "thank you" rendered), the loopback round trip, and the kiosk's resident memory.

    .venv/bin/python -m bench.kiosk [--taps 1000]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench._util import free_port, percentile, rss_mb, wait_for

ROOT = Path(__file__).resolve().parent.parent


def _seed_counter(db_url: str) -> str:
    """A unit and a counter in the central store; returns a pairing code for it."""
    from server.config import Settings
    from server.db import make_engine, session_scope
    from server.kiosks.service import create_pairing_code
    from server.models import Counter
    from server.units.service import create_unit

    engine = make_engine(db_url)
    with session_scope(engine) as session:
        unit = create_unit(session=session, code="BENCH", name="Bench unit")
        session.add(Counter(code="BENCH-Q01", unit_id=unit.id, name="Quầy 1"))  # type: ignore[arg-type]
        session.flush()
        code, _ = create_pairing_code(session=session, counter_code="BENCH-Q01", settings=Settings(database_url=db_url))
    engine.dispose()
    return code


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a Markdown summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.kiosk")
    parser.add_argument("--taps", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-kiosk-") as tmp:
        db_url = f"sqlite:///{tmp}/central.db"
        env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "server.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
        code = _seed_counter(db_url)
        central_port, kiosk_port = free_port(), free_port()
        central = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "server.app:create_app_from_env",
                "--factory",
                "--port",
                str(central_port),
                "--log-level",
                "warning",
            ],
            env=env,
        )
        kiosk = None
        try:
            wait_for(f"http://127.0.0.1:{central_port}/healthz")
            kiosk = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kiosk",
                    "--server",
                    f"http://127.0.0.1:{central_port}",
                    "--data-dir",
                    f"{tmp}/kiosk",
                    "--port",
                    str(kiosk_port),
                    "--pair",
                    code,
                    "--pair-wait",
                    "10",
                ],
                env={**env, "HAILONG_KIOSK_HEARTBEAT_SECONDS": "5"},
            )
            base = f"http://127.0.0.1:{kiosk_port}"
            wait_for(base + "/healthz")
            server_ms, round_trip_ms = [], []
            with httpx.Client(base_url=base, timeout=10) as client:
                page = client.get("/").text  # the page Chromium loads once, with this run's screen token
                found = re.search(r"hx-headers='([^']*)'", page)
                assert found is not None, "the kiosk's page carries no screen token"
                screen = {"HX-Request": "true", **json.loads(html.unescape(found.group(1)))}
                for i in range(args.taps + 50):
                    data = {"rid": str(uuid.uuid4()), "level": str(1 + i % 4), "field": "land", "lang": "vi"}
                    started = time.perf_counter()
                    response = client.post("/ratings", data=data, headers=screen)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert 'data-screen="thanks"' in response.text
                    if i >= 50:  # warm-up excluded
                        match = re.search(r"total;dur=([\d.]+)", response.headers["server-timing"])
                        server_ms.append(float(match.group(1)) if match else float("nan"))
                        round_trip_ms.append(elapsed)
                deadline = time.monotonic() + 60
                while client.get("/healthz").json()["pending"] and time.monotonic() < deadline:
                    time.sleep(0.2)
                health = client.get("/healthz").json()
            rss, peak = rss_mb(kiosk.pid)
        finally:
            for proc in (kiosk, central):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=10)
    print(
        f"## Kiosk (bench.kiosk) — {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"{args.taps} taps in a row (the forwarder delivering meanwhile); all {health['sent']} delivered.\n")
    print("| measure | p50 | p95 | p99 | max |")
    print("|---|---|---|---|---|")
    for name, values in (
        ("tap → thanks, kiosk server time (ms)", server_ms),
        ("loopback round trip (ms)", round_trip_ms),
    ):
        print(
            f"| {name} | {percentile(values, 50):.2f} | {percentile(values, 95):.2f} | {percentile(values, 99):.2f} "
            f"| {max(values):.2f} |"
        )
    print(f"\nKiosk process memory after the taps and the sync: {rss:.0f} MB RSS (peak {peak:.0f} MB).")
    load = os.getloadavg()
    print(f"Load average when done: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other work on the machine counts).")


if __name__ == "__main__":
    main()

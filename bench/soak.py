"""Soak: mixed load at a fixed rate for minutes against `hailong serve --workers N` on PostgreSQL.

    .venv/bin/python -m bench.soak [--minutes 5] [--rate 500] [--workers 2] [--no-write]

Makes its own PostgreSQL database (dropped at the end) with bench.indices' 1,000 units and 3,000 counters and no
ratings, a manager of one province, a visits key and a read key; starts `hailong serve` (the real CLI, access log
included) as a subprocess; pairs kiosks through `POST /api/v1/kiosks/pair`; then offers, open loop (each operation
starts on its schedule whether or not earlier ones finished), `--rate` HTTP requests per second made of:

- kiosk batches: 5 new ratings per `POST /api/v1/ratings`, from 96 paired devices, each with at most one
  batch in flight as a kiosk's forwarder (60 % of operations);
- phone submissions: `POST /api/v1/visits` with the visits key, `GET /r/<token>` (the form, its CSRF value and
  nonce cookie), `POST /r/<token>` with the CSRF value and a level, expecting 303 (30 %; three requests each);
- dashboard reads: `GET /dashboard` as one of 4 managers logged in through the real login form (10 %);
- plus an export every 3 s: `GET /exports/monthly.xlsx` for the province with the read key.

Counts every rating sent and the ratings stored (counted in the database afterwards). An error is any answer other
than 2xx/3xx, or an exception (timeouts included). Latency is measured from each operation's scheduled start for
its first request (so a server falling behind shows), from the request's own start for the later steps of a phone
submission. At most 300 operations are in flight; an operation due when
that many are still open is not started and counted as an error ("not started").
Pass: 0 errors, p99 ≤ 200 ms for every kind except the export (a report file, not an interaction),
stored == sent. Writes docs/soak-latest.json (kept by `make bench` in docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._util import free_port, percentile
from bench.suite import (
    ROOT,
    SOAK_JSON,
    Processes,
    admin_database_url,
    bench_database,
    git_commit,
    load_average,
    machine_facts,
    progress,
    wait_up,
)

DEVICES = 96
MANAGERS = 4
BATCH = 5
PROVINCE = "P02"
PASSWORD = "soak-password-2026"
MIX = (("kiosk", 0.6), ("phone", 0.3), ("dashboard", 0.1))
REQUESTS_PER_OP = {"kiosk": 1, "phone": 3, "dashboard": 1}
P99_LIMIT_MS = 200.0
MAX_IN_FLIGHT = 300  # operations; beyond this the server is seconds behind


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_sample: list[str] = field(default_factory=list)
    ratings_sent: int = 0
    late: int = 0

    def ok(self, kind: str, ms: float) -> None:
        self.latencies[kind].append(ms)

    def fail(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.error_sample) < 5:
            self.error_sample.append(f"{kind}: {what}"[:200])


def prepare(url: str) -> dict[str, Any]:
    """Units and counters, a manager per province… and the keys; returns what the load needs."""
    from sqlmodel import select

    from bench import indices
    from server.auth.service import create_api_key, create_user
    from server.config import Settings
    from server.db import make_engine, session_scope
    from server.kiosks.service import create_pairing_code
    from server.models import Unit

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            indices.load_units(conn)
        settings = Settings(database_url=url)
        with session_scope(engine) as session:
            root = session.exec(select(Unit).where(Unit.code == "VN")).one()
            province = session.exec(select(Unit).where(Unit.code == PROVINCE)).one()
            for i in range(MANAGERS):
                create_user(session=session, username=f"soak{i}", password=PASSWORD, role="manager", unit=province)
            visits_key = create_api_key(session=session, kind="visits", unit=root, label="soak")[1]
            read_key = create_api_key(session=session, kind="read", unit=root, label="soak")[1]
            # Communes of the province have ids 36 + 34k; counters of unit u are VN-style codes f"{code}-1..3".
            communes = session.exec(select(Unit).where(Unit.parent_id == province.id).order_by(Unit.id)).all()
            counters = [f"{u.code}-{k}" for u in communes for k in (1, 2, 3)]
            codes = [
                create_pairing_code(session=session, counter_code=counters[i % len(counters)], settings=settings)[0]
                for i in range(DEVICES)
            ]
    finally:
        engine.dispose()
    return {"visits_key": visits_key, "read_key": read_key, "pairing_codes": codes, "counters": counters}


def stored_ratings(url: str) -> int:
    from bench.suite import count_ratings

    return count_ratings(url)


async def pair(client: httpx.AsyncClient, codes: list[str]) -> list[str]:
    tokens = []
    for code in codes:
        response = await client.post("/api/v1/kiosks/pair", json={"code": code})
        if response.status_code != 201:
            raise RuntimeError(f"pairing failed: {response.status_code} {response.text[:200]}")
        tokens.append(response.json()["token"])
    return tokens


async def login(base: str, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False)
    page = await client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if match is None:
        raise RuntimeError("no CSRF token on the login form")
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": match.group(1), "next": ""}
    )
    if response.status_code != 303:
        raise RuntimeError(f"login failed: {response.status_code} {response.text[:200]}")
    return client


class Load:
    def __init__(self, base: str, setup: dict[str, Any], tokens: list[str], managers: list[httpx.AsyncClient]):
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
        self.api = httpx.AsyncClient(base_url=base, timeout=30, limits=limits)
        self.phone = httpx.AsyncClient(base_url=base, timeout=30, limits=limits, follow_redirects=False)
        self.setup = setup
        self.tokens = tokens
        self.managers = managers
        self.stats = Stats()
        self.n = 0
        self.busy: set[str] = set()

    async def close(self) -> None:
        for client in (self.api, self.phone, *self.managers):
            await client.aclose()

    async def kiosk(self, scheduled: float) -> None:
        self.n += 1
        # A kiosk's forwarder sends one batch after another: take the next device with no batch in flight.
        free = [t for t in self.tokens if t not in self.busy]
        if not free:
            self.stats.fail("kiosk: not started", "every device has a batch in flight")
            return
        token = free[self.n % len(free)]
        self.busy.add(token)
        try:
            await self._kiosk(scheduled, token)
        finally:
            self.busy.discard(token)

    async def _kiosk(self, scheduled: float, token: str) -> None:
        now = datetime.now(UTC)
        ratings = [
            {
                "id": str(uuid.uuid4()),
                "level": 1 + (self.n + i) % 4,
                "field": "land",
                "visit_token": None,
                "reasons": ["late"] if (self.n + i) % 4 == 0 else [],
                "comment": None,
                "rated_at": (now - timedelta(seconds=60 - 10 * i)).isoformat(),
            }
            for i in range(BATCH)
        ]
        self.stats.ratings_sent += BATCH
        try:
            response = await self.api.post(
                "/api/v1/ratings",
                json={"sent_at": now.isoformat(), "ratings": ratings},
                headers={"Authorization": f"Bearer {token}"},
            )
            done = time.perf_counter()
            created = response.text.count('"created"') if response.status_code == 200 else 0
            if response.status_code != 200 or created != BATCH:
                self.stats.fail("kiosk batch", f"{response.status_code} {created} created: {response.text[:120]}")
            else:
                self.stats.ok("kiosk batch", (done - scheduled) * 1000)
        except httpx.HTTPError as exc:
            self.stats.fail("kiosk batch", repr(exc))

    async def phone_flow(self, scheduled: float) -> None:
        self.n += 1
        counter = self.setup["counters"][self.n % len(self.setup["counters"])]
        step = "visit create"
        try:
            response = await self.api.post(
                "/api/v1/visits",
                json={"counter": counter, "field": "land"},
                headers={"Authorization": f"Bearer {self.setup['visits_key']}"},
            )
            if response.status_code != 201:
                self.stats.fail(step, f"{response.status_code} {response.text[:120]}")
                return
            self.stats.ok(step, (time.perf_counter() - scheduled) * 1000)
            token = response.json()["token"]
            step = "phone form"
            t0 = time.perf_counter()
            page = await self.phone.get(f"/r/{token}")
            nonce = page.cookies.get("hl_rate")
            match = re.search(r'name="csrf" value="([^"]+)"', page.text)
            if page.status_code != 200 or nonce is None or match is None:
                self.stats.fail(step, f"{page.status_code} {page.text[:120]}")
                return
            self.stats.ok(step, (time.perf_counter() - t0) * 1000)
            step = "phone submit"
            self.stats.ratings_sent += 1
            t0 = time.perf_counter()
            answer = await self.phone.post(
                f"/r/{token}",
                data={"csrf": match.group(1), "level": str(1 + self.n % 4), "comment": "", "contact": ""},
                headers={"Cookie": f"hl_rate={nonce}"},
            )
            if answer.status_code != 303:
                self.stats.fail(step, f"{answer.status_code} {answer.text[:120]}")
                return
            self.stats.ok(step, (time.perf_counter() - t0) * 1000)
        except httpx.HTTPError as exc:
            self.stats.fail(step, repr(exc))
        finally:
            self.phone.cookies.clear()  # the nonce goes by hand; the jar would only grow

    async def dashboard(self, scheduled: float) -> None:
        self.n += 1
        client = self.managers[self.n % len(self.managers)]
        try:
            response = await client.get("/dashboard", headers={"accept": "text/html"})
            if response.status_code != 200:
                self.stats.fail("dashboard", f"{response.status_code} {response.text[:120]}")
            else:
                self.stats.ok("dashboard", (time.perf_counter() - scheduled) * 1000)
        except httpx.HTTPError as exc:
            self.stats.fail("dashboard", repr(exc))

    async def export(self, scheduled: float) -> None:
        month = datetime.now(UTC).strftime("%Y-%m")
        try:
            response = await self.api.get(
                f"/exports/monthly.xlsx?month={month}&unit={PROVINCE}",
                headers={"Authorization": f"Bearer {self.setup['read_key']}"},
            )
            if response.status_code != 200:
                self.stats.fail("export xlsx", f"{response.status_code} {response.text[:120]}")
            else:
                self.stats.ok("export xlsx", (time.perf_counter() - scheduled) * 1000)
        except httpx.HTTPError as exc:
            self.stats.fail("export xlsx", repr(exc))

    async def run(self, seconds: float, rate: float) -> float:
        """Start operations on schedule for `seconds`; wait for the stragglers; returns the offered seconds."""
        per_op = sum(w * REQUESTS_PER_OP[k] for k, w in MIX)
        interval = per_op / rate  # seconds between operations, so that requests/s = rate
        plan = [k for k, w in MIX for _ in range(round(w * 10))]  # 6 kiosk, 3 phone, 1 dashboard per 10
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        next_export = start
        i = 0
        while True:
            scheduled = start + i * interval
            if scheduled - start >= seconds or time.perf_counter() - start >= seconds:
                break
            delay = scheduled - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))  # always yield, so the open requests progress
            if delay < -0.1:
                self.stats.late += 1
            kind = plan[i % len(plan)]
            if len(tasks) >= MAX_IN_FLIGHT:
                # The server is this far behind: the operation is not started but counted as an error (an
                # unbounded backlog would only measure the load generator's own queue).
                self.stats.fail(f"{kind}: not started", f"{MAX_IN_FLIGHT} operations already in flight")
                i += 1
                continue
            op = {"kiosk": self.kiosk, "phone": self.phone_flow, "dashboard": self.dashboard}[kind]
            task = asyncio.create_task(op(scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if scheduled >= next_export:
                task = asyncio.create_task(self.export(scheduled))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_export += 3.0
            i += 1
            if i % int(max(1, 30 / interval)) == 0:
                progress(f"  {scheduled - start:.0f} s offered, {len(tasks)} in flight, load {load_average()}")
        if tasks:
            await asyncio.wait(tasks, timeout=40)
        return time.perf_counter() - start


def summarise(stats: Stats, stored: int, args: argparse.Namespace, offered: float, meta: dict[str, Any]) -> dict:
    kinds: dict[str, dict[str, float]] = {}
    for kind in ("kiosk batch", "visit create", "phone form", "phone submit", "dashboard", "export xlsx"):
        values = stats.latencies.get(kind, [])
        kinds[kind] = {
            "sent": len(values) + stats.errors.get(kind, 0),
            "errors": stats.errors.get(kind, 0),
            "p50": percentile(values, 50) if values else float("nan"),
            "p95": percentile(values, 95) if values else float("nan"),
            "p99": percentile(values, 99) if values else float("nan"),
            "max": max(values) if values else float("nan"),
        }
    for kind, count in stats.errors.items():
        if kind.endswith("not started"):
            nan = float("nan")
            kinds[kind] = {"sent": 0, "errors": count, "p50": nan, "p95": nan, "p99": nan, "max": nan}
    errors = sum(stats.errors.values())
    worst = max(
        ((k, v["p99"]) for k, v in kinds.items() if k != "export xlsx" and v["p99"] == v["p99"]),
        key=lambda kv: kv[1],
        default=("none", float("nan")),
    )
    criteria = [
        ("0 errors", f"{errors}", errors == 0),
        (
            f"p99 ≤ {P99_LIMIT_MS:.0f} ms for every kind but the export",
            f"worst: {worst[0]} {worst[1]:.0f} ms",
            worst[1] <= P99_LIMIT_MS,
        ),
        ("stored == sent", f"{stored:,} stored / {stats.ratings_sent:,} sent", stored == stats.ratings_sent),
    ]
    return {
        "command": f".venv/bin/python -m bench.soak --minutes {args.minutes:g} --rate {args.rate:g} "
        f"--workers {args.workers}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": meta["machine"],
        "servers": f"`hailong serve --workers {args.workers}` (uvicorn, access log on) on PostgreSQL {meta['pg']}, "
        f"load generator (Python asyncio + httpx) on the same machine",
        "load_before": meta["load_before"],
        "load_after": load_average(),
        "rate": args.rate,
        "seconds": offered,
        "mix": f"60 % kiosk batches of {BATCH} ratings ({DEVICES} devices), 30 % phone submissions (3 requests "
        f"each), 10 % dashboard reads ({MANAGERS} managers), an XLSX export every 3 s",
        "kinds": kinds,
        "ratings_sent": stats.ratings_sent,
        "ratings_stored": stored,
        "errors": errors,
        "late": stats.late,
        "errors_sample": stats.error_sample,
        "criteria": criteria,
        "passed": all(ok for _, _, ok in criteria),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--rate", type=float, default=500, help="HTTP requests per second offered")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="do not write docs/soak-latest.json")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = Processes()
    meta: dict[str, Any] = {"machine": machine_facts()["Machine"]}
    try:
        with bench_database(admin_database_url(), "hl_bench_soak") as url:
            progress("preparing units, counters, managers, keys and pairing codes")
            setup = prepare(url)
            port = free_port()
            log = tempfile.NamedTemporaryFile(prefix="hailong-soak-", suffix=".log", delete=False)  # noqa: SIM115
            env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "HAILONG_SECRET_KEY": "s" * 40}
            procs.start(
                [
                    str(Path(sys.executable).parent / "hailong"),
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(args.workers),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            base = f"http://127.0.0.1:{port}"
            wait_up(base + "/healthz")
            meta["pg"] = _pg_version(url)

            async def go() -> tuple[Stats, float]:
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    tokens = await pair(client, setup["pairing_codes"])
                managers = [await login(base, f"soak{i}") for i in range(MANAGERS)]
                load = Load(base, setup, tokens, managers)
                try:
                    meta["load_before"] = load_average()
                    progress(f"offering {args.rate:g} requests/s for {args.minutes:g} min (load {meta['load_before']})")
                    offered = await load.run(args.minutes * 60, args.rate)
                finally:
                    await load.close()
                return load.stats, offered

            stats, offered = asyncio.run(go())
            time.sleep(1)
            stored = stored_ratings(url)
            procs.stop_all()
            server_errors = [
                line for line in Path(log.name).read_text(errors="replace").splitlines() if "Traceback" in line
            ]
            if not server_errors:
                os.unlink(log.name)
    finally:
        procs.stop_all()
    data = summarise(stats, stored, args, offered, meta)
    if server_errors:
        data["note"] = f"The server logged {len(server_errors)} tracebacks (log: {log.name})."
    for kind, k in data["kinds"].items():
        print(f"{kind:14} sent {k['sent']:6}  errors {k['errors']:4}  p50 {k['p50']:7.1f}  p95 {k['p95']:7.1f}  "
              f"p99 {k['p99']:7.1f}  max {k['max']:7.1f} ms")  # fmt: skip
    print(f"ratings sent {data['ratings_sent']:,}, stored {data['ratings_stored']:,}; late starts {data['late']}")
    for name, result, ok in data["criteria"]:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {result}")
    print(f"load average before {data['load_before']}, after {data['load_after']}")
    for line in data["errors_sample"]:
        print("error:", line)
    if data.get("note"):
        print(data["note"])
    if not args.no_write:
        SOAK_JSON.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if data["passed"] else 1


def _pg_version(url: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())

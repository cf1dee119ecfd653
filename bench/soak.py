"""Soak: 500 ratings/s of kiosk batches and phone submissions, with dashboard reads and an XLSX export every 3 s.

    .venv/bin/python -m bench.soak [--minutes 5] [--rate 500] [--workers 2] [--warmup 15] [--no-write] [--output PATH]

Issue 7 asks for "5 minutes at 500 ratings/s of mixed kiosk batches and phone submissions, with dashboard reads and
an export every 3 s, against PostgreSQL with several uvicorn workers: 0 errors, p99 ≤ 200 ms, and the stored count
equals the sent count". How this script reads it:

- `--rate` is **ratings** per second (not HTTP requests). Operations come in a fixed rotation of 10: 6 kiosk batches
  of 5 ratings, 3 phone submissions (1 rating each, 3 requests) and 1 dashboard read, i.e. 33 ratings and 16 HTTP
  requests per 10 operations. At 500 ratings/s that is 151.5 operations/s: 90.9 kiosk batches (454.5 ratings/s),
  45.5 phone submissions (45.5 ratings/s, 136.4 requests/s) and 15.2 dashboard reads per second, 242 requests/s,
  plus `GET /exports/monthly.xlsx` every 3 s. (Until 2026-11-28 `--rate` counted requests: 500 requests/s of this
  mix offered 1,031 ratings/s, twice what the issue asks for.)
- Kiosks: one per counter of the data set (3,000, the country's scale is ~10,000 counters); the first 16 are paired
  through `POST /api/v1/kiosks/pair`, the others are inserted with their token hashes. Batches go to the kiosks in
  turn, so each kiosk sends a batch about every 33 s holding the 5 walk-up presses made since its previous batch
  (presses ~6.6 s apart, as at a busy counter; the server's misuse filter flags presses < 3 s apart). Each kiosk
  behaves like the real forwarder (kiosk/runtime.py): one batch in flight at a time (a batch due while the previous
  one is still unacknowledged waits, as in the outbox), and a failed delivery (exception, non-200, or fewer than 5
  results `created`/`duplicate`) is retried with the same rating ids until acknowledged. Every failed attempt counts
  as an error; a rating counts as sent once, whatever the attempts.
- Phone submissions: `POST /api/v1/visits` with a visits key (a counter of the province), `GET /r/<token>` (the form,
  its CSRF value and nonce cookie), `POST /r/<token>` with a level, expecting 303. A failed submit is retried like a
  citizen pressing "send" again: the form is fetched again (409 "already rated" means the first one was stored).
- Dashboard reads: `GET /dashboard` of the province by one of 4 managers logged in through the login form.
- Export: `GET /exports/monthly.xlsx` of the province with a read key, every 3 s (not held to the 200 ms: a report
  file, not an interaction).

Start: once the server answers, the kiosks are paired and the managers logged in, the script waits until the
server's processes are idle (every worker has finished starting), then offers the load for `--warmup` seconds (default
15) before the measured minutes. The warm-up stands for the hours a server has run before the morning rush: in a cold
start's first ~5 s the database's fresh backends work about twice as hard (their caches, the triggers' PL/pgSQL
compiled per connection) and answers take up to ~0.5 s (measured 2026-11-28: p99 ~400 ms in the first 5 s, ~40 ms
after). Its answers are
reported apart ("warmup" in the JSON); its errors, requests and ratings count in the totals and the criteria.

Open loop: each operation starts on its schedule whether or not earlier ones have finished, and its latency is
counted from the scheduled start (so a server, or a load generator, falling behind shows); for the phone form and
submit from the request's own start. At most 2,000 operations may be open at once; an operation due beyond that
is not started and counted as an error ("not started"). Stored ratings are counted in the database at the end.
Pass: 0 errors, p99 ≤ 200 ms for every kind but the export, stored == sent.

Also records the CPU seconds used by the server's processes, the database's backends and the load generator (from
/proc), per request, and the load average before and after. The load generator uses aiohttp with keep-alive
connections (httpx cost ~3 ms of CPU per request here, as much as some endpoints).

SIGTERM or Ctrl-C stops the run: no new operations, open ones get 10 s, the partial results are written marked
`"interrupted": true` (and fail), the server is stopped and the database dropped. A second signal skips the wait.
Writes docs/soak-latest.json (kept by `make bench` in docs/BENCHMARKS.md) unless `--no-write`.

`--cost N` measures instead what each kind costs, independently of the load: N operations of each kind, 4 at a
time, with the CPU seconds of the server, PostgreSQL and the generator per request (the dashboard with its 5 s
cache; `HAILONG_DASHBOARD_CACHE_SECONDS=0` in the environment measures it without). `--kinds phone,dashboard` measures
only those kinds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
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

import aiohttp

from bench._util import free_port, percentile, scalar
from bench.suite import (
    ROOT,
    SOAK_JSON,
    Processes,
    add_shared_postgres_option,
    bench_database,
    git_commit,
    load_average,
    machine_facts,
    postgres_admin_url,
    progress,
    wait_up,
)

WARMUP_S = 15.0  # seconds of load before the measured minutes (see the docstring)
SETTLE_TIMEOUT_S = 60.0
PAIRED_THROUGH_API = 16
MANAGERS = 4
BATCH = 5
PROVINCE = "P02"
PASSWORD = "soak-password-2026"
#: The rotation of 10 operations (see the module docstring).
PLAN = ("kiosk", "phone", "kiosk", "dashboard", "kiosk", "phone", "kiosk", "kiosk", "phone", "kiosk")
RATINGS_PER_OP = {"kiosk": BATCH, "phone": 1, "dashboard": 0}
REQUESTS_PER_OP = {"kiosk": 1, "phone": 3, "dashboard": 1}
EXPORT_EVERY_S = 3.0
P99_LIMIT_MS = 200.0
MAX_IN_FLIGHT = 2000  # operations; beyond this the generator would only measure its own queue
DRAIN_S = 60.0  # after the last operation started, how long the open ones may take
INTERRUPTED_DRAIN_S = 10.0
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
KINDS = ("kiosk batch", "visit create", "phone form", "phone submit", "dashboard", "export xlsx")


def ratings_per_rotation() -> int:
    return sum(RATINGS_PER_OP[k] for k in PLAN)


def requests_per_second(rate: float) -> float:
    """HTTP requests per second offered for `rate` ratings per second (the export excepted)."""
    return rate * sum(REQUESTS_PER_OP[k] for k in PLAN) / ratings_per_rotation()


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    warmup_latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    measure_from: float = 0.0  # perf_counter: operations scheduled before this belong to the warm-up
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_sample: list[str] = field(default_factory=list)
    ratings_sent: int = 0
    ratings_acknowledged: int = 0
    retries: int = 0
    late: int = 0
    requests: int = 0

    done: list[tuple[float, float]] = field(default_factory=list)  # (perf_counter at the end, ms), not exports
    windows: list[dict[str, Any]] = field(default_factory=list)  # one per 30 s offered, and the last with the drain

    def ok(self, kind: str, ms: float, scheduled: float) -> None:
        """An answered request of an operation scheduled at `scheduled` (its latency goes to the warm-up's figures
        when the operation was scheduled during the warm-up)."""
        (self.latencies if scheduled >= self.measure_from else self.warmup_latencies)[kind].append(ms)
        if kind != "export xlsx":
            self.done.append((time.perf_counter(), ms))

    def window(self, since: float, offered_s: float, open_now: int) -> str:
        """p50 / p99 of the operations (exports aside) that ended after `since` (perf_counter), kept in `windows`."""
        recent = [ms for at, ms in self.done if at >= since]
        record: dict[str, Any] = {"offered_s": round(offered_s), "open": open_now, "ended": len(recent)}
        if recent:
            record |= {"p50": round(percentile(recent, 50), 1), "p99": round(percentile(recent, 99), 1)}
        record["load"] = load_average()
        self.windows.append(record)
        if not recent:
            return "none ended"
        return f"{len(recent)} ended, p50 {record['p50']:.0f} ms, p99 {record['p99']:.0f} ms"

    def fail(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if self.errors[kind] <= 2 and len(self.error_sample) < 16:  # the first two of each kind
            self.error_sample.append(f"{kind}: {what}"[:200])


@dataclass
class Kiosk:
    """A simulated kiosk: its token, its forwarder's lock (one batch at a time) and its last press."""

    token: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_press: datetime | None = None


def prepare(url: str) -> dict[str, Any]:
    """Units, counters and a kiosk per counter; managers of one province; keys and pairing codes."""
    import secrets

    from sqlmodel import select

    from bench import indices
    from server.auth.service import create_api_key, create_user, hash_token
    from server.config import Settings
    from server.db import make_engine, session_scope
    from server.kiosks.service import create_pairing_code
    from server.models import Counter, KioskDevice, Unit

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
            communes = session.exec(select(Unit).where(Unit.parent_id == province.id).order_by(Unit.id)).all()
            phone_counters = [f"{u.code}-{k}" for u in communes for k in (1, 2, 3)]
            all_counters = session.exec(select(Counter).order_by(Counter.id)).all()
            codes = [
                create_pairing_code(session=session, counter_code=c.code, settings=settings)[0]
                for c in all_counters[:PAIRED_THROUGH_API]
            ]
            direct = [secrets.token_urlsafe(32) for _ in all_counters[PAIRED_THROUGH_API:]]
            session.add_all(
                KioskDevice(counter_id=c.id, token_hash=hash_token(t))  # type: ignore[arg-type]
                for c, t in zip(all_counters[PAIRED_THROUGH_API:], direct, strict=True)
            )
    finally:
        engine.dispose()
    return {
        "visits_key": visits_key,
        "read_key": read_key,
        "pairing_codes": codes,
        "device_tokens": direct,
        "counters": phone_counters,
    }


def stored_ratings(url: str) -> int:
    from bench.suite import count_ratings

    return count_ratings(url)


async def pair(client: aiohttp.ClientSession, codes: list[str]) -> list[str]:
    tokens = []
    for code in codes:
        async with client.post("/api/v1/kiosks/pair", json={"code": code}) as response:
            if response.status != 201:
                raise RuntimeError(f"pairing failed: {response.status} {(await response.text())[:200]}")
            tokens.append((await response.json())["token"])
    return tokens


async def login(base: str, username: str) -> aiohttp.ClientSession:
    """A manager's session (its own cookie jar) after the real login form."""
    client = aiohttp.ClientSession(
        base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
    )
    async with client.get("/login") as page:
        match = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    if match is None:
        raise RuntimeError("no CSRF token on the login form")
    form = {"username": username, "password": PASSWORD, "csrf_token": match.group(1), "next": ""}
    async with client.post("/login", data=form, allow_redirects=False) as response:
        if response.status != 303:
            raise RuntimeError(f"login failed: {response.status} {(await response.text())[:200]}")
    return client


FAILURES = (aiohttp.ClientError, asyncio.TimeoutError)


class Load:
    def __init__(self, base: str, setup: dict[str, Any], kiosks: list[Kiosk], managers: list[aiohttp.ClientSession]):
        timeout = aiohttp.ClientTimeout(total=30)
        # Keep-alive connections sized for the load: ~240 requests/s at tens of ms each keep a few dozen busy.
        self.api = aiohttp.ClientSession(
            base_url=base, timeout=timeout, connector=aiohttp.TCPConnector(limit=512, limit_per_host=512)
        )
        self.phone = aiohttp.ClientSession(
            base_url=base,
            timeout=timeout,
            connector=aiohttp.TCPConnector(limit=512, limit_per_host=512),
            cookie_jar=aiohttp.DummyCookieJar(),  # each submission carries its own nonce cookie
        )
        self.setup = setup
        self.kiosks = kiosks
        self.managers = managers
        self.stats = Stats()
        self.counts: dict[str, int] = defaultdict(int)
        self.stop = asyncio.Event()
        self.deadline = float("inf")  # retries give up after this (perf_counter)
        self.interval = 3 * 33.0 / 500  # seconds between a kiosk's batches; set by `run`

    async def close(self) -> None:
        for client in (self.api, self.phone, *self.managers):
            await client.close()

    def _backoff(self, attempt: int) -> float:
        return float(min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (attempt - 1)))

    async def kiosk(self, scheduled: float) -> None:
        n = self.counts["kiosk"]
        self.counts["kiosk"] += 1
        kiosk = self.kiosks[n % len(self.kiosks)]
        async with kiosk.lock:  # the forwarder sends one batch after another; this one waits in the outbox
            now = datetime.now(UTC)
            previous = kiosk.last_press or now - timedelta(seconds=self.interval)
            gap = max((now - previous) / BATCH, timedelta(milliseconds=1))
            ratings = [
                {
                    "id": str(uuid.uuid4()),
                    "level": 1 + (n + i) % 4,
                    "field": "land",
                    "visit_token": None,
                    "reasons": ["late"] if (n + i) % 4 == 0 else [],
                    "comment": None,
                    "rated_at": (now - (BATCH - 1 - i) * gap).isoformat(),
                }
                for i in range(BATCH)
            ]
            kiosk.last_press = now
            self.stats.ratings_sent += BATCH
            attempt = 0
            while True:
                attempt += 1
                self.stats.requests += 1
                body = {"sent_at": datetime.now(UTC).isoformat(), "ratings": ratings}
                try:
                    async with self.api.post(
                        "/api/v1/ratings", json=body, headers={"Authorization": f"Bearer {kiosk.token}"}
                    ) as response:
                        text = await response.text()
                        status = response.status
                    acknowledged = text.count('"created"') + text.count('"duplicate"') if status == 200 else 0
                    if acknowledged == BATCH:
                        self.stats.ok("kiosk batch", (time.perf_counter() - scheduled) * 1000, scheduled)
                        self.stats.ratings_acknowledged += BATCH
                        return
                    self.stats.fail("kiosk batch", f"{status}, {acknowledged} acknowledged: {text[:120]}")
                except FAILURES as exc:
                    self.stats.fail("kiosk batch", repr(exc))
                if time.perf_counter() > self.deadline:
                    return  # never acknowledged: these ratings stay "sent, not stored" unless stored after all
                self.stats.retries += 1
                await asyncio.sleep(self._backoff(attempt))

    async def phone_flow(self, scheduled: float) -> None:
        n = self.counts["phone"]
        self.counts["phone"] += 1
        counter = self.setup["counters"][n % len(self.setup["counters"])]
        try:
            self.stats.requests += 1
            async with self.api.post(
                "/api/v1/visits",
                json={"counter": counter, "field": "land"},
                headers={"Authorization": f"Bearer {self.setup['visits_key']}"},
            ) as response:
                text = await response.text()
                if response.status != 201:
                    self.stats.fail("visit create", f"{response.status} {text[:120]}")
                    return
                token = json.loads(text)["token"]
            self.stats.ok("visit create", (time.perf_counter() - scheduled) * 1000, scheduled)
        except FAILURES as exc:
            self.stats.fail("visit create", repr(exc))
            return
        sent = False
        attempt = 0
        while True:
            attempt += 1
            step = "phone form"
            try:
                t0 = time.perf_counter()
                self.stats.requests += 1
                async with self.phone.get(f"/r/{token}") as page:
                    html = await page.text()
                    status = page.status
                    morsel = page.cookies.get("hl_rate")
                if sent and status == 409:  # "already rated": an earlier attempt was stored
                    self.stats.ratings_acknowledged += 1
                    return
                match = re.search(r'name="csrf" value="([^"]+)"', html)
                if status != 200 or morsel is None or match is None:
                    self.stats.fail(step, f"{status} {html[:120]}")
                    if not sent:
                        return  # nothing was sent: the citizen gives up, no rating to account for
                else:
                    self.stats.ok(step, (time.perf_counter() - t0) * 1000, scheduled)
                    step = "phone submit"
                    if not sent:
                        self.stats.ratings_sent += 1
                        sent = True
                    form = {"csrf": match.group(1), "level": str(1 + n % 4), "comment": "", "contact": ""}
                    t0 = time.perf_counter()
                    self.stats.requests += 1
                    async with self.phone.post(
                        f"/r/{token}", data=form, headers={"Cookie": f"hl_rate={morsel.value}"}, allow_redirects=False
                    ) as answer:
                        reply = await answer.text()
                        if answer.status == 303:
                            self.stats.ok(step, (time.perf_counter() - t0) * 1000, scheduled)
                            self.stats.ratings_acknowledged += 1
                            return
                        self.stats.fail(step, f"{answer.status} {reply[:120]}")
            except FAILURES as exc:
                self.stats.fail(step, repr(exc))
                if not sent:
                    return
            if time.perf_counter() > self.deadline:
                return
            self.stats.retries += 1
            await asyncio.sleep(self._backoff(attempt))

    async def dashboard(self, scheduled: float) -> None:
        n = self.counts["dashboard"]
        self.counts["dashboard"] += 1
        client = self.managers[n % len(self.managers)]
        try:
            self.stats.requests += 1
            async with client.get("/dashboard", headers={"accept": "text/html"}) as response:
                text = await response.text()
                if response.status != 200:
                    self.stats.fail("dashboard", f"{response.status} {text[:120]}")
                else:
                    self.stats.ok("dashboard", (time.perf_counter() - scheduled) * 1000, scheduled)
        except FAILURES as exc:
            self.stats.fail("dashboard", repr(exc))

    async def export(self, scheduled: float) -> None:
        month = datetime.now(UTC).strftime("%Y-%m")
        try:
            self.stats.requests += 1
            async with self.api.get(
                f"/exports/monthly.xlsx?month={month}&unit={PROVINCE}",
                headers={"Authorization": f"Bearer {self.setup['read_key']}"},
            ) as response:
                await response.read()
                if response.status != 200:
                    self.stats.fail("export xlsx", f"{response.status}")
                else:
                    self.stats.ok("export xlsx", (time.perf_counter() - scheduled) * 1000, scheduled)
        except FAILURES as exc:
            self.stats.fail("export xlsx", repr(exc))

    async def run(self, seconds: float, rate: float, warmup: float = 0.0) -> float:
        """Start operations on schedule for `warmup` + `seconds` (or until `stop`); wait for the open ones; the
        seconds offered after the warm-up (whose latencies `Stats` keeps apart)."""
        interval = ratings_per_rotation() / len(PLAN) / rate  # seconds between operations
        self.interval = interval * len(self.kiosks) * len(PLAN) / PLAN.count("kiosk")
        ops = {"kiosk": self.kiosk, "phone": self.phone_flow, "dashboard": self.dashboard}
        tasks: set[asyncio.Task[None]] = set()

        def launch(coro: Any) -> None:
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        start = time.perf_counter()
        self.stats.measure_from = start + warmup
        next_export = start
        next_report = start + 30
        i = 0
        while not self.stop.is_set():
            scheduled = start + i * interval
            if scheduled - start >= warmup + seconds:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
                if self.stop.is_set():
                    break
            else:
                await asyncio.sleep(0)  # always yield, so the open requests progress
                if delay < -0.1:
                    self.stats.late += 1
            kind = PLAN[i % len(PLAN)]
            i += 1
            if len(tasks) >= MAX_IN_FLIGHT:
                self.stats.fail(f"{kind}: not started", f"{MAX_IN_FLIGHT} operations already open")
                continue
            launch(ops[kind](scheduled))
            if scheduled >= next_export:
                launch(self.export(scheduled))
                next_export += EXPORT_EVERY_S
            if scheduled >= next_report:
                offered_s = scheduled - start
                window = self.stats.window(next_report - 30, offered_s, len(tasks))
                next_report += 30
                progress(f"  {offered_s:.0f} s offered, {len(tasks)} open, last 30 s: {window}; load {load_average()}")
        offered = max(0.0, min(time.perf_counter(), start + warmup + seconds) - start - warmup)
        drain = INTERRUPTED_DRAIN_S if self.stop.is_set() else DRAIN_S
        self.deadline = time.perf_counter() + drain
        if tasks:
            done_waiting = asyncio.ensure_future(asyncio.wait(set(tasks), timeout=drain + RETRY_MAX_S))
            stopper = asyncio.ensure_future(self._second_stop())
            await asyncio.wait({done_waiting, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        total = warmup + offered
        window = self.stats.window(next_report - 30, total, len(tasks))
        progress(f"  {total:.0f} s offered, all ended, since {next_report - 30 - start:.0f} s: {window}")
        return offered

    async def _second_stop(self) -> None:
        """Returns when a second signal asks to skip the wait for open operations."""
        self.stop.clear()
        await self.stop.wait()


# --- CPU accounting (Linux /proc) ---------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _proc_cpu(pid: int, *, reaped: bool = False) -> float:
    """CPU seconds of a process (with `reaped`: of its children that have exited, instead)."""
    fields = _stat_fields(pid)
    if not fields:
        return 0.0
    first = 13 if reaped else 11  # cutime, cstime or utime, stime
    return (int(fields[first]) + int(fields[first + 1])) / _TICKS


def _process_tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(IndexError, ValueError):
                parents[int(_stat_fields(int(entry.name))[1])].append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(parents.get(current, []))
    return out


def wait_settled(server_pid: int, *, busy_below: float = 0.1, timeout: float = SETTLE_TIMEOUT_S) -> float:
    """Wait until the server's processes use less than `busy_below` of a core over half a second (its workers have
    finished starting: imports, templates, connection pools); the seconds waited. A worker still starting when the
    load begins takes the CPU the others need, and its queue is the first seconds' latency."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        pids = _process_tree(server_pid)
        before = sum(_proc_cpu(pid) for pid in pids)
        time.sleep(0.5)
        if sum(_proc_cpu(pid) for pid in pids) - before < busy_below * 0.5:
            return round(time.monotonic() - started, 1)
    raise RuntimeError(f"the server was still busy {timeout:g} s after it answered (is something else loading it?)")


def _about_database(url: str, sql: str) -> list[Any]:
    """The first column of `sql` (with `:name`, the soak database's name) run on the admin connection."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)  # the activity and size views are cluster-wide
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(sa.text(sql), {"name": sa.make_url(url).database})]
    finally:
        engine.dispose()


def _backends(url: str) -> list[int]:
    return _about_database(url, "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()")


def _sessions(url: str) -> int:
    """Connections ever opened to the soak's database (`pg_stat_database.sessions`)."""
    found = _about_database(url, "SELECT sessions FROM pg_stat_database WHERE datname = :name")
    return int(found[0] or 0) if found else 0


def _machine_cpu() -> tuple[float, float]:
    """Busy and stolen CPU seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) / _TICKS, steal / _TICKS


def cpu_snapshot(server_pid: int, url: str) -> dict[str, Any]:
    """CPU seconds so far of the server's processes, the database's backends, this process and the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    backends = _backends(url)
    fields = _stat_fields(backends[0]) if backends else []
    postmaster = int(fields[1]) if fields else 0
    busy, steal = _machine_cpu()
    return {
        "server": {pid: _proc_cpu(pid) for pid in _process_tree(server_pid)},
        "postgres": {pid: _proc_cpu(pid) for pid in backends},
        # Backends that exit (the pool's overflow connections) hand their CPU time to the postmaster's children
        # total; that total also holds exited backends of other databases, so it can only overstate.
        "postgres_exited": _proc_cpu(postmaster, reaped=True) if postmaster else 0.0,
        "generator": usage.ru_utime + usage.ru_stime,
        "machine": busy,
        "steal": steal,
    }


def cpu_used(before: dict[str, Any], after: dict[str, Any], *, exited: bool = True) -> dict[str, float]:
    """Seconds used between two snapshots (processes that started in between count from zero); without `exited`,
    PostgreSQL counts only the live backends of the soak's database (enough when the pool never closes one)."""
    out = {}
    out["server"] = sum(v - before["server"].get(pid, 0.0) for pid, v in after["server"].items())
    out["postgres"] = sum(v - before["postgres"].get(pid, 0.0) for pid, v in after["postgres"].items())
    if exited:
        out["postgres"] += after["postgres_exited"] - before["postgres_exited"]
    for part in ("generator", "machine", "steal"):
        out[part] = after[part] - before[part]
    # Everything else: other users' processes on the shared machine, and kernel work no process is charged with.
    out["others"] = out["machine"] - out["server"] - out["postgres"] - out["generator"]
    return out


def summarise(
    stats: Stats, stored: int, args: argparse.Namespace, offered: float, meta: dict[str, Any]
) -> dict[str, Any]:
    kinds: dict[str, dict[str, float]] = {}
    nan = float("nan")
    for kind in KINDS:
        values = stats.latencies.get(kind, [])
        kinds[kind] = {
            "sent": len(values) + stats.errors.get(kind, 0),
            "errors": stats.errors.get(kind, 0),
            "p50": percentile(values, 50) if values else nan,
            "p95": percentile(values, 95) if values else nan,
            "p99": percentile(values, 99) if values else nan,
            "max": max(values) if values else nan,
        }
    for kind, count in stats.errors.items():
        if kind.endswith("not started"):
            kinds[kind] = {"sent": 0, "errors": count, "p50": nan, "p95": nan, "p99": nan, "max": nan}
    errors = sum(stats.errors.values())
    measured = [(k, v["p99"]) for k, v in kinds.items() if k != "export xlsx" and v["p99"] == v["p99"]]
    worst = max(measured, key=lambda kv: kv[1], default=("none", nan))
    missing = [k for k in KINDS if k != "export xlsx" and kinds[k]["p99"] != kinds[k]["p99"]]
    criteria = [
        ("0 errors", f"{errors}", errors == 0),
        (
            f"p99 ≤ {P99_LIMIT_MS:.0f} ms for every kind but the export",
            f"worst: {worst[0]} {worst[1]:.0f} ms" + (f"; no figure for {', '.join(missing)}" if missing else ""),
            not missing and worst[1] <= P99_LIMIT_MS,
        ),
        ("stored == sent", f"{stored:,} stored / {stats.ratings_sent:,} sent", stored == stats.ratings_sent),
    ]
    if meta.get("interrupted"):
        criteria.append(("ran its full length", f"interrupted after {offered:.0f} s", False))
    cpu = meta.get("cpu", {})
    wall = meta.get("wall", 0.0)
    cpu_report = {
        part: {
            "seconds": round(seconds, 1),
            "ms_per_request": round(1000 * seconds / stats.requests, 2) if stats.requests else nan,
            "cores": round(seconds / wall, 2) if wall else nan,
        }
        for part, seconds in cpu.items()
    }
    return {
        "command": f".venv/bin/python -m bench.soak --minutes {args.minutes:g} --rate {args.rate:g} "
        f"--workers {args.workers} --warmup {args.warmup:g}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": meta["machine"],
        "servers": f"`hailong serve --workers {args.workers}` (uvicorn with uvloop and httptools, access log on) on "
        f"PostgreSQL {meta.get('pg', '?')}, load generator (Python asyncio + aiohttp, one process) on the same "
        "machine",
        "load_before": meta.get("load_before", ""),
        "load_after": load_average(),
        "rate": args.rate,
        "rate_unit": "ratings/s",
        "requests_per_s": round(requests_per_second(args.rate), 1),
        "seconds": offered,
        "warmup_seconds": args.warmup,
        "server_settled_s": meta.get("settled_s"),
        "interrupted": bool(meta.get("interrupted")),
        "mix": f"per 10 operations: 6 kiosk batches of {BATCH} ratings (3,000 kiosks, one per counter), 3 phone "
        f"submissions (1 rating, 3 requests), 1 dashboard read ({MANAGERS} managers); an XLSX export every "
        f"{EXPORT_EVERY_S:g} s",
        "kinds": kinds,
        # The warm-up's answered requests (errors, ratings and requests count in the totals, whenever they happened).
        "warmup": {
            kind: {
                "answered": len(values),
                "p50": percentile(values, 50),
                "p99": percentile(values, 99),
                "max": max(values),
            }
            for kind in KINDS
            if (values := stats.warmup_latencies.get(kind))
        },
        "ratings_sent": stats.ratings_sent,
        "ratings_acknowledged": stats.ratings_acknowledged,
        "ratings_stored": stored,
        "requests": stats.requests,
        # Over the whole measured time (offered seconds plus the wait for open operations): what the system kept up.
        "achieved_ratings_per_s": round(stats.ratings_acknowledged / wall, 1) if wall else nan,
        "achieved_requests_per_s": round(stats.requests / wall, 1) if wall else nan,
        "measured_seconds": round(wall, 1),
        "retries": stats.retries,
        "worker_restarts": meta.get("worker_restarts", 0),
        "database_connections_opened": meta.get("sessions_opened"),
        "errors": errors,
        "late": stats.late,
        "errors_sample": stats.error_sample,
        "windows": stats.windows,
        "cpu": cpu_report,
        "criteria": criteria,
        "passed": all(ok for _, _, ok in criteria),
    }


COST_KINDS = ("kiosk", "phone", "dashboard", "export")


async def measure_cost(load: Load, n: int, snapshot: Any, kinds: tuple[str, ...] = COST_KINDS) -> None:
    """CPU per request of each kind, `n` operations each, 4 at a time (closed loop: the machine is never saturated)."""
    load.interval = 33.0  # each kiosk's first batch holds the presses of the last half minute
    every = {"kiosk": load.kiosk, "phone": load.phone_flow, "dashboard": load.dashboard, "export": load.export}
    ops = {kind: every[kind] for kind in kinds}
    print("| kind | operations | requests | server ms/request | PostgreSQL ms/request | generator ms/request | load |")
    print("|---|---|---|---|---|---|---|")
    for kind, op in ops.items():
        count = n if kind != "export" else max(5, n // 50)
        for _ in range(10 if kind != "export" else 2):  # warm-up: connections, caches, prepared statements
            await op(time.perf_counter())
        before_requests = load.stats.requests
        pending = iter(range(count))

        async def worker(op: Any = op, pending: Any = pending) -> None:
            for _ in pending:
                await op(time.perf_counter())

        before = snapshot()
        await asyncio.gather(*(worker() for _ in range(4)))
        used = cpu_used(before, snapshot(), exited=False)  # 4 at a time: the pool closes no connection
        requests = load.stats.requests - before_requests
        print(
            f"| {kind} | {count} | {requests} | {1000 * used['server'] / requests:.2f} "
            f"| {1000 * used['postgres'] / requests:.2f} | {1000 * used['generator'] / requests:.2f} "
            f"| {load_average()} |",
            flush=True,
        )
    if load.stats.errors:
        print("errors:", dict(load.stats.errors), load.stats.error_sample)


class Interrupted(BaseException):
    """SIGTERM or Ctrl-C outside the load phase: unwind, cleaning up on the way."""


def _interrupt(signum: int, _frame: Any) -> None:
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--rate", type=float, default=500, help="ratings per second offered (see the docstring)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--warmup",
        type=float,
        default=WARMUP_S,
        help=f"seconds of the same load before the measured minutes, reported apart (default {WARMUP_S:g})",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON results")
    add_shared_postgres_option(parser)
    parser.add_argument("--output", type=Path, default=SOAK_JSON, help="where to write the JSON results")
    parser.add_argument(
        "--cost",
        type=int,
        metavar="N",
        help="instead of the soak: N operations of each kind in a closed loop (4 at a time), and the CPU each "
        "request costs the server, PostgreSQL and the generator (load-independent figures; writes nothing)",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(COST_KINDS),
        help=f"with --cost: the kinds to measure, comma-separated (default {','.join(COST_KINDS)})",
    )
    args = parser.parse_args(argv)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    unknown = sorted(set(kinds) - set(COST_KINDS))
    if unknown or not kinds:
        parser.error(f"--kinds: unknown kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(COST_KINDS)}")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)
    procs = Processes()
    meta: dict[str, Any] = {"machine": machine_facts()["Machine"]}
    stats: Stats | None = None
    offered = 0.0
    server_errors: list[str] = []
    log_name = ""
    try:
        with postgres_admin_url(args.shared_postgres) as admin_url, bench_database(admin_url, "hl_bench_soak") as url:
            progress("preparing units, counters, kiosks, managers and keys")
            setup = prepare(url)
            port = free_port()
            log = tempfile.NamedTemporaryFile(prefix="hailong-soak-", suffix=".log", delete=False)  # noqa: SIM115
            log_name = log.name
            env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "HAILONG_SECRET_KEY": "s" * 40}
            server = procs.start(
                [
                    *(str(Path(sys.executable).parent / "hailong"), "serve"),
                    *("--port", str(port), "--workers", str(args.workers)),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            base = f"http://127.0.0.1:{port}"
            wait_up(base + "/healthz")
            meta["pg"] = str(scalar(url, "SHOW server_version"))

            async def go() -> tuple[Stats, float]:
                loop = asyncio.get_running_loop()
                async with aiohttp.ClientSession(base_url=base) as client:
                    paired = await pair(client, setup["pairing_codes"])
                kiosks = [Kiosk(token) for token in paired + setup["device_tokens"]]
                managers = [await login(base, f"soak{i}") for i in range(MANAGERS)]
                load = Load(base, setup, kiosks, managers)

                def on_signal() -> None:
                    meta["interrupted"] = True
                    progress("stopping: no new operations; open ones may finish (signal again to skip)")
                    load.stop.set()

                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signum, on_signal)
                if args.cost:
                    try:
                        await measure_cost(load, args.cost, lambda: cpu_snapshot(server.pid, url), kinds)
                    finally:
                        for signum in (signal.SIGTERM, signal.SIGINT):
                            loop.remove_signal_handler(signum)
                            signal.signal(signum, _interrupt)
                        await load.close()
                    return load.stats, 0.0
                try:
                    meta["settled_s"] = await asyncio.to_thread(wait_settled, server.pid)
                    meta["load_before"] = load_average()
                    progress(
                        f"offering {args.rate:g} ratings/s ({requests_per_second(args.rate):.0f} requests/s) for "
                        f"{args.warmup:g} s of warm-up and {args.minutes:g} min (load {meta['load_before']})"
                    )
                    before = cpu_snapshot(server.pid, url)
                    sessions_before = _sessions(url)
                    t0 = time.perf_counter()
                    try:
                        offered = await load.run(args.minutes * 60, args.rate, args.warmup)
                    finally:
                        meta["wall"] = time.perf_counter() - t0
                        meta["cpu"] = cpu_used(before, cpu_snapshot(server.pid, url))
                        # A new connection is a new backend, which builds its caches and compiles the triggers'
                        # PL/pgSQL again: a pool that keeps its connections opens none during the run.
                        meta["sessions_opened"] = _sessions(url) - sessions_before
                finally:
                    for signum in (signal.SIGTERM, signal.SIGINT):
                        loop.remove_signal_handler(signum)
                        signal.signal(signum, _interrupt)  # the loop's removal restored the default
                    await load.close()
                return load.stats, offered

            stats, offered = _run(go())
            if args.cost:
                procs.stop_all()
                _drop_quiet_log(log_name)
                return 0
            time.sleep(1)
            stored = stored_ratings(url)
            procs.stop_all()
            server_log = Path(log_name).read_text(errors="replace").splitlines()
            server_errors = [line for line in server_log if "Traceback" in line]
            # uvicorn's supervisor replaces a worker that misses its health ping (and everything it was serving).
            meta["worker_restarts"] = sum(1 for line in server_log if "Child process" in line and "died" in line)
            if not server_errors and not meta["worker_restarts"]:
                os.unlink(log_name)
    except Interrupted:
        procs.stop_all()
        _drop_quiet_log(log_name)
        progress("interrupted before the load ran; cleaned up (server stopped, database dropped)")
        return 130
    finally:
        procs.stop_all()
    data = summarise(stats, stored, args, offered, meta)
    notes = []
    if server_errors:
        notes.append(f"The server logged {len(server_errors)} tracebacks.")
    if data["worker_restarts"]:
        notes.append(f"uvicorn replaced {data['worker_restarts']} unresponsive workers.")
    if notes:
        data["note"] = " ".join(notes) + f" (log: {log_name})"
    report(data)
    if not args.no_write:
        args.output.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        progress(f"wrote {args.output}")
    return 0 if data["passed"] else 1


def _drop_quiet_log(name: str) -> None:
    """Remove the server's log unless it holds a traceback or a replaced worker (then it is worth reading)."""
    if not name or not os.path.exists(name):
        return
    text = Path(name).read_text(errors="replace")
    if "Traceback" not in text and "died" not in text:
        os.unlink(name)
    else:
        progress(f"server log kept: {name}")


def _run(coro: Any) -> Any:
    """`asyncio.run`, on uvloop when it is installed (a cheaper event loop for the load generator)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def report(data: dict[str, Any]) -> None:
    for kind, w in data.get("warmup", {}).items():
        print(f"{'warm-up ' + kind:30} answered {w['answered']:5}  p50 {w['p50']:7.1f}  p99 {w['p99']:7.1f}  "
              f"max {w['max']:7.1f} ms")  # fmt: skip
    for kind, k in data["kinds"].items():
        print(f"{kind:22} sent {k['sent']:6}  errors {k['errors']:4}  p50 {k['p50']:7.1f}  p95 {k['p95']:7.1f}  "
              f"p99 {k['p99']:7.1f}  max {k['max']:7.1f} ms")  # fmt: skip
    print(
        f"ratings sent {data['ratings_sent']:,}, acknowledged {data['ratings_acknowledged']:,}, stored "
        f"{data['ratings_stored']:,}; requests {data['requests']:,}, retries {data['retries']}, late starts "
        f"{data['late']}; kept up with {data['achieved_ratings_per_s']} ratings/s, "
        f"{data['achieved_requests_per_s']} requests/s over {data['measured_seconds']} s"
    )
    for part, c in data["cpu"].items():
        print(f"cpu {part:10} {c['seconds']:8.1f} s  {c['ms_per_request']:6.2f} ms/request  {c['cores']:.2f} cores")
    for name, result, ok in data["criteria"]:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {result}")
    print(f"load average before {data['load_before']}, after {data['load_after']}")
    if data.get("database_connections_opened") is not None:
        print(f"database connections opened during the run: {data['database_connections_opened']}")
    for line in data["errors_sample"]:
        print("error:", line)
    if data.get("note"):
        print(data["note"])


if __name__ == "__main__":
    sys.exit(main())

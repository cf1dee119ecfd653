"""Ingest: ratings per second through `POST /api/v1/ratings` over HTTP, batches of 500, PostgreSQL and SQLite.

For each backend: a fresh migrated database with one commune, counter and paired kiosk per client (a national
network coming back after an outage: kiosks of different communes flushing their outboxes); the central app served
by uvicorn the way `hailong serve` does (`server.app:create_app_from_env`, N worker processes). The load comes from
`wrk` (C, one thread and one keep-alive connection per device, so a device never has two batches in flight, as a
kiosk's forwarder never does): its Lua script builds every batch with fresh ids and rated_at times 5 s apart
(nothing is a duplicate or misuse; replays are a different, cheaper path), counts the `created` answers, and
records how many batches each device had acknowledged. Afterwards every acknowledged id is looked up in the table:
all of them must be there. The same run measures bench.ingest_reference (a minimal endpoint doing plain inserts)
the same way on the same database.

CPU seconds are read from /proc for the uvicorn processes, the database's PostgreSQL backends and wrk itself,
and for the whole machine (other work on the shared machine shows as "other").

    .venv/bin/python -m bench.ingest [--seconds 12] [--clients 8] [--workers 2] [--backends postgresql,sqlite]

PostgreSQL comes from BENCH_DATABASE_URL or TEST_DATABASE_URL (a server URL; a database is created and dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench._util import free_port, wait_for, wrk_figures

ROOT = Path(__file__).resolve().parent.parent
BATCH = 500
#: Seconds between two ratings of one device (more than the misuse window: no rating is flagged).
SPACING = 5
ENDPOINTS = {
    "hailong ingest": "server.app:create_app_from_env",
    "reference: plain inserts": "bench.ingest_reference:create_app",
}


@dataclass
class Result:
    name: str
    ratings: int
    seconds: float
    batches: int
    p50_ms: float
    p95_ms: float
    cpu: dict[str, float] = field(default_factory=dict)  # workers, database, wrk, machine (CPU seconds)
    backend: str = ""
    workers: int = 0

    @property
    def rate(self) -> float:
        return self.ratings / self.seconds

    def per_rating_us(self, key: str) -> float:
        return self.cpu.get(key, 0.0) / self.ratings * 1e6 if self.ratings else float("nan")


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _machine_cpu() -> float:
    """CPU seconds spent by the whole machine (all cores, everything but idle and I/O wait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICK


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _backend_pids(db_url: str) -> list[int]:
    """The PostgreSQL backends connected to this database (none on SQLite)."""
    if not db_url.startswith("postgresql"):
        return []
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ).scalars()
        out = list(pids)
    engine.dispose()
    return out


def _prepare(db_url: str, devices: int) -> list[str]:
    """Migrate; add a province with `devices` communes, one counter and one paired kiosk each; returns the tokens."""
    from alembic import command

    from server.auth.service import hash_token
    from server.cli.core import alembic_config
    from server.config import Settings
    from server.db import make_engine, session_scope
    from server.models import Counter, KioskDevice
    from server.units.service import create_unit

    command.upgrade(alembic_config(Settings(database_url=db_url)), "head")
    engine = make_engine(db_url)
    tokens = [secrets.token_urlsafe(32) for _ in range(devices)]
    with session_scope(engine) as session:
        province = create_unit(session=session, code="BENCH", name="Bench")
        for i, token in enumerate(tokens):
            commune = create_unit(session=session, code=f"BENCH-{i:02d}", name=f"Xã {i}", parent=province)
            counter = Counter(code=f"BENCH-{i:02d}-Q1", unit_id=commune.id, name="Quầy 1")  # type: ignore[arg-type]
            session.add(counter)
            session.flush()
            session.add(KioskDevice(counter_id=counter.id, token_hash=hash_token(token)))  # type: ignore[arg-type]
    engine.dispose()
    return tokens


#: Ratings stored per device before the servers start (PostgreSQL; SQLite gets a fifth).
PREFILL = 25_000

_PREFILL_PG = """
INSERT INTO rating (id, level, satisfied, field_id, unit_id, counter_id, device_id, channel, contact_consent,
                    rated_at, client_rated_at, local_date, received_at, misuse)
SELECT gen_random_uuid(), r.level, r.level >= 3, (SELECT id FROM field WHERE code = 'land'), r.unit_id, r.counter_id,
       r.device_id, 'kiosk', false, r.at, r.at, CAST(r.at AT TIME ZONE 'Asia/Ho_Chi_Minh' AS date), r.at, false
FROM (
  SELECT 1 + k % 4 AS level, d.id AS device_id, d.counter_id, c.unit_id,
         CAST(:start AS timestamptz) + make_interval(days => CAST(10 * d.i AS int), secs => :spacing * k) AS at
  FROM (SELECT *, row_number() OVER (ORDER BY id) - 1 AS i FROM kiosk_device) d
  JOIN counter c ON c.id = d.counter_id, generate_series(1, :n) AS k
) r
"""
_PREFILL_REASONS = (
    "INSERT INTO rating_reason (rating_id, reason_id) SELECT id, (SELECT id FROM reason WHERE code = 'late') "
    "FROM rating WHERE level = 1 AND random() < 1.0 / 3"
)


def _prefill_sqlite(conn: sa.Connection, start: datetime, per_device: int) -> None:
    from server.models import Rating, RatingReason

    devices = conn.execute(
        sa.text(
            "SELECT d.id, d.counter_id, c.unit_id FROM kiosk_device d JOIN counter c ON c.id = d.counter_id ORDER BY 1"
        )
    ).all()
    land = conn.execute(sa.text("SELECT id FROM field WHERE code = 'land'")).scalar_one()
    late = conn.execute(sa.text("SELECT id FROM reason WHERE code = 'late'")).scalar_one()
    rows, reasons = [], []
    for i, (device_id, counter_id, unit_id) in enumerate(devices):
        for k in range(1, per_device + 1):
            at = start + timedelta(days=10 * i, seconds=SPACING * k)
            level = 1 + k % 4
            rows.append(
                {"id": uuid.uuid4(), "level": level, "satisfied": level >= 3, "field_id": land, "unit_id": unit_id,
                 "counter_id": counter_id, "device_id": device_id, "channel": "kiosk", "rated_at": at,
                 "client_rated_at": at, "local_date": (at + timedelta(hours=7)).date(), "received_at": at}
            )  # fmt: skip
            if level == 1 and k % 3 == 0:
                reasons.append({"rating_id": rows[-1]["id"], "reason_id": late})
    conn.execute(sa.insert(Rating.__table__), rows)  # type: ignore[attr-defined]
    conn.execute(sa.insert(RatingReason.__table__), reasons)  # type: ignore[attr-defined]


def _prefill(db_url: str, start: datetime, per_device: int) -> None:
    """Give every device `per_device` stored ratings from `start` + 10·i days (5 s apart), some with a reason, and
    ANALYZE: the servers then start on an established table, as in production. (On an empty table PostgreSQL plans
    the rollup triggers' joins for a few rows and keeps those plans while the table grows during the run.)"""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        if db_url.startswith("postgresql"):
            conn.execute(sa.text(_PREFILL_PG), {"start": start, "spacing": SPACING, "n": per_device})
            conn.execute(sa.text(_PREFILL_REASONS))
        else:
            _prefill_sqlite(conn, start, per_device // 5)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()


WRK_SCRIPT = r"""
-- One thread and one connection per device. Ids: RUN-TID-4000-8000-N (N counts this device's ratings).
local tokens = {TOKENS}
local starts = {STARTS}
local nthreads = 0
local threads = {}
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end
function init(args)
  auth = "Bearer " .. tokens[tid]
  created = 0
  batches = 0
  failed = 0
  first_error = ""
end
local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%S+00:00", t)
end
-- The k-th batch (from 0) holds ratings k*BATCH+1 .. (k+1)*BATCH. It is built from the answers counted so far,
-- not from a counter of its own: wrk calls request() once more than it sends, to check the script.
request = function()
  local items = {}
  local base = (batches + failed) * BATCH
  for i = 1, BATCH do
    local n = base + i
    local level = 1 + n % 4
    local reasons = (level == 1 and n % 3 == 0) and '["late"]' or '[]'
    items[i] = string.format(
      '{"id":"%08x-%04x-4000-8000-%012x","level":%d,"field":"land","visit_token":null,"reasons":%s,' ..
      '"comment":null,"rated_at":"%s"}', RUN, tid, n, level, reasons, iso(starts[tid] + SPACING * n))
  end
  local body = '{"sent_at":"' .. iso(os.time()) .. '","ratings":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", "/api/v1/ratings", {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
response = function(status, headers, body)
  local _, c = string.gsub(body, '"created"', "")
  if status == 200 and c == BATCH then
    created = created + c
    batches = batches + 1
  else
    failed = failed + 1
    if first_error == "" then first_error = status .. " " .. string.gsub(string.sub(body, 1, 200), '[%c"\\]', " ") end
  end
end
done = function(summary, latency, requests)
  local acked = {}
  local created_total, batches_total, failed_total, first_error = 0, 0, 0, ""
  for i, t in ipairs(threads) do
    acked[i] = string.format("%d", t:get("batches"))
    created_total = created_total + t:get("created")
    batches_total = batches_total + t:get("batches")
    failed_total = failed_total + t:get("failed")
    if first_error == "" then first_error = t:get("first_error") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON{"duration_us":%d,"requests":%d,"created":%d,"batches":%d,"failed":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"acked":[%s],"first_error":"%s"}\n',
    summary.duration, summary.requests, created_total, batches_total, failed_total,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(95),
    table.concat(acked, ","), first_error))
end
"""


def wrk_script(tokens: list[str], starts: list[int], run_tag: int) -> str:
    """The Lua script for one run: device tokens, each device's first rated_at (epoch seconds), the run's tag."""
    return (
        WRK_SCRIPT.replace("TOKENS", ",".join(f'"{t}"' for t in tokens))
        .replace("STARTS", ",".join(str(s) for s in starts))
        .replace("RUN", str(run_tag))
        .replace("BATCH", str(BATCH))
        .replace("SPACING", str(SPACING))
    )


def rating_id(run_tag: int, device: int, n: int) -> uuid.UUID:
    """The id the Lua script gives the n-th rating (from 1) of device number `device` (from 1)."""
    return uuid.UUID(f"{run_tag:08x}-{device:04x}-4000-8000-{n:012x}")


def _load(
    name: str, port: int, tokens: list[str], seconds: float, start: datetime, db_url: str, server_pid: int | None = None
) -> Result:
    """wrk posting fresh batches from every device for `seconds`; checks every acknowledged id is stored.

    Device i's ratings start at `start` + 10·i days. CPU is counted for the uvicorn processes under `server_pid`.
    """
    run_tag = secrets.randbits(31)
    starts = [int((start + timedelta(days=10 * i)).timestamp()) for i in range(len(tokens))]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(wrk_script(tokens, starts, run_tag))
    pids = _backend_pids(db_url)
    uvicorn = [server_pid, *_children(server_pid)] if server_pid else []
    workers0 = {p: _cpu(p) for p in uvicorn}
    machine0 = _machine_cpu()
    try:
        proc = subprocess.Popen(
            ["wrk", f"-t{len(tokens)}", f"-c{len(tokens)}", f"-d{seconds:.0f}s", "--timeout", "60s", "-s", f.name,
             f"http://127.0.0.1:{port}"],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        server0 = {p: _cpu(p) for p in pids}
        time.sleep(min(1.0, seconds / 4))  # the backends wrk's connections use exist once requests arrive
        pids = list(set(pids) | set(_backend_pids(db_url)))
        server0.update({p: 0.0 for p in pids if p not in server0})  # new backends: counted from their start
        wrk_cpu = 0.0
        stat = Path(f"/proc/{proc.pid}/stat")
        while proc.poll() is None:
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                wrk_cpu = (int(fields[11]) + int(fields[12])) / _TICK
            except OSError:
                pass
            time.sleep(0.2)
        out = proc.stdout.read() if proc.stdout else ""
        machine = _machine_cpu() - machine0
        database = sum(_cpu(p) - server0[p] for p in pids)
        workers = sum(_cpu(p) - workers0[p] for p in uvicorn)
    finally:
        os.unlink(f.name)
    r = wrk_figures(out, f"{name}: wrk")
    if r["failed"] or r["socket_errors"]:
        problem = f"{r['failed']} failed batches, {r['socket_errors']} socket errors"
        raise RuntimeError(f"{name}: {problem}; first: {r['first_error']}")
    _check_stored(name, db_url, run_tag, r["acked"])
    return Result(
        name,
        ratings=r["created"],
        seconds=r["duration_us"] / 1e6,
        batches=r["batches"],
        p50_ms=r["p50_us"] / 1000,
        p95_ms=r["p95_us"] / 1000,
        cpu={"workers": workers, "database": database, "wrk": wrk_cpu, "machine": machine},
    )


def _check_stored(name: str, db_url: str, run_tag: int, acked: list[int]) -> None:
    """Every id acknowledged as created (the first `acked[d] × 500` of device d+1) is in the table."""
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(sa.text("SELECT id FROM rating"))}
    engine.dispose()
    stored_ids = {s if isinstance(s, uuid.UUID) else uuid.UUID(str(s)) for s in stored}
    missing = [
        (d + 1, n)
        for d, batches in enumerate(acked)
        for n in range(1, batches * BATCH + 1)
        if rating_id(run_tag, d + 1, n) not in stored_ids
    ]
    if missing:
        raise RuntimeError(f"{name}: {len(missing)} acknowledged ratings are not stored, e.g. device/n {missing[:3]}")


def _serve(app: str, db_url: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "HAILONG_DB_POOL_SIZE": "8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--factory", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log"],
        env=env,
    )  # fmt: skip
    return proc, port


def run_backend(
    backend: str, db_url: str, *, clients: int, workers: int, seconds: float, endpoints: list[str]
) -> list[Result]:
    """Each endpoint in turn on the same fresh database, on its own range of days."""
    tokens = _prepare(db_url, clients)
    _prefill(db_url, datetime.now(UTC) - timedelta(days=398), PREFILL)
    results = []
    for k, name in enumerate(endpoints):
        app = ENDPOINTS[name]
        start = datetime.now(UTC) - timedelta(days=390 - 5 * k)
        proc, port = _serve(app, db_url, workers)
        try:
            wait_for(f"http://127.0.0.1:{port}/{'healthz' if app.startswith('server') else 'docs'}")
            _load("warm-up", port, tokens, 2, start - timedelta(days=2), db_url)
            result = _load(name, port, tokens, seconds, start, db_url, server_pid=proc.pid)
            if backend == "sqlite":
                result.cpu["database"] = 0.0  # inside the workers
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        results.append(result)
    return results


def _postgres_url() -> str | None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    from server.config import normalise_database_url

    return normalise_database_url(url)


def run(backends: list[str], *, clients: int, workers: int, seconds: float, endpoints: list[str]) -> list[Result]:
    """Every backend × endpoint; the PostgreSQL database is created and dropped here."""
    rows: list[Result] = []
    for backend in backends:
        if backend == "postgresql":
            admin_url = _postgres_url()
            if admin_url is None:
                print("bench.ingest: PostgreSQL skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)", file=sys.stderr)
                continue
            from bench.suite import bench_database

            with bench_database(admin_url, "hl_bench_ingest") as db_url:
                got = run_backend(
                    backend, db_url, clients=clients, workers=workers, seconds=seconds, endpoints=endpoints
                )
        else:
            with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
                db_url = f"sqlite:///{tmp}/bench.db"
                got = run_backend(backend, db_url, clients=clients, workers=1, seconds=seconds, endpoints=endpoints)
        for r in got:
            r.backend, r.workers = backend, workers if backend == "postgresql" else 1
        rows += got
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run and print a Markdown summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma-separated: " + ", ".join(ENDPOINTS))
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("bench.ingest: wrk is missing (Debian package wrk)")
    load_before = os.getloadavg()
    rows = run(
        args.backends.split(","),
        clients=args.clients,
        workers=args.workers,
        seconds=args.seconds,
        endpoints=args.endpoints.split(","),
    )
    load = os.getloadavg()
    print(
        f"## Ingest (bench.ingest) — {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(
        f"Batches of {BATCH} over HTTP from wrk, {args.clients} devices (one connection each), {args.seconds:.0f} s "
        "per run; every acknowledged rating looked up in the table afterwards.\n"
    )
    print(
        f"Load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
        f"after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other work on the machine counts).\n"
    )
    print(
        "| backend | workers | endpoint | ratings/s | p50 batch ms | p95 batch ms | CPU µs per rating: workers "
        "| database | wrk | machine |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.backend} | {r.workers} | {r.name} | {r.rate:,.0f} | {r.p50_ms:.0f} | {r.p95_ms:.0f} | "
            f"{r.per_rating_us('workers'):.0f} | {r.per_rating_us('database'):.0f} | {r.per_rating_us('wrk'):.0f} | "
            f"{r.per_rating_us('machine'):.0f} |"
        )
    print(
        "\nCPU per rating: uvicorn workers; PostgreSQL backends of the benchmark database (SQLite runs inside the "
        "workers); wrk; the whole machine during the run (2 cores: 80 µs per rating at 25,000 ratings/s), "
        "other work included."
    )
    print(json.dumps({f"{r.backend}/{r.name}": round(r.rate) for r in rows}), file=sys.stderr)


if __name__ == "__main__":
    main()

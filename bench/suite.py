"""`make bench` (`python -m bench`): the benchmark suite, each figure against a reference from the same run.

Builds one PostgreSQL database (created and dropped here), fills it with a national data set (bench.indices'
generator, 1 million ratings by default so the whole suite stays inside 10 minutes), serves it the way
`hailong serve --workers 2` does (uvicorn, `server.app:create_app_from_env`, 2 worker processes) and measures:

- single-rating ingest (wrk, one rating per request) against bench.single_reference (raw psycopg insert);
- batched ingest (500 per request) against psycopg `COPY` of the same kind of rows;
- tap → thanks on a paired kiosk against a static file from the same kiosk server;
- the nation's month report (by unit, field and month) from the rollups against the raw GROUP BY;
- XLSX and PDF exports of a province against the CSV of the same report;
- the phone page's first-load weight against its 60 KB budget;
- a province's month of the QĐ 766 score on a year of its dossiers (2 million) against a plain GROUP BY, and the
  dossiers CSV import (200,000 rows, with a probe of concurrent writes and reads) against COPY (bench/dossiers.py);
- the public page of a province of 100 communes and the national data.json (warm, requests/s) against a static
  file from the same server, their first (cold) answers, and the page's weight (bench/public.py);
- then `bench.abuse` (kiosk batches and /healthz under attack, docs/benchmarks/abuse.md).

Writes docs/BENCHMARKS.md (keeping the soak figures from docs/soak-latest.json). Processes and the database are
cleaned up on failure too.

    .venv/bin/python -m bench [--ratings 1000000] [--seconds 10] [--no-write]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "BENCHMARKS.md"
SOAK_JSON = ROOT / "docs" / "soak-latest.json"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REPORT_MONTH = "2026-10"
PROVINCE = "P02"

# --- figures, targets and the table (pure; covered by tests/bench/test_suite.py) --------------------------------


@dataclass(frozen=True)
class Target:
    """`kind`: "ratio_min" (figure / reference ≥ bound), "min" (figure ≥ bound), "max" (figure ≤ bound)."""

    kind: str
    bound: float
    text: str

    def passed(self, value: float, reference: float) -> bool:
        if self.kind == "ratio_min":
            return reference > 0 and value / reference >= self.bound
        if self.kind == "min":
            return value >= self.bound
        if self.kind == "max":
            return value <= self.bound
        raise ValueError(f"unknown target kind {self.kind!r}")


@dataclass
class Figure:
    """One row of the table: a measured figure, its same-run reference, and optionally a target."""

    measure: str
    value: float
    unit: str
    reference: str
    ref_value: float
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.ref_value if self.ref_value else float("nan")

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "—"
        return "pass" if self.target.passed(self.value, self.ref_value) else "**FAIL**"


def fmt_value(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "n/a"
    if unit in ("ms",) and value < 100:
        return f"{value:.1f} {unit}"
    return f"{value:,.0f} {unit}"


def table(figures: list[Figure]) -> str:
    lines = [
        "| measure | result | reference (same run) | reference figure | ratio | target | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.measure} | **{fmt_value(f.value, f.unit)}** | {f.reference} | {fmt_value(f.ref_value, f.unit)} "
            f"| {f.ratio:.2f} | {f.target.text if f.target else '—'} | {f.verdict} |"
        )
    return "\n".join(lines)


def soak_section(data: dict[str, Any] | None) -> str:
    """The "Soak" section from the JSON bench.soak writes (kept across `make bench` runs)."""
    head = "## Soak\n\n"
    if not data:
        return head + "No soak run recorded yet: `.venv/bin/python -m bench.soak --minutes 5 --rate 500`.\n"
    unit = data.get("rate_unit", "requests/s")
    offered = f"Offered {data['rate']:g} {unit}"
    if "requests_per_s" in data:
        offered += f" ({data['requests_per_s']:g} HTTP requests/s)"
    lines = [
        head + f"Command: `{data['command']}`. Date: {data['date']}; commit {data['commit']}; {data['machine']}.",
        f"Servers: {data['servers']}. Load average before / after: {data['load_before']} / {data['load_after']}.",
        f"{offered} for {data['seconds']:.0f} s (open loop): {data['mix']}."
        + (" **Interrupted** before its full length." if data.get("interrupted") else ""),
    ]

    def ms(value: float) -> str:
        return "—" if value != value else f"{value:.1f}"

    if data.get("warmup"):
        lines += [
            "",
            f"Before them, {data['warmup_seconds']:g} s of the same load warmed the server up (its workers' database "
            "connections and caches, after the server had settled"
            + (f" {data['server_settled_s']:g} s after it answered" if data.get("server_settled_s") is not None else "")
            + "); their answers are not in the table below, their errors and ratings are in the totals: "
            + "; ".join(
                f"{kind} p99 {ms(w['p99'])} ms (max {ms(w['max'])}, {w['answered']:,} answered)"
                for kind, w in data["warmup"].items()
            )
            + ".",
        ]
    lines += [
        "",
        "| kind | sent | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]

    for kind, k in data["kinds"].items():
        lines.append(
            f"| {kind} | {k['sent']:,} | {k['errors']:,} | {ms(k['p50'])} | {ms(k['p95'])} | {ms(k['p99'])} "
            f"| {ms(k['max'])} |"
        )
    lines += [
        "",
        f"Ratings sent {data['ratings_sent']:,}, stored (counted in the database) {data['ratings_stored']:,}; "
        f"errors {data['errors']}; late starts (the pacer behind schedule by > 100 ms) {data['late']}."
        + (
            f" Kept up with {data['achieved_ratings_per_s']:g} ratings/s ({data['achieved_requests_per_s']:g} "
            f"requests/s) over the {data['measured_seconds']:g} s measured (the run and the wait for open operations)."
            if "achieved_ratings_per_s" in data
            else ""
        ),
        "",
    ]
    if data.get("cpu"):
        lines += [
            "| CPU | seconds | ms per request | cores |",
            "|---|---|---|---|",
            *(
                f"| {part} | {c['seconds']:,.1f} | {c['ms_per_request']:.2f} | {c['cores']:.2f} |"
                for part, c in data["cpu"].items()
            ),
            "",
        ]
    lines += [
        "| criterion | result | verdict |",
        "|---|---|---|",
    ]
    for name, result, ok in data["criteria"]:
        lines.append(f"| {name} | {result} | {'pass' if ok else '**FAIL**'} |")
    if data.get("errors_sample"):
        lines += ["", "First errors: " + "; ".join(f"`{e}`" for e in data["errors_sample"])]
    if data.get("note"):
        lines += ["", data["note"]]
    lines += ["", SOAK_READING]
    return "\n".join(lines) + "\n"


def render(
    *,
    figures: list[Figure],
    notes: list[str],
    machine: dict[str, str],
    total_seconds: float,
    soak: dict[str, Any] | None,
) -> str:
    """The whole of docs/BENCHMARKS.md."""
    failed = [f.measure for f in figures if f.verdict != "pass" and f.target is not None]
    summary = (
        "All targets met."
        if not failed
        else f"{len(failed)} of {sum(f.target is not None for f in figures)} targets missed: {', '.join(failed)}."
    )
    parts = [
        "# Benchmarks\n",
        "Generated by `make bench` (`.venv/bin/python -m bench`); do not edit by hand: the next run rewrites this "
        "file (the Soak section comes from `docs/soak-latest.json`, written by `python -m bench.soak`).\n",
        "## Latest run\n",
        "\n".join(f"- {k}: {v}" for k, v in machine.items()),
        f"- Whole `make bench`: **{total_seconds:.0f} s** (budget 600 s)\n",
        "Every figure stands next to a reference measured in the same run on the same machine, so load from other "
        "work on the (shared) machine affects both; the ratio is figure / reference.\n",
        table(figures) + "\n",
        summary + "\n",
        "### Notes\n",
        "\n".join(f"- {n}" for n in notes) + "\n",
        soak_section(soak),
        standalone_results(),
        FOOTER,
    ]
    return "\n".join(parts)


STANDALONE_DIR = ROOT / "docs" / "benchmarks"


def standalone_results() -> str:
    """The latest recorded results of the standalone runs (docs/benchmarks/*.md), kept across `make bench` runs."""
    files = sorted(STANDALONE_DIR.glob("*.md"))
    if not files:
        return ""
    head = (
        "## Standalone results (latest recorded)\n\nFrom the detailed runs listed at the end, recorded in "
        "`docs/benchmarks/*.md` with their own date, command and machine load; `make bench` keeps them as they are.\n"
    )
    return head + "\n" + "\n".join(f.read_text(encoding="utf-8").strip() + "\n" for f in files)


SOAK_READING = """Reading the soak: the load generator (Python) runs on the same 2 shared vCPUs as the server and
PostgreSQL. Latency of the kiosk batches, visit creations, dashboard reads and exports is counted from each operation's
scheduled start, so when the server (or the generator itself: "late starts") falls behind, the backlog shows there;
the phone form and submit are timed from their own start. See README, Reliability → Soak, for what the soak found
and fixed and why the run above does not pass on this machine."""


FOOTER = """## Standalone runs (not part of `make bench`)

Each module in `bench/` keeps its own `main` for a detailed run; they print Markdown to paste or compare:

- `.venv/bin/python -m bench.indices --ratings 10000000`: the month report and rollup maintenance cost at national
  scale (10 million ratings; about 15–20 minutes here). `make bench` runs the same report on 1 million ratings.
- `TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.ingest`: batched
  ingest on PostgreSQL and SQLite with 8 clients, server CPU per rating, against bench/ingest_reference.py.
- `.venv/bin/python -m bench.kiosk --taps 1000`: tap → thanks (the kiosk's own `Server-Timing` too) and its memory.
- `.venv/bin/python -m bench.dashboard --ratings 1500000`: dashboard pages and exports for 1,000 communes.
- `.venv/bin/python -m bench.phone_page --runs 3`: the phone page with Lighthouse (performance, accessibility);
  it records its figures in `docs/benchmarks/phone-page.md`, kept here under the standalone results.
- `.venv/bin/python -m bench.imports --rows 200000`: a counters import of 200,000 rows on SQLite, how long it holds
  the write lock, against the previous ORM implementation; figures in `docs/benchmarks/imports.md`.
- `.venv/bin/python -m bench.soak --minutes 5 --rate 500`: the mixed-load soak (its figures are kept above).
- `TEST_DATABASE_URL=… .venv/bin/python -m bench.appraisal --runs 3`: the officers' appraisal of a year of the demo
  data (province and ward; XLSX and PDF) on SQLite and PostgreSQL, recorded in `docs/benchmarks/appraisal.md`.
- `.venv/bin/python -m bench.dossiers [--dossiers 2000000] [--import-rows 200000]`: `make bench`'s dossiers step
  alone (a province's year, the QĐ 766 score, the CSV import), as JSON; recorded in `docs/benchmarks/dossiers.md`.
- `.venv/bin/python -m bench.abuse --seconds 15`: kiosk batches and `/healthz` during a login flood, a PDF loop and
  slow uploads (`make bench` runs it with 8 s per scenario; `--code-root` measures another checkout, the "before").
- `.venv/bin/python -m bench.public [--ratings 10000000] [--lighthouse 3]`: the public pages (a province of 100
  communes, the national data.json) warm and cold against a static file, the snapshot's read (one GROUP BY over the
  subtree month rollups; the matrix it was once compared with is gone, migration 0018), Lighthouse; recorded in
  `docs/benchmarks/public.md`.
"""


# --- machine -----------------------------------------------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    cpu = "unknown CPU"
    with suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    ram = "?"
    with suppress(OSError, StopIteration):
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    return {
        "Machine": f"{cpu}, {os.cpu_count()} cores, {ram} RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "Commit": git_commit(),
    }


def git_commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        generated = (":!docs/BENCHMARKS.md", ":!docs/soak-latest.json")  # rewritten by the runs themselves
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *generated],
            cwd=ROOT,
            capture_output=True,
        )
        return sha + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    from bench._util import percentile as pct

    return pct(values, p) if values else float("nan")


# --- processes and the database ----------------------------------------------------------------------------------


class Processes:
    """Subprocesses started by the suite (each in its own process group), all stopped in `stop_all`."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, env=env, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


def serve(procs: Processes, app: str, db_url: str, workers: int, **extra_env: str) -> str:
    """uvicorn as `hailong serve --workers N` runs it (without access logs); returns the base URL once healthy."""
    from bench._util import free_port

    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), **extra_env}
    procs.start(
        [
            *(sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port)),
            *("--workers", str(workers), "--log-level", "warning", "--no-access-log"),
        ],
        env=env,
    )
    return f"http://127.0.0.1:{port}"


def wait_up(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            httpx.get(url, timeout=2)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def bench_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards whatever happens."""
    import sqlalchemy as sa
    from alembic import command

    from tests.databases import alembic_config

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def admin_database_url() -> str:
    from server.config import normalise_database_url

    return normalise_database_url(
        os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    )


# --- set-up ------------------------------------------------------------------------------------------------------


@dataclass
class Site:
    url: str  # database
    device_tokens: list[str] = field(default_factory=list)
    pairing_code: str = ""
    read_key: str = ""
    visits_key: str = ""


def build_site(url: str, ratings: int, devices: int) -> tuple[Site, dict[str, Any]]:
    """bench.indices' national data set, then devices, a pairing code and API keys for the root unit."""
    from sqlmodel import select

    from bench import indices
    from server.auth.service import create_api_key, hash_token
    from server.config import Settings
    from server.db import make_engine, session_scope
    from server.kiosks.service import create_pairing_code
    from server.models import KioskDevice, Unit

    engine = make_engine(url)
    facts: dict[str, Any] = {}
    try:
        with engine.begin() as conn:
            indices.load_units(conn)
        t0 = time.perf_counter()
        indices.generate_ratings(engine, ratings, chunk=500_000)
        indices.build_rollups(engine)
        indices.analyze(engine)
        facts["generate_s"] = time.perf_counter() - t0
        site = Site(url=url, device_tokens=[secrets.token_urlsafe(32) for _ in range(devices)])
        with session_scope(engine) as session:
            # one device per counter, each counter in a different commune
            session.add_all(
                KioskDevice(counter_id=10 + 3 * i, token_hash=hash_token(t)) for i, t in enumerate(site.device_tokens)
            )
            root = session.exec(select(Unit).where(Unit.code == "VN")).one()
            site.read_key = create_api_key(session=session, kind="read", unit=root, label="bench")[1]
            site.visits_key = create_api_key(session=session, kind="visits", unit=root, label="bench")[1]
            site.pairing_code, _ = create_pairing_code(
                session=session, counter_code="VN-2", settings=Settings(database_url=url)
            )
        import sqlalchemy as sa

        with engine.connect() as conn:
            facts["ratings"] = conn.execute(sa.text("SELECT count(*) FROM rating")).scalar_one()
            facts["pg"] = conn.execute(sa.text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    return site, facts


def count_ratings(url: str) -> int:
    from bench._util import scalar

    return int(scalar(url, "SELECT count(*) FROM rating"))


# --- single-rating ingest with wrk -------------------------------------------------------------------------------

WRK_SCRIPT = r"""
local threads = {}
local n = 0
local tokens = TOKENS
local per_thread = math.floor(#tokens / NTHREADS)
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
request = function()
  n = n + 1
  -- each thread cycles through its own devices, more of them than its connections: one request per device at a time
  local token = tokens[((n - 1) % per_thread) * NTHREADS + tid]
  local id = string.format("%08x-%04x-4000-8000-%012x", RUN, tid, n)
  -- a press every second per thread, so each device's presses are as many seconds apart as the thread has devices
  -- (64 s), like a busy counter's: not all at one instant, which would make every one a rapid repeat (misuse)
  local body = '{"sent_at":"SENT","ratings":[{"id":"' .. id .. '","level":' .. (1 + n % 4) ..
    ',"field":"land","visit_token":null,"reasons":[],"comment":null,"rated_at":"' ..
    os.date("!%Y-%m-%dT%H:%M:%SZ", FIRST_PRESS + n) .. '"}]}'
  return wrk.format("POST", "/api/v1/ratings",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON{"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_single(base: str, tokens: list[str], run_tag: int, seconds: float, connections: int) -> dict[str, float]:
    """wrk posting one rating per request from `tokens`' devices; requests/s, p50/p99 ms and error counts."""
    from bench._util import wrk_figures

    threads = 2
    if len(tokens) < connections:
        raise ValueError("need at least as many devices as connections")
    now = datetime.now(UTC)
    script = (
        WRK_SCRIPT.replace("TOKENS", "{" + ",".join(f'"{t}"' for t in tokens) + "}")
        .replace("NTHREADS", str(threads))
        .replace("RUN", str(run_tag))
        .replace("SENT", now.isoformat())
        # Each run's presses start 4 hours after the previous run's, from 10 days ago (a run of a few thousand
        # requests per thread spans as many seconds): no run's presses fall within another's misuse window.
        .replace("FIRST_PRESS", str(int((now - timedelta(days=10) + timedelta(hours=4) * run_tag).timestamp())))
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", f.name, base],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(f.name)
    r = wrk_figures(out)
    errors = r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50": r["p50_us"] / 1000,
        "p99": r["p99_us"] / 1000,
        "requests": r["requests"],
        "errors": errors,
    }


SINGLE_ROUNDS = 4
#: Kiosks sending at once for the single-rating ingest ceiling.
KIOSKS_AT_ONCE = 64


def wrk_in_turn(servers: list[str], tokens: list[str], seconds: float, connections: int) -> list[dict[str, float]]:
    """`wrk_single` against every server in `SINGLE_ROUNDS` rounds, taking turns (the order reversed every other
    round: ABC CBA …): each server's requests/s over all its rounds, the median of its rounds' p50s, the highest of
    their p99s, and the summed counts."""
    runs: dict[str, list[dict[str, float]]] = {base: [] for base in servers}
    for i in range(SINGLE_ROUNDS):
        for base in servers if i % 2 == 0 else reversed(servers):
            tag = 10 + len(servers) * i + servers.index(base)
            runs[base].append(wrk_single(base, tokens, tag, seconds, connections))

    def combined(rounds: list[dict[str, float]]) -> dict[str, float]:
        requests = sum(r["requests"] for r in rounds)
        return {
            "rps": requests / sum(r["requests"] / r["rps"] for r in rounds),
            "p50": statistics.median(r["p50"] for r in rounds),
            "p99": max(r["p99"] for r in rounds),
            "requests": requests,
            "errors": sum(r["errors"] for r in rounds),
        }

    return [combined(runs[base]) for base in servers]


def create_plain_rating_table(url: str) -> None:
    """`rating_plain`: the rating table's columns and indexes without its triggers and foreign keys (the plain-table
    reference of single-rating ingest writes there)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE rating_plain (LIKE rating INCLUDING ALL)"))
    finally:
        engine.dispose()


def add_shared_postgres_option(parser: argparse.ArgumentParser) -> None:
    """`--shared-postgres`, the choice `postgres_admin_url` takes."""
    parser.add_argument(
        "--shared-postgres",
        action="store_true",
        help="use the cluster at BENCH_DATABASE_URL / TEST_DATABASE_URL instead of a private instance with "
        "production settings (bench/pg_instance.py: autovacuum on)",
    )


@contextmanager
def postgres_admin_url(shared: bool) -> Iterator[str]:
    """Where benchmark databases are created: a private instance with production settings (autovacuum on), or,
    with `shared`, the machine's cluster at BENCH_DATABASE_URL / TEST_DATABASE_URL."""
    if shared:
        yield admin_database_url()
        return
    from bench.pg_instance import PRODUCTION_SETTINGS, private_postgres

    with private_postgres(PRODUCTION_SETTINGS) as pg:
        yield pg.url()


# --- batched ingest ------------------------------------------------------------------------------------------------


def copy_reference(url: str, batches: int, start: datetime) -> float:
    """Rows like bench.ingest's batches written with psycopg COPY, one transaction per 500; rows per second."""
    import psycopg

    from bench.ingest import BATCH
    from bench.single_reference import TZ

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        land = conn.execute("SELECT id FROM field WHERE code = 'land'").fetchone()
        assert land is not None
        rows_per_batch = []
        for b in range(batches):
            rows = []
            for i in range(BATCH):
                at = start + timedelta(seconds=5 * (b * BATCH + i))
                lvl = 1 + i % 4
                day = at.astimezone(TZ).date()
                rows.append((uuid.uuid4(), lvl, lvl >= 3, land[0], 1, 1, "kiosk", False, at, at, day, at, False))
            rows_per_batch.append(rows)
        columns = (
            "id, level, satisfied, field_id, unit_id, counter_id, channel, contact_consent, rated_at, "
            "client_rated_at, local_date, received_at, misuse"
        )
        t0 = time.perf_counter()
        n = 0
        for rows in rows_per_batch:
            with conn.transaction(), conn.cursor() as cur, cur.copy(f"COPY rating ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            n += len(rows)
        return n / (time.perf_counter() - t0)


# --- kiosk -------------------------------------------------------------------------------------------------------


def kiosk_taps(procs: Processes, central: str, code: str, taps: int) -> dict[str, list[float]]:
    """Pair a kiosk through the real pairing endpoint, tap `taps` times, and GET a static file as many times."""
    import httpx

    from bench._util import free_port

    tmp = tempfile.mkdtemp(prefix="bench-kiosk-")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HAILONG_KIOSK_HEARTBEAT_SECONDS": "5"}
    proc = procs.start(
        [
            *(sys.executable, "-m", "kiosk", "--server", central, "--data-dir", f"{tmp}/kiosk", "--port", str(port)),
            *("--pair", code, "--pair-wait", "20"),
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(base + "/healthz")
        out: dict[str, list[float]] = {"tap": [], "server": [], "static": []}
        with httpx.Client(base_url=base, timeout=10) as client:
            page = client.get("/")
            static = re.findall(r'href="(/static/[^"]+\.css)"', page.text)[0]
            token = re.search(r"hx-headers='([^']*)'", page.text)  # this run's screen token, as htmx sends it
            if token is None:
                raise RuntimeError("the kiosk's page carries no screen token")
            screen = {"HX-Request": "true", **json.loads(html.unescape(token.group(1)))}
            for i in range(taps + 30):
                data = {"rid": str(uuid.uuid4()), "level": str(1 + i % 4), "field": "land", "lang": "vi"}
                t0 = time.perf_counter()
                response = client.post("/ratings", data=data, headers=screen)
                elapsed = (time.perf_counter() - t0) * 1000
                if 'data-screen="thanks"' not in response.text:
                    raise RuntimeError(f"kiosk tap answered {response.status_code}: {response.text[:200]}")
                if i >= 30:
                    out["tap"].append(elapsed)
                    m = re.search(r"total;dur=([\d.]+)", response.headers.get("server-timing", ""))
                    if m:
                        out["server"].append(float(m.group(1)))
                t0 = time.perf_counter()
                client.get(static).raise_for_status()
                if i >= 30:
                    out["static"].append((time.perf_counter() - t0) * 1000)
        return out
    finally:
        procs.stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


# --- reports and exports ------------------------------------------------------------------------------------------


def month_report(url: str) -> dict[str, list[float] | int]:
    """The nation's month report by unit, by field and by month (`compute_indices`, what the dashboard, the exports
    and the API read), from the rollups and from raw ratings."""
    import sqlalchemy as sa
    from sqlmodel import Session, col

    from bench._util import timed
    from bench.indices import report_run
    from server.db import make_engine
    from server.indices.periods import parse_period
    from server.models import Unit

    engine = make_engine(url)
    period = parse_period(REPORT_MONTH)
    try:
        with Session(engine) as session:
            root = session.execute(sa.select(Unit).where(col(Unit.code) == "VN")).scalar_one()

            def reports(source: str) -> Callable[[], Any]:
                runs = [report_run(session, root, period, by, source) for by in ("unit", "field", "month")]
                return lambda: [run().model_dump() for run in runs]

            rollup, raw = reports("rollup")(), reports("raw")()
            if rollup != raw:
                raise RuntimeError("the rollup month report differs from the raw GROUP BY")
            return {
                "rows": sum(len(r["rows"]) for r in rollup),
                "rollup": timed(reports("rollup"), 7),
                "raw": timed(reports("raw"), 3),
            }
    finally:
        engine.dispose()


def exports(base: str, read_key: str) -> dict[str, list[float] | int]:
    import httpx

    from bench._util import timed

    out: dict[str, list[float] | int] = {}
    with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {read_key}"}) as client:
        for fmt, runs in (("csv", 5), ("xlsx", 3), ("pdf", 3)):
            path = f"/exports/monthly.{fmt}?month={REPORT_MONTH}&unit={PROVINCE}"
            sizes: list[int] = []

            def get(path: str = path, sizes: list[int] = sizes) -> None:
                response = client.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
                sizes.append(len(response.content))

            out[fmt] = timed(get, runs)
            out[f"{fmt}_bytes"] = sizes[-1]
    return out


def phone_weight(base: str, visits_key: str) -> dict[str, int]:
    import httpx

    from bench.phone_page import page_weight

    response = httpx.post(
        base + "/api/v1/visits",
        json={"counter": "VN-1", "field": "land"},
        headers={"Authorization": f"Bearer {visits_key}"},
        timeout=30,
    )
    response.raise_for_status()
    return page_weight(base, response.json()["token"])


# --- the run -------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> tuple[list[Figure], list[str], dict[str, str]]:
    from bench.ingest import BATCH, _load

    machine = machine_facts()
    machine["Load average at start (1, 5, 15 min)"] = load_average()
    figures: list[Figure] = []
    notes: list[str] = []
    procs = Processes()
    try:
        with postgres_admin_url(args.shared_postgres) as admin_url, bench_database(admin_url, "hl_bench_suite") as url:
            progress(f"generating {args.ratings:,} ratings (bench.indices' national data set) and rollups")
            site, facts = build_site(url, args.ratings, devices=128)
            machine["Database"] = f"PostgreSQL {facts['pg']} on the same machine: " + (
                "the shared cluster (BENCH_DATABASE_URL / TEST_DATABASE_URL, as configured there)"
                if args.shared_postgres
                else "an instance of the run's own (bench/pg_instance.py: autovacuum on, shared_buffers 512MB)"
            )
            machine["Data set"] = (
                f"{facts['ratings']:,} ratings over 24 months, 1,000 units (root, 34 provinces, communes), "
                f"3,000 counters, 14 fields; generated with rollups in {facts['generate_s']:.0f} s"
            )
            progress("starting the central server (2 workers) and the references")
            central = serve(procs, "server.app:create_app_from_env", url, args.workers)
            central_pid = procs.procs[-1].pid
            reference = serve(procs, "bench.single_reference:create_app", url, args.workers)
            create_plain_rating_table(url)
            plain = serve(procs, "bench.single_reference:create_app", url, args.workers, REFERENCE_TABLE="rating_plain")
            wait_up(central + "/healthz")
            wait_up(reference + "/docs")
            wait_up(plain + "/docs")

            # 1. single-rating ingest
            progress(
                f"single-rating ingest: wrk {SINGLE_ROUNDS} × {args.seconds / 2:.0f} s against each endpoint, in turn"
            )
            before = count_ratings(url)
            tokens = site.device_tokens
            wrk_single(central, tokens, 1, 2, args.connections)  # warm-up
            wrk_single(reference, tokens, 2, 2, args.connections)
            wrk_single(plain, tokens, 3, 2, args.connections)
            ours, ref, bare = wrk_in_turn([central, reference, plain], tokens, args.seconds / 2, args.connections)
            progress(f"  hailong {ours}; reference {ref}; plain table {bare}")
            stored = count_ratings(url) - before
            if ours["errors"] or ref["errors"] or bare["errors"]:
                notes.append(
                    f"single-rating ingest errors: hailong {ours['errors']}, reference {ref['errors']}, "
                    f"plain-table reference {bare['errors']}"
                )
            progress(f"single-rating ingest ceiling: wrk {KIOSKS_AT_ONCE} connections, {args.seconds:.0f} s")
            ceiling = wrk_single(central, tokens, 30, args.seconds, KIOSKS_AT_ONCE)
            ceiling_bare = wrk_single(plain, tokens, 31, args.seconds, KIOSKS_AT_ONCE)
            figures += [
                Figure("single-rating ingest, requests/s", ours["rps"], "req/s",
                       "bench/single_reference.py: FastAPI + raw psycopg insert into `rating` (its triggers too)",
                       ref["rps"], Target("ratio_min", 0.70, "≥ 70 % of the reference")),
                Figure("single-rating ingest, requests/s (against a plain table)", ours["rps"], "req/s",
                       "the same reference into `rating_plain`: same columns and indexes, no rollup triggers",
                       bare["rps"]),
                Figure("single-rating ingest, p50 latency", ours["p50"], "ms", "same reference, p50", ref["p50"]),
                Figure("single-rating ingest, p99 latency", ours["p99"], "ms", "same reference, p99", ref["p99"]),
                Figure(f"single-rating ingest ceiling, {KIOSKS_AT_ONCE} kiosks at once, requests/s", ceiling["rps"],
                       "req/s", "the plain-table reference, same load", ceiling_bare["rps"],
                       note=f"p99 {ceiling['p99']:.0f} ms (reference {ceiling_bare['p99']:.0f} ms)"),
            ]  # fmt: skip
            notes.append(
                f"Single-rating ingest: `wrk -t2 -c{args.connections} -d{args.seconds / 2:.0f}s` with a Lua script "
                "(unique ids, one rating per `POST /api/v1/ratings`, round-robin over 128 devices at 128 counters "
                "so that no device has two requests in flight, as a kiosk's forwarder never does; each device's "
                "presses 64 s apart) against each server, "
                f"{args.workers} uvicorn workers each, same database, in {SINGLE_ROUNDS} rounds taking turns (hailong, "
                "reference, plain, plain, reference, hailong, …) so that the machine's drift weighs on all alike: "
                "requests/s over all rounds, p50 the median of the rounds' p50s, p99 the highest of their p99s. The "
                "two references differ only in the table: `rating` with the rollup triggers (what any code writing "
                "ratings pays) and `rating_plain` without them, so hailong ÷ plain is the whole price of our Python "
                "and the rollups, and reference ÷ plain the rollups' alone. Ratings stored in `rating` during the "
                f"measured and warm-up runs: {stored:,}. The ceiling: {KIOSKS_AT_ONCE} connections (64 kiosks "
                f"sending at once), one {args.seconds:.0f} s run each against hailong and the plain-table reference."
            )

            # 2. batched ingest
            clients = site.device_tokens[:4]
            progress(f"batched ingest: wrk, {len(clients)} devices × batches of {BATCH}, {args.seconds:.0f} s")
            start = datetime.now(UTC) - timedelta(days=300)
            port = int(central.rsplit(":", 1)[1])
            _load("warm-up", port, clients, 2, start - timedelta(days=5), url)
            batch = _load("hailong", port, clients, args.seconds, start, url, server_pid=central_pid)
            copy_rate = copy_reference(url, max(10, min(60, batch.batches)), start + timedelta(days=200))
            figures.append(
                Figure(f"batched ingest ({BATCH} per request), ratings/s", batch.rate, "ratings/s",
                       f"psycopg COPY of the same rows, {BATCH} per transaction, no HTTP", copy_rate,
                       Target("min", 25_000, "≥ 25,000 ratings/s (issue 3)"))
            )  # fmt: skip
            notes.append(
                f"Batched ingest: `wrk` with one connection per device ({len(clients)} devices at counters of "
                f"different communes), each batch of {BATCH} built with fresh ids, for {args.seconds:.0f} s; batch "
                f"p50 {batch.p50_ms:.0f} ms, p95 {batch.p95_ms:.0f} ms; {batch.ratings:,} ratings acknowledged as "
                f"created, every one of them found in the table afterwards. Server CPU per rating: "
                f"{batch.per_rating_us('workers'):.0f} µs in the uvicorn workers, "
                f"{batch.per_rating_us('database'):.0f} µs in PostgreSQL; wrk {batch.per_rating_us('wrk'):.0f} µs. The "
                "COPY reference is one in-process connection writing into the same table (same indexes, foreign keys "
                "and rollup triggers): the database's ceiling, not an HTTP server, so the ratio shows the price of "
                "HTTP, authentication, validation and idempotency."
            )

            # 3. kiosk
            progress(f"kiosk: pairing, {args.taps} taps and as many static-file requests")
            kiosk = kiosk_taps(procs, central, site.pairing_code, args.taps)
            figures += [
                Figure("tap → thanks on the kiosk, p50 round trip", percentile(kiosk["tap"], 50), "ms",
                       "static CSS file from the same kiosk server, p50", percentile(kiosk["static"], 50)),
                Figure("tap → thanks on the kiosk, p95 round trip", percentile(kiosk["tap"], 95), "ms",
                       "static CSS file from the same kiosk server, p95", percentile(kiosk["static"], 95),
                       Target("max", 30, "p95 ≤ 30 ms")),
            ]  # fmt: skip
            notes.append(
                f"Kiosk: a kiosk process paired through `POST /api/v1/kiosks/pair` with a code from "
                f"`create_pairing_code`; {args.taps} taps in a row (`POST /ratings`, stored durably in the outbox, "
                "thanks screen rendered; the forwarder delivering to the central server meanwhile), each followed by "
                f"a static-file request. Kiosk's own time (`Server-Timing`) p95 {percentile(kiosk['server'], 95):.1f} "
                "ms; the round trip adds the HTTP client and loopback."
            )

            # 4. month report
            progress("month report: by unit, field and month, rollups against raw GROUP BY")
            report = month_report(url)
            rollup_ms, raw_ms = report["rollup"], report["raw"]
            assert isinstance(rollup_ms, list) and isinstance(raw_ms, list)
            figures.append(
                Figure(f"month report {REPORT_MONTH}, by unit, field and month ({report['rows']:,} rows), median",
                       statistics.median(rollup_ms), "ms", "raw GROUP BY over the ratings, same query shape",
                       statistics.median(raw_ms), Target("max", 1000, "≤ 1,000 ms (set here)"))
            )  # fmt: skip
            notes.append(
                f"Month report: `compute_indices` for the root by unit, by field and by month (the reports the "
                f"dashboard, exports and API read; the unit × field matrix was removed in migration 0018); "
                f"{len(rollup_ms)} runs from the rollups, {len(raw_ms)} from the raw ratings (results checked equal). "
                f"On {facts['ratings']:,} ratings to fit the 10-minute budget; the 10-million figure is the "
                "standalone `python -m bench.indices --ratings 10000000`."
            )

            # 5. exports
            progress(f"exports: CSV, XLSX, PDF of province {PROVINCE}")
            ex = exports(central, site.read_key)
            csv_ms = ex["csv"]
            assert isinstance(csv_ms, list)
            for fmt, bound in (("xlsx", 5000), ("pdf", 10000)):
                ms = ex[fmt]
                assert isinstance(ms, list)
                figures.append(
                    Figure(f"{fmt.upper()} export, province {PROVINCE}, {REPORT_MONTH}, median", statistics.median(ms),
                           "ms", "CSV of the same report, median", statistics.median(csv_ms),
                           Target("max", bound, f"≤ {bound / 1000:.0f} s (set here)"))
                )  # fmt: skip
            notes.append(
                f"Exports: `GET /exports/monthly.{{csv,xlsx,pdf}}?month={REPORT_MONTH}&unit={PROVINCE}` with a read "
                f"key over HTTP (a province with its communes); sizes CSV {ex['csv_bytes']:,} B, XLSX "
                f"{ex['xlsx_bytes']:,} B, PDF {ex['pdf_bytes']:,} B."
            )

            # 6. phone page
            progress("phone page weight")
            weight = phone_weight(central, site.visits_key)
            figures.append(
                Figure("phone page, first-load transfer", weight["total"], "B", "the budget", 60 * 1024,
                       Target("max", 60 * 1024, "≤ 60 KB"))
            )  # fmt: skip
            notes.append(
                "Phone page: a visit created with `POST /api/v1/visits`, then `/r/<token>` and every stylesheet or "
                "image it references, bytes on the wire without compression (Lighthouse scores: the standalone "
                "`python -m bench.phone_page`)."
            )

            # 7. dossiers and the QĐ 766 score (bench/dossiers.py)
            from bench import dossiers as bench_dossiers

            progress(f"dossiers: a year of province {PROVINCE}'s ({args.dossiers:,}, COPY), its month's QĐ 766 score")
            year = bench_dossiers.generate_year(url, province=PROVINCE, dossiers=args.dossiers)
            sc = bench_dossiers.score_month(url, province=PROVINCE)
            progress(f"dossiers: `hailong dossiers import` of {args.import_rows:,} rows, with a probe, and COPY")
            imp = bench_dossiers.import_csv(url, province=PROVINCE, rows=args.import_rows)
            score_ms, group_ms = sc["score_ms"], sc["group_by_ms"]
            during, idle = imp["probe_during"], imp["probe_idle"]
            figures += [
                Figure(f"QĐ 766 score, province {PROVINCE} and its {sc['units']} units, {REPORT_MONTH}, median",
                       statistics.median(score_ms), "ms", "plain GROUP BY of the month's dossiers per unit, median",
                       statistics.median(group_ms), Target("max", 500, "≤ 500 ms (issue 16: well under 1 s)")),
                Figure(f"dossiers CSV import ({args.import_rows:,} rows), rows/s", imp["import_rows_per_s"],
                       "rows/s", "PostgreSQL COPY of the same rows into a table with the same indexes",
                       imp["copy_rows_per_s"]),
                Figure("probe during the import (upsert 1 dossier + a commune's score), worst", max(during), "ms",
                       "the same probe on the idle database, worst", max(idle),
                       Target("max", 1000, "≤ 1,000 ms: the import holds nothing long")),
            ]  # fmt: skip
            notes.append(
                f"Dossiers (`bench/dossiers.py`): {year['dossiers']:,} dossiers over the 12 months to "
                f"{REPORT_MONTH} and {year['petitions']:,} petitions at province {PROVINCE}'s {year['units']} "
                f"units, written with COPY in {year['generate_s']:.0f} s; the month holds {sc['completed']:,} "
                f"completed dossiers (province score {sc['total']:.2f}). The score is `subtree_scores_766` (the "
                "province and every unit below it, dossiers and petitions); the reference, one GROUP BY of the "
                "month's dossiers per unit. The import runs `hailong dossiers import` as a process "
                f"({imp['import_s']:.0f} s for the file: checked whole, then 1,000 rows a transaction) while a probe "
                "upserts a dossier and reads a commune's score every 100 ms on its own connection: median "
                f"{statistics.median(during):.0f} ms during the import, {statistics.median(idle):.0f} ms idle."
            )

            # 8. public disclosure (bench/public.py): last, since it moves communes under province P02
            from bench import public as bench_public

            progress("public disclosure: /cong-khai and data.json (warm, cold) against a static file")
            public_figures, public_notes = bench_public.suite_figures(url, central, args.seconds)
            figures += public_figures
            notes += public_notes
    finally:
        procs.stop_all()
    machine["Load average at end (1, 5, 15 min)"] = load_average()
    return figures, notes, machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ratings", type=int, default=1_000_000, help="size of the generated data set")
    parser.add_argument("--seconds", type=float, default=10, help="length of each throughput run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (single-rating ingest)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server")
    parser.add_argument("--taps", type=int, default=300)
    parser.add_argument("--dossiers", type=int, default=2_000_000, help="a province's year of dossiers (QĐ 766)")
    parser.add_argument("--import-rows", type=int, default=200_000, help="rows of the dossiers CSV import")
    parser.add_argument("--no-write", action="store_true", help="print, leave docs/BENCHMARKS.md alone")
    add_shared_postgres_option(parser)
    parser.add_argument("--abuse-seconds", type=float, default=8, help="bench.abuse per scenario (0: skip it)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("python -m bench: error: wrk is missing (Debian package wrk)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up in `finally`
    started = time.perf_counter()
    figures, notes, machine = run(args)
    if args.abuse_seconds > 0:  # kiosk batches and /healthz under attack (issue 19): docs/benchmarks/abuse.md
        from bench import abuse

        progress("bench.abuse: login flood, PDF loop and slow uploads against kiosk batches and /healthz")
        abuse.main(["--seconds", str(args.abuse_seconds), *(["--no-write"] if args.no_write else [])])
    total = time.perf_counter() - started
    soak = json.loads(SOAK_JSON.read_text(encoding="utf-8")) if SOAK_JSON.exists() else None
    text = render(figures=figures, notes=notes, machine=machine, total_seconds=total, soak=soak)
    print(table(figures))
    print(f"\nwhole run: {total:.0f} s", file=sys.stderr)
    if not args.no_write:
        DOCS.write_text(text, encoding="utf-8")
        progress(f"wrote {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

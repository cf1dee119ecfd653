"""Ingest: ratings per second through `POST /api/v1/ratings` over HTTP, batches of 500, PostgreSQL and SQLite.

For each backend: a fresh migrated database, one unit and counter, one paired device per client; the central app
served by uvicorn the way `hailong serve` does (`server.app:create_app_from_env`, N worker processes); clients on
keep-alive connections posting pre-built bodies for a fixed time. The same run measures bench.ingest_reference (a
minimal endpoint doing plain inserts) on the same database, then checks every created rating is in the table.

    .venv/bin/python -m bench.ingest [--seconds 12] [--clients 8] [--workers 2] [--backends postgresql,sqlite]

PostgreSQL comes from BENCH_DATABASE_URL or TEST_DATABASE_URL (a server URL; a database is created and dropped).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench._util import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
BATCH = 500


@dataclass
class Result:
    name: str
    ratings: int
    seconds: float
    batches: int
    latencies_ms: list[float]
    cpu_seconds: float = 0.0  # server side: uvicorn workers plus the database's backends

    @property
    def rate(self) -> float:
        return self.ratings / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.ratings / self.cpu_seconds if self.cpu_seconds else float("nan")


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _server_pids(proc: subprocess.Popen[bytes], db_url: str) -> list[int]:
    """The uvicorn processes and, on PostgreSQL, the backends serving this database."""
    pids = [proc.pid, *_children(proc.pid)]
    if db_url.startswith("postgresql"):
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            pids += list(
                conn.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalars()
            )
        engine.dispose()
    return pids


def _prepare(db_url: str, devices: int) -> list[str]:
    """Migrate, add a unit, a counter and `devices` paired kiosks; returns their tokens."""
    from alembic import command

    from server.auth.service import hash_token
    from server.cli import alembic_config
    from server.config import Settings
    from server.db import make_engine, session_scope
    from server.models import Counter, KioskDevice
    from server.units.service import create_unit

    command.upgrade(alembic_config(Settings(database_url=db_url)), "head")
    engine = make_engine(db_url)
    tokens = [secrets.token_urlsafe(32) for _ in range(devices)]
    with session_scope(engine) as session:
        unit = create_unit(session=session, code="BENCH", name="Bench")
        counter = Counter(code="BENCH-Q01", unit_id=unit.id, name="Quầy 1")  # type: ignore[arg-type]
        session.add(counter)
        session.flush()
        session.add_all(KioskDevice(counter_id=counter.id, token_hash=hash_token(t)) for t in tokens)  # type: ignore[arg-type]
    engine.dispose()
    return tokens


def _bodies(n_batches: int, start: datetime) -> list[bytes]:
    """Pre-built request bodies: `n_batches` × 500 ratings, one every 5 s (no misuse), within the last year."""
    bodies = []
    sent_at = datetime.now(UTC).isoformat()
    for b in range(n_batches):
        items = []
        for i in range(BATCH):
            at = (start + timedelta(seconds=5 * (b * BATCH + i))).isoformat()
            level = 1 + (b + i) % 4
            reasons = '["late"]' if level == 1 and i % 3 == 0 else "[]"
            items.append(
                f'{{"id":"{uuid.uuid4()}","level":{level},"field":"land","visit_token":null,'
                f'"reasons":{reasons},"comment":null,"rated_at":"{at}"}}'
            )
        bodies.append(f'{{"sent_at":"{sent_at}","ratings":[{",".join(items)}]}}'.encode())
    return bodies


def _serve(app: str, db_url: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "HAILONG_DB_POOL_SIZE": "8"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    return proc, port


def _load(name: str, port: int, tokens: list[str], bodies: list[list[bytes]], seconds: float) -> Result:
    """Each client posts its bodies in turn until time is up; counts `created` results."""
    created = [0] * len(tokens)
    batches = [0] * len(tokens)
    latencies: list[float] = []
    errors: list[str] = []
    start_gate = threading.Barrier(len(tokens) + 1)
    deadline = [0.0]

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {tokens[i]}", "Content-Type": "application/json"}
        start_gate.wait()
        for body in bodies[i]:
            if time.monotonic() >= deadline[0]:
                break
            t0 = time.perf_counter()
            conn.request("POST", "/api/v1/ratings", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            latencies.append((time.perf_counter() - t0) * 1000)
            if response.status != 200:
                errors.append(f"{response.status}: {data[:200]!r}")
                return
            created[i] += data.count(b'"created"')
            batches[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + seconds
    started = time.monotonic()
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    if errors:
        raise RuntimeError(f"{name}: {errors[0]}")
    return Result(name, sum(created), elapsed, sum(batches), latencies)


def run_backend(backend: str, db_url: str, *, clients: int, workers: int, seconds: float) -> list[Result]:
    """Our ingest, then the reference, on the same fresh database."""
    tokens = _prepare(db_url, clients)
    per_client = int(seconds * 40_000 / BATCH / clients) + 4  # more than the fastest run can post
    start = datetime.now(UTC) - timedelta(days=300)
    results = []
    for name, app in (
        ("hailong ingest", "server.app:create_app_from_env"),
        ("reference: plain inserts", "bench.ingest_reference:create_app"),
    ):
        bodies = [
            _bodies(per_client, start + timedelta(days=30 * i + (0 if app.startswith("server") else 15)))
            for i in range(clients)
        ]
        proc, port = _serve(app, db_url, workers)
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz") if app.startswith("server") else time.sleep(3)
            warm = [[b] for b in _bodies(clients, start - timedelta(days=10))]
            _load("warm-up", port, tokens, warm, 30)
            pids = _server_pids(proc, db_url)
            cpu_before = sum(_cpu(p) for p in pids)
            result = _load(name, port, tokens, bodies, seconds)
            result.cpu_seconds = sum(_cpu(p) for p in set(pids) | set(_server_pids(proc, db_url))) - cpu_before
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        results.append(result)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM rating")).scalar_one()
    engine.dispose()
    expected = sum(r.ratings for r in results) + 2 * clients * BATCH
    if stored != expected:
        raise RuntimeError(f"{backend}: {stored} ratings stored, {expected} acknowledged")
    return results


def _postgres_url() -> str | None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    from server.config import normalise_database_url

    return normalise_database_url(url)


def main(argv: list[str] | None = None) -> None:
    """Run and print a Markdown summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args(argv)
    rows: list[tuple[str, int, Result]] = []
    for backend in args.backends.split(","):
        if backend == "postgresql":
            admin_url = _postgres_url()
            if admin_url is None:
                print("bench.ingest: PostgreSQL skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)", file=sys.stderr)
                continue
            name = f"hl_bench_{os.getpid()}"
            admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            db_url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            try:
                for r in run_backend(backend, db_url, clients=args.clients, workers=args.workers, seconds=args.seconds):
                    rows.append((backend, args.workers, r))
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
                db_url = f"sqlite:///{tmp}/bench.db"
                for r in run_backend(backend, db_url, clients=args.clients, workers=1, seconds=args.seconds):
                    rows.append((backend, 1, r))
    print(
        f"## Ingest (bench.ingest) — {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(
        f"Batches of {BATCH} over HTTP, {args.clients} keep-alive clients on the same machine, "
        f"{args.seconds:.0f} s per run; every acknowledged rating checked in the table afterwards.\n"
    )
    load = os.getloadavg()
    print(f"Load average when done: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other work on the machine counts).\n")
    print("| backend | workers | endpoint | ratings/s | p50 batch ms | p95 batch ms | ratings per server CPU-s |")
    print("|---|---|---|---|---|---|---|")
    for backend, workers, r in rows:
        lat = sorted(r.latencies_ms)
        p50, p95 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        print(f"| {backend} | {workers} | {r.name} | {r.rate:,.0f} | {p50:.0f} | {p95:.0f} | {r.per_cpu_second:,.0f} |")
    print("\nServer CPU = uvicorn workers + the database's PostgreSQL backends (SQLite runs inside the workers).")
    print(json.dumps({f"{b}/{r.name}": round(r.rate) for b, _, r in rows}), file=sys.stderr)


if __name__ == "__main__":
    main()

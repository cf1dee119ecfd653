"""Small helpers shared by the benchmarks: ports, waiting for servers, timing, one-value queries, wrk's figures,
percentiles and memory."""

from __future__ import annotations

import json
import re
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 60.0) -> None:
    """Wait until `url` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def timed(fn: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    """Wall time in ms of each of `runs` calls of `fn`, after `warmup` unmeasured ones (caches, connection pool,
    template compilation)."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def wrk_figures(out: str, what: str = "wrk") -> dict[str, Any]:
    """The figures a bench's wrk Lua script prints, as JSON after `WRKJSON`, in wrk's output `out`."""
    match = re.search(r"WRKJSON(\{.*\})", out)
    if match is None:
        raise RuntimeError(f"{what} gave no figures: {out[-500:]}")
    return dict(json.loads(match.group(1)))


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) of `values`."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(0, min(998, round(p * 10) - 1))]


def scalar(url: str, sql: str) -> Any:
    """The one value that `sql` reads from the database at `url`, on a short-lived engine of its own."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory of a process now and at its peak, in MB (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

"""Weight and Lighthouse scores of the phone rating page (first load on an emulated phone, simulated slow 4G).

    .venv/bin/python -m bench.phone_page [--runs 3] [--lighthouse-dir DIR] [--no-write]

Serves the app on a loopback port with a fresh SQLite database and one visit, measures what the first load of
`/r/<token>` transfers (HTML + CSS + images; the page has no scripts and no web fonts), runs Lighthouse 12.2.3
(mobile, `npm i -E lighthouse@12.2.3` into DIR, installed there when missing) against Debian's Chromium, and
writes the figures to docs/benchmarks/phone-page.md (kept in docs/BENCHMARKS.md by `make bench`).
Budgets: ≤ 60 KB, performance ≥ 0.95, accessibility = 1.0; the script exits non-zero when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from alembic import command
from sqlmodel import Session, select

from bench._util import free_port
from server import PROJECT_ROOT
from server.app import create_app
from server.cli.core import alembic_config
from server.config import Settings
from server.db import make_engine
from server.models import Counter, ProcedureField, Visit
from server.units.service import create_unit
from server.visits.service import new_token

LIGHTHOUSE_VERSION = "12.2.3"
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync"
)
BUDGET_BYTES = 60 * 1024
HEADING = "### Phone page (Lighthouse)"


def make_site(directory: Path, port: int) -> tuple[Settings, str]:
    """A migrated SQLite database with one unit, counter and visit; returns the settings and the visit token."""
    settings = Settings(
        database_url=f"sqlite:///{directory / 'bench.db'}",
        environment="test",
        secret_key="bench-secret-key-0123456789-0123456789",
        public_base_url=f"http://127.0.0.1:{port}",
    )
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        cfg = alembic_config(settings)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with Session(engine, expire_on_commit=False) as session:
        unit = create_unit(session=session, code="BENCH", name="Trung tâm Phục vụ hành chính công tỉnh Đắk Lắk")
        counter = Counter(code="BENCH-Q1", unit_id=unit.id, name="Quầy 1")  # type: ignore[arg-type]
        session.add(counter)
        session.flush()
        land = session.exec(select(ProcedureField).where(ProcedureField.code == "land")).one()
        now = datetime.now(UTC)
        visits = [
            Visit(
                token=new_token(),
                counter_id=counter.id,  # type: ignore[arg-type]
                field_id=land.id,  # type: ignore[arg-type]
                created_at=now,
                expires_at=now + timedelta(days=30),
            )
            for _ in range(10)
        ]
        session.add_all(visits)
        session.commit()
    engine.dispose()
    return settings, visits[0].token


@contextmanager
def serve_site(directory: Path) -> Iterator[tuple[str, str]]:
    """`make_site` in `directory`, served by uvicorn on a free loopback port in a thread while the block runs; gives
    the base URL and the visit token."""
    port = free_port()
    settings, token = make_site(directory, port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def page_weight(base: str, token: str) -> dict[str, int]:
    """Bytes on the wire for the first load: the HTML and every same-origin stylesheet or image it references."""
    import re

    with httpx.Client(base_url=base) as client:
        html = client.get(f"/r/{token}")
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html.text)
        sizes = {"html": len(html.content)}
        for asset in assets:
            sizes[asset] = len(client.get(asset).content)
    sizes["total"] = sum(sizes.values())
    return sizes


def ensure_lighthouse(directory: Path) -> Path:
    """The Lighthouse CLI in `directory`, installed with npm when missing."""
    cli = directory / "node_modules" / "lighthouse" / "cli" / "index.js"
    if not cli.exists():
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "i", "-E", f"lighthouse@{LIGHTHOUSE_VERSION}"], cwd=directory, check=True)
    return cli


def lighthouse(cli: Path, url: str, out: Path) -> dict[str, float]:
    """One Lighthouse run (mobile, simulated throttling): scores and the metrics behind them."""
    env = {**os.environ, "CHROME_PATH": "/usr/bin/chromium"}
    subprocess.run(
        [
            "node",
            str(cli),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={out}",
            "--only-categories=performance,accessibility",
            f"--chrome-flags={CHROME_FLAGS}",
        ],
        env=env,
        check=True,
        timeout=300,
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    audits = report["audits"]
    return {
        "performance": report["categories"]["performance"]["score"],
        "accessibility": report["categories"]["accessibility"]["score"],
        "fcp_ms": audits["first-contentful-paint"]["numericValue"],
        "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
        "tbt_ms": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "bytes": audits["total-byte-weight"]["numericValue"],
    }


def write_results(text: str) -> None:
    """Record `text` as docs/benchmarks/phone-page.md (`make bench` includes the standalone results as they are)."""
    path = PROJECT_ROOT / "docs" / "benchmarks" / "phone-page.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs (the median is reported)")
    parser.add_argument("--lighthouse-dir", type=Path, default=Path(tempfile.gettempdir()) / "hailong-lighthouse")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the file")
    args = parser.parse_args(argv)
    cli = ensure_lighthouse(args.lighthouse_dir)
    with tempfile.TemporaryDirectory(prefix="hailong-bench-") as tmp, serve_site(Path(tmp)) as (base, token):
        weight = page_weight(base, token)
        runs = [lighthouse(cli, f"{base}/r/{token}", Path(tmp) / f"lh-{i}.json") for i in range(args.runs)]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    perf_runs = ", ".join(f"{r['performance']:.2f}" for r in runs)
    a11y_runs = ", ".join(f"{r['accessibility']:.2f}" for r in runs)
    assets = ", ".join(f"{name} {size:,} B" for name, size in weight.items() if name not in ("html", "total"))
    text = (
        f"{HEADING}\n\n"
        f"First load of `/r/<token>` on an emulated phone. Machine: {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, SQLite, one uvicorn worker; Lighthouse {LIGHTHOUSE_VERSION} (mobile, "
        f"simulated slow 4G and 4× CPU slowdown), Debian Chromium. Date: {datetime.now(UTC):%Y-%m-%d}.\n"
        f"Command: `.venv/bin/python -m bench.phone_page --runs {args.runs}`.\n\n"
        "| figure | result | budget |\n|---|---|---|\n"
        f"| transfer, first load (HTML {weight['html']:,} B; {assets}) | **{weight['total']:,} B** "
        f"({weight['total'] / 1024:.1f} KB, no compression) | ≤ 60 KB |\n"
        f"| Lighthouse total byte weight | {median['bytes']:,.0f} B | |\n"
        f"| Lighthouse performance (median of {args.runs}; runs: "
        f"{perf_runs}) | **{median['performance']:.2f}** | ≥ 0.95 |\n"
        f"| Lighthouse accessibility (runs: {a11y_runs}) "
        f"| **{median['accessibility']:.2f}** | = 1.0 |\n"
        f"| first / largest contentful paint | {median['fcp_ms']:.0f} ms / {median['lcp_ms']:.0f} ms | |\n"
        f"| total blocking time, cumulative layout shift | {median['tbt_ms']:.0f} ms, {median['cls']:.3f} | |\n"
    )
    print(text)
    if not args.no_write:
        write_results(text)
    ok = (
        weight["total"] <= BUDGET_BYTES
        and min(r["performance"] for r in runs) >= 0.95
        and min(r["accessibility"] for r in runs) == 1.0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

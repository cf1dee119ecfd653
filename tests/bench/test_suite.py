"""Smoke test of the `make bench` orchestrator's report code on made-up figures (nothing is timed here)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.suite import Figure, Target, render, soak_section, table


def test_ratio_and_verdicts_follow_the_targets() -> None:
    ingest = Figure("single", 700, "req/s", "ref", 1000, Target("ratio_min", 0.70, "≥ 70 %"))
    too_slow = Figure("single", 699, "req/s", "ref", 1000, Target("ratio_min", 0.70, "≥ 70 %"))
    tap = Figure("tap p95", 31, "ms", "static", 5, Target("max", 30, "≤ 30 ms"))
    batch = Figure("batch", 25_000, "ratings/s", "copy", 50_000, Target("min", 25_000, "≥ 25,000"))
    info = Figure("p50", 4, "ms", "ref p50", 2)
    assert ingest.ratio == pytest.approx(0.7)
    assert (ingest.verdict, too_slow.verdict, tap.verdict, batch.verdict, info.verdict) == (
        "pass",
        "**FAIL**",
        "**FAIL**",
        "pass",
        "—",
    )
    assert math.isnan(Figure("x", 1, "ms", "none", 0).ratio)
    with pytest.raises(ValueError):
        Target("between", 1, "?").passed(1, 1)


def test_table_and_file_carry_every_figure_ratio_and_summary() -> None:
    figures = [
        Figure(
            "single-rating ingest, requests/s", 700, "req/s", "raw psycopg", 1000, Target("ratio_min", 0.7, "≥ 70 %")
        ),
        Figure("tap → thanks p95", 31.25, "ms", "static file p95", 12.5, Target("max", 30, "≤ 30 ms")),
    ]
    text = table(figures)
    assert (
        "| single-rating ingest, requests/s | **700 req/s** | raw psycopg | 1,000 req/s | 0.70 | ≥ 70 % | pass |"
        in text
    )
    assert "| tap → thanks p95 | **31.2 ms** | static file p95 | 12.5 ms | 2.50 | ≤ 30 ms | **FAIL** |" in text
    page = render(
        figures=figures,
        notes=["a note"],
        machine={"Machine": "test CPU, 2 cores", "Commit": "abc1234"},
        total_seconds=432.4,
        soak=None,
    )
    assert page.startswith("# Benchmarks\n")
    assert "- Machine: test CPU, 2 cores" in page and "- Commit: abc1234" in page
    assert "**432 s** (budget 600 s)" in page
    assert "1 of 2 targets missed: tap → thanks p95." in page
    assert "## Soak" in page and "No soak run recorded yet" in page
    assert "python -m bench.indices --ratings 10000000" in page


def soak_data(**overrides: Any) -> dict[str, Any]:
    """What bench.soak writes, the fields every section shows filled in; `overrides` on top."""
    data: dict[str, Any] = {
        "command": "python -m bench.soak --minutes 5 --rate 500",
        "date": "2026-11-28",
        "commit": "abc",
        "machine": "m",
        "servers": "s",
        "load_before": "1.00 1.00 1.00",
        "load_after": "2.00 2.00 2.00",
        "rate": 500,
        "seconds": 300.2,
        "mix": "mix",
        "ratings_sent": 6000,
        "ratings_stored": 6000,
        "errors": 0,
        "late": 0,
    }
    data.update(overrides)
    return data


def test_soak_section_shows_kinds_and_criteria() -> None:
    nan = float("nan")
    data = soak_data(
        kinds={"kiosk batch": {"sent": 1200, "errors": 0, "p50": 5.0, "p95": 9.0, "p99": 12.5, "max": 40.0},
               "dashboard": {"sent": 0, "errors": 3, "p50": nan, "p95": nan, "p99": nan, "max": nan}},
        errors=3,
        criteria=[["0 errors", "3", False], ["stored == sent", "6,000 / 6,000", True]],
    )  # fmt: skip
    text = soak_section(data)
    assert "| kiosk batch | 1,200 | 0 | 5.0 | 9.0 | 12.5 | 40.0 |" in text
    assert "| 0 errors | 3 | **FAIL** |" in text and "| stored == sent | 6,000 / 6,000 | pass |" in text


def test_soak_section_reports_the_warm_up_apart() -> None:
    data = soak_data(
        command="python -m bench.soak --minutes 5 --rate 500 --warmup 15",
        seconds=300.0,
        warmup_seconds=15.0,
        server_settled_s=2.5,
        warmup={"kiosk batch": {"answered": 1364, "p50": 9.0, "p99": 410.0, "max": 520.0}},
        kinds={"kiosk batch": {"sent": 27273, "errors": 0, "p50": 5.0, "p95": 9.0, "p99": 12.5, "max": 40.0}},
        criteria=[["0 errors", "0", True]],
    )
    text = soak_section(data)
    assert "15 s of the same load" in text and "settled 2.5 s after it answered" in text
    assert "kiosk batch p99 410.0 ms (max 520.0, 1,364 answered)" in text
    assert "| kiosk batch | 27,273 | 0 | 5.0 | 9.0 | 12.5 | 40.0 |" in text

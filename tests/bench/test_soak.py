"""The soak's bookkeeping: what the warm-up's answers count for."""

from __future__ import annotations

import argparse

from bench.soak import Stats, summarise


def test_answers_of_operations_scheduled_in_the_warm_up_are_kept_apart() -> None:
    stats = Stats(measure_from=100.0)
    stats.ok("kiosk batch", 900.0, scheduled=99.9)  # the cold start's slow answer
    stats.ok("kiosk batch", 12.0, scheduled=100.0)
    stats.ok("kiosk batch", 14.0, scheduled=150.0)
    stats.fail("dashboard", "503")  # errors count whenever they happen
    stats.ratings_sent = stats.ratings_acknowledged = 15
    args = argparse.Namespace(minutes=5, rate=500, workers=2, warmup=15)
    data = summarise(stats, 15, args, 300.0, {"machine": "m"})
    assert data["kinds"]["kiosk batch"]["max"] == 14.0
    assert data["warmup"]["kiosk batch"]["answered"] == 1 and data["warmup"]["kiosk batch"]["p99"] == 900.0
    assert data["errors"] == 1 and not data["passed"]
    assert data["warmup_seconds"] == 15 and "--warmup 15" in data["command"]

"""Pure helpers of the dashboard service: ranking, ordering, trend window, period picker."""

from __future__ import annotations

from datetime import date

import pytest

from server.errors import Invalid
from server.indices.overview import rank_rows, sort_by_rate, trend_period
from server.indices.periods import parse_period, period_choices, reporting_period
from server.indices.schemas import IndexRow


def row(key: str, rate: float | None, n: int, status: str | None) -> IndexRow:
    return IndexRow(
        key=key, label=key, label_en=key, n=n, satisfied=round((rate or 0) * n), rate=rate,
        ci_low=None if rate is None else rate - 0.05, ci_high=None if rate is None else rate + 0.05,
        target=0.9, target_2030=0.95, status=status, misuse=0, levels={}, reasons={},  # type: ignore[arg-type]
    )  # fmt: skip


def test_rank_rows_ranks_only_rows_with_enough_ratings() -> None:
    rows = [
        row("a", 0.91, 100, "met"),
        row("b", 0.95, 100, "met"),
        row("c", 1.0, 3, "insufficient_data"),
        row("d", None, 0, "insufficient_data"),
        row("e", 0.91, 100, "met"),  # same figures as "a": both ranked, by key
    ]
    ranked, few = rank_rows(rows)
    assert [r.key for r in ranked] == ["b", "a", "e"]
    assert [r.key for r in few] == ["c", "d"]  # the 100 % of three ratings is never ranked above anyone


def test_sort_by_rate_weakest_first_then_small_then_empty() -> None:
    rows = [row("x", None, 0, "insufficient_data"), row("y", 0.8, 5, "insufficient_data"),
            row("z", 0.95, 50, "met"), row("w", 0.7, 50, "not_met")]  # fmt: skip
    assert [r.key for r in sort_by_rate(rows)] == ["w", "z", "y", "x"]


def test_trend_period_is_the_twelve_months_ending_with_the_period() -> None:
    month = trend_period(parse_period("2026-10"))
    assert (month.start, month.end) == (date(2025, 11, 1), date(2026, 11, 1))
    assert len(month.months()) == 12
    assert trend_period(parse_period("2026-Q1")).months()[-1] == "2026-03"
    assert trend_period(parse_period("2026")).months() == [f"2026-{m:02d}" for m in range(1, 13)]


def test_period_picker_and_parameter() -> None:
    today = date(2026, 11, 28)
    choices = period_choices(today=today, selected=parse_period("2026-11"))
    assert choices["month"][:2] == ["2026-11", "2026-10"] and len(choices["month"]) == 24
    assert choices["quarter"][:2] == ["2026-Q4", "2026-Q3"]
    assert choices["year"][0] == "2026"
    old = period_choices(today=today, selected=parse_period("2019-05"))
    assert old["month"][0] == "2019-05"  # a chosen period outside the list stays selectable
    assert reporting_period(None, today=today).code == "2026-10"  # the last complete month, not the current one
    assert reporting_period(None, today=date(2027, 1, 1)).code == "2026-12"
    assert reporting_period(None, today=date(2026, 12, 31)).code == "2026-11"
    assert reporting_period("2026-q3", today=today).code == "2026-Q3"
    with pytest.raises(Invalid):
        reporting_period("2026-01-01..2026-01-31", today=today)

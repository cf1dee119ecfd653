"""Trend chart geometry: points on the axis, gaps without ratings, hollow markers for small samples."""

from __future__ import annotations

import itertools

from server.indices.schemas import IndexRow
from server.presentation.charts import trend_chart


def row(key: str, rate: float | None, n: int = 100, status: str | None = "met") -> IndexRow:
    return IndexRow(
        key=key,
        label=key,
        label_en=key,
        n=n,
        satisfied=round((rate or 0) * n),
        rate=rate,
        ci_low=rate - 0.02 if rate is not None else None,
        ci_high=min(1.0, rate + 0.02) if rate is not None else None,
        target=0.9,
        target_2030=0.95,
        status=status,  # type: ignore[arg-type]
        misuse=0,
        levels={},
        reasons={},
    )


def test_points_are_placed_left_to_right_and_higher_rates_higher() -> None:
    chart = trend_chart([row("2026-01", 0.85), row("2026-02", 0.95), row("2026-03", 0.90)], 0.9)
    xs = [p.x for p in chart.points]
    assert xs == sorted(xs) and xs[0] == chart.left and xs[-1] == chart.right
    ys = {p.key: p.y for p in chart.points}
    assert ys["2026-02"] < ys["2026-03"] < ys["2026-01"]  # SVG y grows downwards
    assert chart.target_y == ys["2026-03"]
    assert len(chart.segments) == 1 and chart.segments[0].count(",") == 3
    assert chart.ticks[-1][1] == 1.0 and all(chart.top <= y <= chart.bottom for y, _ in chart.ticks)


def test_months_without_ratings_break_the_line_and_small_samples_are_marked() -> None:
    rows = [
        row("2026-01", 0.9),
        row("2026-02", 0.92),
        row("2026-03", None, n=0, status="insufficient_data"),
        row("2026-04", 0.8, n=5, status="insufficient_data"),
        row("2026-05", 0.85),
    ]
    chart = trend_chart(rows, None)
    assert chart.target_y is None
    assert chart.points[2].y is None
    assert [p.few for p in chart.points] == [False, False, True, True, False]
    assert len(chart.segments) == 2  # Jan–Feb, then Apr–May


def test_axis_reaches_down_to_the_lowest_rate() -> None:
    chart = trend_chart([row("2026-01", 0.42), row("2026-02", 0.5)], 0.9)
    lowest_tick = chart.ticks[0][1]
    assert lowest_tick <= 0.42 - 0.02
    assert all(p.y is not None and chart.top <= p.y <= chart.bottom for p in chart.points)


def test_gridlines_every_five_points_labels_every_ten() -> None:
    chart = trend_chart([row("2026-01", 0.9), row("2026-02", 0.93)], 0.9)  # lowest CI bound 0.88
    values = [v for _, v in chart.ticks]
    assert values == [0.8, 0.85, 0.9, 0.95, 1.0]
    assert [v for _, v in chart.tick_labels] == [0.8, 0.9, 1.0]
    gaps = {round(b[0] - a[0], 1) for a, b in itertools.pairwise(chart.ticks)}
    assert len(gaps) == 1  # evenly spaced
    tall = trend_chart([row("2026-01", 0.31)], 0.9)
    assert [v for _, v in tall.ticks][:3] == [0.2, 0.25, 0.3] and len(tall.ticks) == 17
    assert [v for _, v in tall.tick_labels] == [0.2, 0.4, 0.6, 0.8, 1.0]  # a tall axis labels every 20 points


def test_months_below_target_are_marked() -> None:
    rows = [
        row("2026-01", 0.95),
        row("2026-02", 0.85, status="not_met"),
        row("2026-03", 0.5, n=3, status="insufficient_data"),  # too few to judge: hollow, not "below"
    ]
    chart = trend_chart(rows, 0.9)
    assert [p.below for p in chart.points] == [False, True, False]
    assert [p.few for p in chart.points] == [False, False, True]


def test_axis_text_is_at_least_14_px_on_a_card_of_700_px_and_every_other_month_is_named() -> None:
    chart = trend_chart([row(f"2026-{m:02d}", 0.9) for m in range(1, 13)], 0.9)
    assert chart.font_size * 700 / chart.width >= 14
    assert [p.label for p in chart.points] == [i % 2 == 1 for i in range(12)]  # the latest month always named
    assert [p.label_phone for p in chart.points] == [i % 4 == 3 for i in range(12)]

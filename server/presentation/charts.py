"""Geometry of the server-rendered SVG trend chart (the template draws it; the same markup goes into the PDF).

Pure: index rows in, coordinates out. Months with too few ratings get a hollow marker and break nothing; months
without ratings leave a gap in the line; months below their target get a marker of their own (a downward triangle).
Gridlines every 5 percentage points, labelled every 10 (every 20 on a tall axis). The SVG scales to the card's width;
its text is `AXIS_FONT` units, at least 14 px from a card of about 700 px, and dashboard.css enlarges it on phones
(the labels every other month then thin to every fourth).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from server.indices.schemas import IndexRow

WIDTH, HEIGHT = 760, 320
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 100, 24, 24, 56
AXIS_FONT = 16
GRID_STEP = 0.05


@dataclass(frozen=True)
class ChartPoint:
    """One month on the chart."""

    key: str
    x: float
    y: float | None
    y_low: float | None
    y_high: float | None
    few: bool  # fewer ratings than the minimum sample: hollow marker
    below: bool = False  # enough ratings, and below the month's target: a marker of its own
    label: bool = True  # its month is written under the axis (every other month, the latest always)
    label_phone: bool = True  # … and on a phone too (every fourth month)


@dataclass(frozen=True)
class TrendChart:
    """Everything the SVG template needs: points, line segments, target line and axis ticks."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    points: list[ChartPoint]
    segments: list[str]  # SVG `points` strings of the polyline pieces (gaps where a month has no rating)
    target_y: float | None
    ticks: list[tuple[float, float]]  # gridlines every 5 points: (y, value as a fraction)
    tick_labels: list[tuple[float, float]]  # the labelled ones among them (every 10 or 20 points)
    font_size: int = AXIS_FONT


def _scale(low: float, high: float, top: float, bottom: float) -> Callable[[float], float]:
    def y_of(value: float) -> float:
        return round(bottom - (value - low) / (high - low) * (bottom - top), 1)

    return y_of


def trend_chart(rows: list[IndexRow], target: float | None, *, width: int = WIDTH, height: int = HEIGHT) -> TrendChart:
    """Lay out monthly rows (oldest first) against the target on a 0..100 % axis cut to the interesting band."""
    left, right = float(MARGIN_LEFT), float(width - MARGIN_RIGHT)
    top, bottom = float(MARGIN_TOP), float(height - MARGIN_BOTTOM)
    values = [v for r in rows for v in (r.rate, r.ci_low) if v is not None]
    if target is not None:
        values.append(target)
    low = max(0.0, math.floor((min(values, default=0.6) - 0.05) * 10) / 10)
    low = min(low, 0.8)
    high = 1.0
    y_of = _scale(low, high, top, bottom)
    step = (right - left) / max(1, len(rows) - 1) if len(rows) > 1 else 0.0
    points: list[ChartPoint] = []
    segments: list[str] = []
    current: list[str] = []
    for i, row in enumerate(rows):
        x = round(left + i * step if len(rows) > 1 else (left + right) / 2, 1)
        y = y_of(row.rate) if row.rate is not None else None
        points.append(
            ChartPoint(
                key=row.key,
                x=x,
                y=y,
                y_low=y_of(row.ci_low) if row.ci_low is not None else None,
                y_high=y_of(row.ci_high) if row.ci_high is not None else None,
                few=row.status == "insufficient_data",
                below=row.status == "not_met",
                label=(len(rows) - 1 - i) % 2 == 0,
                label_phone=(len(rows) - 1 - i) % 4 == 0,
            )
        )
        if y is None:
            if len(current) > 1:
                segments.append(" ".join(current))
            current = []
        else:
            current.append(f"{x},{y}")
    if len(current) > 1:
        segments.append(" ".join(current))
    ticks_count = round((high - low) / GRID_STEP)
    ticks = [(y_of(low + i * GRID_STEP), round(low + i * GRID_STEP, 2)) for i in range(ticks_count + 1)]
    every = 2 if high - low <= 0.5 + 1e-9 else 4  # label every 10 points, or every 20 on a tall axis
    tick_labels = [tick for i, tick in enumerate(ticks) if (ticks_count - i) % every == 0]
    return TrendChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        points=points,
        segments=segments,
        target_y=y_of(target) if target is not None else None,
        ticks=ticks,
        tick_labels=tick_labels,
    )

"""Pure index arithmetic: rates, Wilson intervals, targets and status. No database, no FastAPI.

Definitions (docs/DOMAIN.md, "The satisfaction index"): rate = satisfied ÷ valid ratings, misuse excluded from both;
a year uses the latest milestone at or before it; fewer than the minimum sample is `insufficient_data`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

Status = Literal["met", "not_met", "insufficient_data"]

#: z for a two-sided 95 % interval.
Z95 = 1.959963984540054
#: The resolution's horizon: dashboards show the distance to this year's milestone.
HORIZON_YEAR = 2030


def rate(satisfied: int, n: int) -> float | None:
    """Satisfied ÷ valid, or None when there are no valid ratings."""
    _check_counts(satisfied, n)
    return satisfied / n if n else None


def wilson_interval(satisfied: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion (95 % by default); None when n = 0.

    Chosen over the normal approximation because it stays inside [0, 1] and behaves at 0 % and 100 % and for
    small samples, which a commune desk with a handful of ratings a month has.
    """
    _check_counts(satisfied, n)
    if n == 0:
        return None
    p = satisfied / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # Exact bounds at the edges (floating point leaves 1e-17 crumbs otherwise).
    if satisfied == 0:
        low = 0.0
    if satisfied == n:
        high = 1.0
    return low, high


def status(rate_: float | None, n: int, target: float | None, min_sample: int) -> Status | None:
    """`insufficient_data` below the minimum sample, else `met`/`not_met` against the target (None: no target)."""
    if n < min_sample or rate_ is None:
        return "insufficient_data"
    if target is None:
        return None
    # Rates and targets are fractions; compare with a tolerance so 0.9 == 9/10 counts as met.
    return "met" if rate_ >= target - 1e-12 else "not_met"


def target_for(milestones: Iterable[tuple[int, float]], year: int) -> float | None:
    """The threshold of the latest milestone at or before `year` (None before the first milestone)."""
    best: tuple[int, float] | None = None
    for year_from, threshold in milestones:
        if year_from <= year and (best is None or year_from > best[0]):
            best = (year_from, threshold)
    return best[1] if best else None


def distance_to(rate_: float | None, target: float | None) -> float | None:
    """How far the rate is below the target (positive: short of it, negative: above it); None if unknown."""
    if rate_ is None or target is None:
        return None
    return target - rate_


def _check_counts(satisfied: int, n: int) -> None:
    if n < 0 or satisfied < 0 or satisfied > n:
        raise ValueError(f"invalid counts: {satisfied} satisfied of {n}")

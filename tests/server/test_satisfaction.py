"""Index arithmetic against reference values and edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.satisfaction import distance_to, rate, status, target_for, wilson_interval

MILESTONES = [(2025, 0.90), (2030, 0.95)]


@pytest.mark.parametrize(
    ("satisfied", "n", "low", "high"),
    [
        (90, 100, 0.8256, 0.9448),  # the reference: n = 100, 90 satisfied → 0.826–0.945
        (50, 100, 0.4038, 0.5962),
        (1, 10, 0.0179, 0.4042),
        (29, 30, 0.8333, 0.9941),
        (950, 1000, 0.9347, 0.9619),
    ],
)
def test_wilson_reference_values(satisfied: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(satisfied, n)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=6e-5)
    assert interval[1] == pytest.approx(high, abs=6e-5)


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) is None
    assert rate(0, 0) is None
    all_satisfied = wilson_interval(30, 30)
    assert all_satisfied is not None and all_satisfied[1] == 1.0 and all_satisfied[0] == pytest.approx(0.8865, abs=1e-4)
    none_satisfied = wilson_interval(0, 12)
    assert (
        none_satisfied is not None and none_satisfied[0] == 0.0 and none_satisfied[1] == pytest.approx(0.2425, abs=1e-4)
    )
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    with pytest.raises(ValueError):
        rate(-1, 4)


@given(st.integers(min_value=1, max_value=100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_rate_and_stays_in_bounds(counts: tuple[int, int]) -> None:
    satisfied, n = counts
    interval = wilson_interval(satisfied, n)
    assert interval is not None
    low, high = interval
    assert 0.0 <= low <= satisfied / n <= high <= 1.0


def test_target_lookup_uses_the_latest_milestone_at_or_before_the_year() -> None:
    assert target_for(MILESTONES, 2024) is None
    assert target_for(MILESTONES, 2025) == 0.90
    assert target_for(MILESTONES, 2029) == 0.90
    assert target_for(MILESTONES, 2030) == 0.95
    assert target_for(MILESTONES, 2040) == 0.95
    assert target_for([], 2026) is None


def test_status_and_minimum_sample() -> None:
    assert status(0.95, 29, 0.9, 30) == "insufficient_data"
    assert status(None, 0, 0.9, 30) == "insufficient_data"
    assert status(0.9, 30, 0.9, 30) == "met"  # exactly at target is met
    assert status(27 / 30, 30, 0.9, 30) == "met"
    assert status(0.8999, 1000, 0.9, 30) == "not_met"
    assert status(0.95, 100, None, 30) is None


def test_distance_to_the_2030_milestone() -> None:
    assert distance_to(0.91, 0.95) == pytest.approx(0.04)
    assert distance_to(0.97, 0.95) == pytest.approx(-0.02)
    assert distance_to(None, 0.95) is None

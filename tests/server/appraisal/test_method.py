"""The appraisal's pure arithmetic against hand-computed examples (no database)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from server.appraisal.method import (
    AFTER_HOURS_BURST,
    FOR_ANOTHER_OFFICER,
    RAPID_AFTER_INVITE,
    Counts,
    OpeningHours,
    after_hours_bursts,
    appraisal_status,
    compare,
    expected_rate,
    ranks,
    rapid_after_invite,
    reason_counts,
    registered_for_another,
)
from server.satisfaction import wilson_interval

LAND, JUSTICE = 1, 2
#: A unit where land is weaker: land 70 of 100 satisfied, justice 95 of 100 (overall 82.5 %).
UNIT = {LAND: Counts(100, 70), JUSTICE: Counts(100, 95)}


def test_an_officer_with_only_land_ratings_is_compared_with_land_and_not_marked_below() -> None:
    officer = {LAND: Counts(40, 28)}  # 70 %: exactly the unit's land rate
    result = compare(officer, UNIT, min_sample=30)
    # By hand: Wilson(28/40) = [0.5457, 0.8193]; Wilson(70/100) = [0.6042, 0.7811]; E = 1.0 × 0.70;
    # D = 0; low = −√(0.1543² + 0.0811²) = −0.1743; high = √(0.1193² + 0.0958²) = 0.1530.
    assert result.rate == pytest.approx(0.70)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.5457, 0.8193), abs=1e-4)
    assert result.expected == pytest.approx(0.70)
    assert (result.expected_low, result.expected_high) == pytest.approx((0.6042, 0.7811), abs=1e-4)
    assert result.difference == pytest.approx(0.0)
    assert (result.difference_low, result.difference_high) == pytest.approx((-0.1743, 0.1530), abs=1e-4)
    assert result.status == "as_expected"
    # The naive comparison with the unit's overall rate (82.5 %) would have called this officer below it.
    naive = wilson_interval(28, 40)
    assert naive is not None and naive[1] < 165 / 200


def test_the_expected_rate_weights_the_unit_field_rates_by_the_officers_mix() -> None:
    # 30 land and 10 justice ratings: E = 0.75 × 0.70 + 0.25 × 0.95 = 0.7625.
    result = expected_rate({LAND: Counts(30, 20), JUSTICE: Counts(10, 10)}, UNIT)
    assert result is not None
    assert result[0] == pytest.approx(0.7625)
    assert result[1] < 0.7625 < result[2]


def test_below_and_above_only_when_the_interval_says_so() -> None:
    below = compare({LAND: Counts(40, 16)}, UNIT, min_sample=30)  # 40 % against 70 %
    assert below.status == "below" and below.difference_high is not None and below.difference_high < 0
    above = compare({JUSTICE: Counts(40, 40), LAND: Counts(60, 59)}, UNIT, min_sample=30)
    assert above.status == "above" and above.difference_low is not None and above.difference_low > 0
    close = compare({LAND: Counts(40, 25)}, UNIT, min_sample=30)  # 62.5 % against 70 %: within the noise
    assert close.status == "as_expected"


def test_insufficient_data_is_shown_but_never_ranked() -> None:
    few = compare({LAND: Counts(10, 2)}, UNIT, min_sample=30)  # far below, but only 10 ratings
    assert few.status == "insufficient_data" and few.rate == pytest.approx(0.2)
    none = compare({}, UNIT, min_sample=30)
    assert none.status == "insufficient_data" and none.rate is None and none.difference is None
    ranked = ranks(
        {"A": ("as_expected", 0.01), "B": ("insufficient_data", 0.5), "C": ("below", -0.2), "D": ("above", 0.2)}
    )
    assert ranked == {"D": 1, "A": 2, "C": 3}
    assert ranks({"A": ("above", 0.1), "B": ("above", 0.1), "C": ("below", -0.1)}) == {"A": 1, "B": 1, "C": 3}


def test_status_thresholds() -> None:
    assert appraisal_status(n=29, difference_low=0.1, difference_high=0.2, min_sample=30) == "insufficient_data"
    assert appraisal_status(n=30, difference_low=0.1, difference_high=0.2, min_sample=30) == "above"
    assert appraisal_status(n=30, difference_low=-0.2, difference_high=-0.01, min_sample=30) == "below"
    assert appraisal_status(n=30, difference_low=-0.2, difference_high=0.01, min_sample=30) == "as_expected"


def test_a_field_the_unit_lacks_cannot_be_compared() -> None:
    with pytest.raises(ValueError):
        expected_rate({3: Counts(5, 5)}, UNIT)
    with pytest.raises(ValueError):
        Counts(3, 4)


T0 = datetime(2026, 10, 5, 9, 0)


def test_rapid_rating_after_a_session_invite() -> None:
    assert rapid_after_invite(
        creator_kind="officer_session", visit_created_at=T0, rated_at=T0 + timedelta(seconds=4), seconds=5
    )
    assert not rapid_after_invite(
        creator_kind="officer_session", visit_created_at=T0, rated_at=T0 + timedelta(seconds=6), seconds=5
    )
    # The one-stop system's visits: nobody at the counter pressed "invite"; a rating without a visit: no invite.
    assert not rapid_after_invite(
        creator_kind="api_key", visit_created_at=T0, rated_at=T0 + timedelta(seconds=1), seconds=5
    )
    assert not rapid_after_invite(creator_kind=None, visit_created_at=None, rated_at=T0, seconds=5)
    # A visit whose creator is not recorded (before migration 0015: the console's) counts as a session's.
    assert rapid_after_invite(creator_kind=None, visit_created_at=T0, rated_at=T0 + timedelta(seconds=1), seconds=5)
    assert not rapid_after_invite(creator_kind=None, visit_created_at=T0, rated_at=T0 + timedelta(seconds=6), seconds=5)


def test_registered_for_another_officer() -> None:
    assert registered_for_another(creator_kind="officer_session", creator_officer_id=1, officer_id=2)
    assert registered_for_another(creator_kind="officer_session", creator_officer_id=None, officer_id=2)
    assert not registered_for_another(creator_kind="officer_session", creator_officer_id=2, officer_id=2)
    assert not registered_for_another(creator_kind="manager_session", creator_officer_id=None, officer_id=2)
    assert not registered_for_another(creator_kind="api_key", creator_officer_id=None, officer_id=2)


HOURS = OpeningHours(opens=time(7, 0), closes=time(17, 30), weekdays=frozenset({1, 2, 3, 4, 5}))


def test_opening_hours() -> None:
    monday = datetime(2026, 10, 5)
    assert HOURS.is_open(monday.replace(hour=7))
    assert HOURS.is_open(monday.replace(hour=17, minute=29))
    assert not HOURS.is_open(monday.replace(hour=17, minute=30))
    assert not HOURS.is_open(monday.replace(hour=6, minute=59))
    assert not HOURS.is_open(datetime(2026, 10, 10, 10))  # a Saturday


def test_after_hours_bursts_need_count_ratings_at_one_counter_within_the_window() -> None:
    evening = datetime(2026, 10, 5, 18, 0)
    ratings = [
        ("a", 1, evening),
        ("b", 1, evening + timedelta(minutes=4)),
        ("c", 1, evening + timedelta(minutes=9)),  # a, b, c within 10 minutes at counter 1: a burst
        ("d", 1, evening + timedelta(minutes=40)),  # alone
        ("e", 2, evening),
        ("f", 2, evening + timedelta(minutes=5)),  # only two at counter 2
        ("g", 3, datetime(2026, 10, 5, 10, 0)),
        ("h", 3, datetime(2026, 10, 5, 10, 1)),
        ("i", 3, datetime(2026, 10, 5, 10, 2)),  # three, but in opening hours
    ]
    assert after_hours_bursts(ratings, opening=HOURS, count=3, window=timedelta(minutes=10)) == {"a", "b", "c"}


def test_reason_counts() -> None:
    counts = reason_counts([[RAPID_AFTER_INVITE], [AFTER_HOURS_BURST, RAPID_AFTER_INVITE], [FOR_ANOTHER_OFFICER]])
    assert counts == {RAPID_AFTER_INVITE: 2, FOR_ANOTHER_OFFICER: 1, AFTER_HOURS_BURST: 1}
    assert list(counts) == [RAPID_AFTER_INVITE, FOR_ANOTHER_OFFICER, AFTER_HOURS_BURST]

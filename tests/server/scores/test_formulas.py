"""The QĐ 766 formulas alone (no database): zero denominators, the 90 % cap, rounding, the double subtraction."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.scores import formulas as f
from server.scores.formulas import DossierCounts, PetitionCounts


def scores(score: f.Score) -> dict[str, float | None]:
    return {m.code: m.score for m in score.metrics}


def test_the_issue_example_scores_5_4_80_3_60_and_13_40() -> None:
    score = f.score_766(DossierCounts(200, 30, 20), PetitionCounts(received=5, on_time=4, satisfied=3))
    assert scores(score) == {
        f.DOSSIER_RECEIVING_SATISFACTION: 5.0,
        f.PETITION_PROCESSING_ON_TIME: 4.8,
        f.PETITION_HANDLING_SATISFACTION: 3.6,
        f.PETITION_CLASSIFICATION_TTHC: None,
        f.PETITION_CLASSIFICATION_STAFF: None,
    }
    assert score.total == 13.4
    assert score.metric(f.DOSSIER_RECEIVING_SATISFACTION).numerator == 150
    assert score.metric(f.DOSSIER_RECEIVING_SATISFACTION).ratio == 0.75
    assert score.lost == 4.6


def test_nothing_in_the_period_is_0_plus_6_plus_6() -> None:
    score = f.score_766(DossierCounts(), PetitionCounts())
    assert [m.score for m in score.metrics[:3]] == [0.0, 6.0, 6.0]
    assert score.total == 12.0
    assert all(m.ratio is None for m in score.metrics)
    assert [m.max_score for m in score.metrics] == [6, 6, 6, 0, 0]


def test_the_api_md_example_rounds_to_4_19() -> None:
    metric = f.score_766(DossierCounts(326, 60, 61), PetitionCounts()).metric(f.DOSSIER_RECEIVING_SATISFACTION)
    assert (metric.numerator, metric.denominator, metric.ratio, metric.score) == (205, 326, 0.6288, 4.19)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (DossierCounts(100, 10, 0), 6.0),  # exactly 90 %: full points
        (DossierCounts(100, 0, 0), 6.0),  # 100 % is capped at 6, not 6.67
        (DossierCounts(100, 5, 4), 6.0),  # 91 %
        (DossierCounts(100, 6, 5), 5.93),  # 89 % → 5.9333…
        (DossierCounts(3, 1, 0), 4.44),  # 2/3 ÷ 0.9 × 6 = 4.444…
    ],
)
def test_full_points_from_90_percent(counts: DossierCounts, expected: float) -> None:
    assert f.score_766(counts, PetitionCounts()).metric(f.DOSSIER_RECEIVING_SATISFACTION).score == expected


def test_overdue_and_disliked_are_each_subtracted_and_the_numerator_floors_at_0() -> None:
    # A dossier both late and disliked counts twice, as the official formula subtracts the two rates.
    assert f.dossier_numerator(DossierCounts(10, 3, 3)) == 4
    assert f.dossier_numerator(DossierCounts(10, 8, 7)) == 0
    assert f.score_766(DossierCounts(10, 8, 7), PetitionCounts()).metric(f.DOSSIER_RECEIVING_SATISFACTION).score == 0


def test_rounding_is_half_up_to_2_decimals_and_the_total_adds_the_rounded_scores() -> None:
    assert f.round2(Fraction(4125, 1000)) == 4.13  # a float would round 4.125 down
    assert f.round2(Fraction(2, 3)) == 0.67
    # 6 × 1/3 = 2.0, 6 × 2/3 = 4.0; 6 × 1/7 = 0.857… → 0.86, 6 × 6/7 = 5.142… → 5.14
    score = f.score_766(DossierCounts(), PetitionCounts(received=7, on_time=1, satisfied=6))
    assert [m.score for m in score.metrics[:3]] == [0.0, 0.86, 5.14]
    assert score.total == 6.0


def test_petitions_and_their_category_shares() -> None:
    score = f.score_766(DossierCounts(), PetitionCounts(received=8, on_time=8, satisfied=2, tthc=6, staff=1))
    assert score.metric(f.PETITION_PROCESSING_ON_TIME).score == 6.0
    assert score.metric(f.PETITION_HANDLING_SATISFACTION).score == 1.5
    tthc = score.metric(f.PETITION_CLASSIFICATION_TTHC)
    assert (tthc.numerator, tthc.denominator, tthc.ratio, tthc.score, tthc.max_score) == (6, 8, 0.75, None, 0)
    assert score.metric(f.PETITION_CLASSIFICATION_STAFF).ratio == 0.125


def test_where_points_were_lost() -> None:
    whole = DossierCounts(100, 20, 10)  # 70 % → 4.67
    assert f.dossier_cost(whole, DossierCounts(50, 20, 0)) == pytest.approx(6.0 - 4.67, abs=0.011)
    assert f.dossier_cost(whole, DossierCounts(50, 0, 0)) == 0.0
    petitions = PetitionCounts(received=10, on_time=8, satisfied=7)
    part = PetitionCounts(received=4, on_time=2, satisfied=2)
    assert f.petition_cost(petitions, part) == 2.4  # 6 × (2 + 2) ÷ 10
    assert f.petition_cost(PetitionCounts(), PetitionCounts()) == 0.0


@given(
    st.integers(0, 10_000).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(0, n), st.integers(0, 50))
    ),
    st.integers(0, 50).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(0, n))),
)
def test_scores_stay_within_their_bounds(d: tuple[int, int, int, int], p: tuple[int, int, int]) -> None:
    received, on_time, satisfied = p
    score = f.score_766(DossierCounts(*d[:3]), PetitionCounts(received, on_time, min(on_time, satisfied)))
    assert 0 <= score.total <= 18
    for metric in score.metrics[:3]:
        assert metric.score is not None and 0 <= metric.score <= 6
    assert score.total == pytest.approx(sum(m.score or 0 for m in score.metrics), abs=1e-9)

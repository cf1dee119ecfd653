"""The QĐ 766/QĐ-TTg group "Mức độ hài lòng" (18 points) from counts: pure functions, no database (docs/API.md,
"Official scores").

Scores are computed exactly (fractions) and rounded half up to 2 decimals; the total is the sum of the rounded
scores, as the National Public Service Portal publishes them. Ratios are rounded to 4 decimals for display only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

DOSSIER_RECEIVING_SATISFACTION = "DOSSIER_RECEIVING_SATISFACTION"
PETITION_PROCESSING_ON_TIME = "PETITION_PROCESSING_ON_TIME"
PETITION_HANDLING_SATISFACTION = "PETITION_HANDLING_SATISFACTION"
PETITION_CLASSIFICATION_TTHC = "PETITION_CLASSIFICATION_TTHC"
PETITION_CLASSIFICATION_STAFF = "PETITION_CLASSIFICATION_STAFF"

#: Points of each scored metric, and of the group.
METRIC_MAX = 6
GROUP_MAX = 18
#: The share of satisfactory dossiers that earns full points (the resolution's target).
DOSSIER_FULL_POINTS_AT = Fraction(9, 10)


@dataclass(frozen=True)
class DossierCounts:
    """A subtree's dossiers completed or returned in a period: how many, how many late, how many disliked."""

    completed: int = 0
    overdue: int = 0
    disliked: int = 0

    def __add__(self, other: DossierCounts) -> DossierCounts:
        return DossierCounts(
            self.completed + other.completed, self.overdue + other.overdue, self.disliked + other.disliked
        )


@dataclass(frozen=True)
class PetitionCounts:
    """A subtree's petitions received in a period, and how they were handled."""

    received: int = 0
    on_time: int = 0
    satisfied: int = 0
    tthc: int = 0
    staff: int = 0

    def __add__(self, other: PetitionCounts) -> PetitionCounts:
        return PetitionCounts(
            self.received + other.received,
            self.on_time + other.on_time,
            self.satisfied + other.satisfied,
            self.tthc + other.tthc,
            self.staff + other.staff,
        )


@dataclass(frozen=True)
class Metric:
    """One metric as docs/API.md names it: `score` None for the explanatory (max 0) ones."""

    code: str
    numerator: int
    denominator: int
    ratio: float | None
    score: float | None
    max_score: int


@dataclass(frozen=True)
class Score:
    """The group's three scored metrics, the two classification shares, and their total."""

    total: float
    max: int
    metrics: tuple[Metric, ...]
    dossiers: DossierCounts
    petitions: PetitionCounts

    def metric(self, code: str) -> Metric:
        """The metric with this code."""
        return next(m for m in self.metrics if m.code == code)

    @property
    def lost(self) -> float:
        """Points below the maximum."""
        return round2(Fraction(self.max) - Fraction(str(self.total)))


def round2(value: Fraction | float) -> float:
    """Half up to 2 decimals (Decimal, so 4.125 is 4.13 and not the float's 4.12)."""
    exact = Fraction(value)
    quantized = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return float(quantized)


def _ratio(numerator: int, denominator: int) -> float | None:
    if denominator == 0:
        return None
    exact = Fraction(numerator, denominator)
    return float((Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def dossier_numerator(counts: DossierCounts) -> int:
    """Completed − overdue − disliked, each counted on its own (the official formula subtracts two rates), ≥ 0."""
    return max(0, counts.completed - counts.overdue - counts.disliked)


def dossier_points(counts: DossierCounts) -> Fraction:
    """Exact points of DOSSIER_RECEIVING_SATISFACTION: 0 without dossiers, else min(6, 6 × ratio ÷ 0.90)."""
    if counts.completed == 0:
        return Fraction(0)
    ratio = Fraction(dossier_numerator(counts), counts.completed)
    return min(Fraction(METRIC_MAX), METRIC_MAX * ratio / DOSSIER_FULL_POINTS_AT)


def petition_points(numerator: int, denominator: int) -> Fraction:
    """Exact points of a petition metric: 6 without petitions, else 6 × ratio."""
    if denominator == 0:
        return Fraction(METRIC_MAX)
    return METRIC_MAX * Fraction(numerator, denominator)


def _scored(code: str, numerator: int, denominator: int, points: Fraction) -> Metric:
    """A scored metric: its ratio, and its points rounded to 2 decimals out of METRIC_MAX."""
    return Metric(code, numerator, denominator, _ratio(numerator, denominator), round2(points), METRIC_MAX)


def _share(code: str, numerator: int, denominator: int) -> Metric:
    """An explanatory share: its ratio, no score (max 0)."""
    return Metric(code, numerator, denominator, _ratio(numerator, denominator), None, 0)


def score_766(dossiers: DossierCounts, petitions: PetitionCounts) -> Score:
    """The group's metrics and total from a subtree's counts for a period."""
    received = petitions.received
    scored = (
        _scored(
            DOSSIER_RECEIVING_SATISFACTION, dossier_numerator(dossiers), dossiers.completed, dossier_points(dossiers)
        ),
        _scored(PETITION_PROCESSING_ON_TIME, petitions.on_time, received, petition_points(petitions.on_time, received)),
        _scored(
            PETITION_HANDLING_SATISFACTION,
            petitions.satisfied,
            received,
            petition_points(petitions.satisfied, received),
        ),
    )
    shares = (
        _share(PETITION_CLASSIFICATION_TTHC, petitions.tthc, received),
        _share(PETITION_CLASSIFICATION_STAFF, petitions.staff, received),
    )
    total = round2(sum((Fraction(str(m.score)) for m in scored), Fraction(0)))
    return Score(total=total, max=GROUP_MAX, metrics=scored + shares, dossiers=dossiers, petitions=petitions)


def dossier_cost(whole: DossierCounts, part: DossierCounts) -> float:
    """Points of DOSSIER_RECEIVING_SATISFACTION the `whole` would regain if `part`'s dossiers (a child unit's, a
    field's) had been neither overdue nor disliked: where the points were lost."""
    cleared = DossierCounts(whole.completed, whole.overdue - part.overdue, whole.disliked - part.disliked)
    return round2(dossier_points(cleared) - dossier_points(whole))


def petition_cost(whole: PetitionCounts, part: PetitionCounts) -> float:
    """Points of the two petition metrics the `whole` would regain if `part`'s petitions had all been handled on
    time and to the citizen's satisfaction (the metrics are linear, so these add up to the points lost)."""
    if whole.received == 0:
        return 0.0
    missed = (part.received - part.on_time) + (part.received - part.satisfied)
    return round2(METRIC_MAX * Fraction(missed, whole.received))

"""Pure arithmetic of the officers' yearly appraisal: indirect standardisation, the difference's interval, status,
and the doubtful-rating rules. No database, no FastAPI (see docs/appraisal.md for the method in words).

- An officer's **expected rate** is the rate they would have had if each of their ratings had the unit's rate for
  its field: E = Σ_f (n_f / n) · p_f (indirect standardisation). An officer who serves only land dossiers is compared
  with the unit's land rate, not with the unit's overall rate.
- The **difference** D = rate − E gets a 95 % interval by the MOVER method (Newcombe 1998; Zou & Donner 2008): the
  Wilson interval of the officer's rate combined with the interval of E, itself combined from the Wilson intervals of
  the unit's field rates. The officer's ratings are part of the unit's, which this treats as independent: the interval
  is then somewhat wider than exact, so a status errs on the officer's side.
- **Status**: `insufficient_data` under the minimum sample (shown, never ranked); otherwise `above` when the whole
  interval of D lies above 0, `below` when it lies below 0, and `as_expected` when it contains 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal, TypeVar

from server.satisfaction import Z95, wilson_interval

T = TypeVar("T")
AppraisalStatus = Literal["above", "as_expected", "below", "insufficient_data"]
STATUSES: tuple[AppraisalStatus, ...] = ("above", "as_expected", "below", "insufficient_data")

#: Why a rating is doubtful (an officer could have influenced it); shown apart, never deleted.
RAPID_AFTER_INVITE = "rated_seconds_after_invite"
FOR_ANOTHER_OFFICER = "registered_for_another_officer"
AFTER_HOURS_BURST = "after_hours_burst"
DOUBTFUL_REASONS = (RAPID_AFTER_INVITE, FOR_ANOTHER_OFFICER, AFTER_HOURS_BURST)
#: Visit creators that are a person's login session (the console, or the API with a session).
SESSION_KINDS = frozenset({"officer_session", "manager_session", "admin_session"})


@dataclass(frozen=True)
class Counts:
    """Valid ratings and how many of them are satisfied."""

    n: int
    satisfied: int

    def __post_init__(self) -> None:
        if self.n < 0 or not 0 <= self.satisfied <= self.n:
            raise ValueError(f"invalid counts: {self.satisfied} satisfied of {self.n}")

    @property
    def rate(self) -> float | None:
        """Satisfied ÷ valid (None without ratings)."""
        return self.satisfied / self.n if self.n else None


@dataclass(frozen=True)
class Comparison:
    """An officer's rate against the rate expected from the unit's field rates for the same mix of fields."""

    n: int
    satisfied: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    expected: float | None
    expected_low: float | None
    expected_high: float | None
    difference: float | None
    difference_low: float | None
    difference_high: float | None
    status: AppraisalStatus


def expected_rate(
    officer: Mapping[int, Counts], unit: Mapping[int, Counts], z: float = Z95
) -> tuple[float, float, float] | None:
    """E = Σ_f w_f p_f with w_f = the officer's share of ratings in field f and p_f the unit's rate there, and its
    interval (MOVER over the fields' Wilson intervals); None when the officer has no ratings.

    A field the unit has no ratings for cannot be one of the officer's (their ratings are the unit's): ValueError."""
    n = sum(c.n for c in officer.values())
    if n == 0:
        return None
    centre = low_sq = high_sq = 0.0
    for field, mine in officer.items():
        if mine.n == 0:
            continue
        reference = unit.get(field)
        if reference is None or reference.n == 0:
            raise ValueError(f"field {field}: the unit has no ratings to compare with")
        p = reference.satisfied / reference.n
        interval = wilson_interval(reference.satisfied, reference.n, z)
        assert interval is not None  # reference.n > 0
        w = mine.n / n
        centre += w * p
        low_sq += (w * (p - interval[0])) ** 2
        high_sq += (w * (interval[1] - p)) ** 2
    return centre, max(0.0, centre - math.sqrt(low_sq)), min(1.0, centre + math.sqrt(high_sq))


def compare(
    officer: Mapping[int, Counts], unit: Mapping[int, Counts], *, min_sample: int, z: float = Z95
) -> Comparison:
    """The officer's rate, interval, expected rate, difference with its interval (MOVER) and status."""
    n = sum(c.n for c in officer.values())
    satisfied = sum(c.satisfied for c in officer.values())
    own = wilson_interval(satisfied, n, z)
    expected = expected_rate(officer, unit, z)
    if own is None or expected is None:
        return Comparison(n, satisfied, None, None, None, None, None, None, None, None, None, "insufficient_data")
    rate = satisfied / n
    e, e_low, e_high = expected
    d = rate - e
    d_low = d - math.sqrt((rate - own[0]) ** 2 + (e_high - e) ** 2)
    d_high = d + math.sqrt((own[1] - rate) ** 2 + (e - e_low) ** 2)
    return Comparison(
        n=n,
        satisfied=satisfied,
        rate=rate,
        ci_low=own[0],
        ci_high=own[1],
        expected=e,
        expected_low=e_low,
        expected_high=e_high,
        difference=d,
        difference_low=d_low,
        difference_high=d_high,
        status=appraisal_status(n=n, difference_low=d_low, difference_high=d_high, min_sample=min_sample),
    )


def appraisal_status(*, n: int, difference_low: float, difference_high: float, min_sample: int) -> AppraisalStatus:
    """`insufficient_data` under the minimum sample; `above`/`below` only when the interval excludes 0."""
    if n < min_sample:
        return "insufficient_data"
    if difference_low > 0:
        return "above"
    if difference_high < 0:
        return "below"
    return "as_expected"


def ranks(differences: Mapping[str, tuple[AppraisalStatus, float | None]]) -> dict[str, int]:
    """Rank 1, 2, … by difference, highest first, of the officers with enough ratings (others get no rank; ties
    share the better rank)."""
    ranked = sorted(
        ((key, d) for key, (status, d) in differences.items() if status != "insufficient_data" and d is not None),
        key=lambda item: -item[1],
    )
    out: dict[str, int] = {}
    previous: float | None = None
    rank = 0
    for position, (key, d) in enumerate(ranked, start=1):
        if previous is None or not math.isclose(d, previous, abs_tol=1e-12):
            rank = position
        out[key] = rank
        previous = d
    return out


# --- Doubtful ratings --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpeningHours:
    """When the desks serve citizens: a daily window on the given ISO weekdays (1 = Monday), local time."""

    opens: time
    closes: time
    weekdays: frozenset[int]

    def is_open(self, local: datetime) -> bool:
        """Whether a local time falls inside opening hours."""
        return local.isoweekday() in self.weekdays and self.opens <= local.time() < self.closes


def rapid_after_invite(
    *, creator_kind: str | None, visit_created_at: datetime | None, rated_at: datetime, seconds: float
) -> bool:
    """A rating given within `seconds` of its visit being opened by a login session at the counter: the officer who
    just pressed "invite" could have answered it themselves (at the counter's kiosk or with the slip's link).

    A visit whose creator is not recorded (`creator_kind` None: registered before migration 0015, by the console,
    which did not audit its visits) is read as a session's too: nothing shows that nobody at the counter opened it.
    Only a key's visit (the one-stop system's) is left out. A rating without a visit (`visit_created_at` None) never
    is doubtful by this rule."""
    if visit_created_at is None or (creator_kind is not None and creator_kind not in SESSION_KINDS):
        return False
    return (rated_at - visit_created_at).total_seconds() <= seconds


def registered_for_another(*, creator_kind: str | None, creator_officer_id: int | None, officer_id: int | None) -> bool:
    """A visit that an officer's session registered in another officer's name (refused since issue 18; kept)."""
    return creator_kind == "officer_session" and officer_id is not None and creator_officer_id != officer_id


def after_hours_bursts(
    ratings: Iterable[tuple[T, int, datetime]],
    *,
    opening: OpeningHours,
    count: int,
    window: timedelta,
) -> set[T]:
    """The ids of top-level ratings outside opening hours that belong to a burst: at least `count` of them at one
    counter within `window`. `ratings` are (id, counter id, local time) of top-level ratings only."""
    by_counter: dict[int, list[tuple[datetime, T]]] = {}
    for rating_id, counter_id, local in ratings:
        if not opening.is_open(local):
            by_counter.setdefault(counter_id, []).append((local, rating_id))
    flagged: set[T] = set()
    for times in by_counter.values():
        times.sort()
        start = 0
        for end in range(len(times)):
            while times[end][0] - times[start][0] > window:
                start += 1
            if end - start + 1 >= count:
                flagged.update(rating_id for _at, rating_id in times[start : end + 1])
    return flagged


def reason_counts(reasons: Sequence[Sequence[str]]) -> dict[str, int]:
    """How many doubtful ratings give each reason (a rating may give several), in the rules' order."""
    out = dict.fromkeys(DOUBTFUL_REASONS, 0)
    for given in reasons:
        for reason in given:
            out[reason] += 1
    return {reason: n for reason, n in out.items() if n}

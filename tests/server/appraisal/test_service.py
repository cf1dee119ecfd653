"""The appraisal computed from stored ratings: standardised comparison and the doubtful rules (both databases)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlmodel import Session

from server.appraisal import service
from server.appraisal.method import AFTER_HOURS_BURST, FOR_ANOTHER_OFFICER, RAPID_AFTER_INVITE
from server.config import Settings
from server.indices.periods import parse_period
from tests import factories
from tests.server.appraisal.data import build_ward


def test_the_ward_appraisal_by_hand(session: Session, settings: Settings) -> None:
    ward = build_ward(session)
    result = service.appraise(session=session, settings=settings, unit=ward.root, period=parse_period("2026"))
    # Clean ratings: land 100 (70 satisfied), justice 100 (95); five doubtful ones apart.
    assert (result.overall.n, result.overall.satisfied) == (200, 165)
    assert {f.code: (f.n, f.satisfied) for f in result.fields} == {"land": (100, 70), "justice": (100, 95)}
    assert result.doubtful == 5
    assert result.doubtful_reasons == {RAPID_AFTER_INVITE: 1, FOR_ANOTHER_OFFICER: 1, AFTER_HOURS_BURST: 3}

    land = result.officer("AP-LAND")
    assert land is not None
    c = land.comparison
    assert (c.n, c.satisfied) == (40, 28)
    assert c.expected == pytest.approx(0.70)  # land's rate, not the unit's 82.5 %
    assert c.status == "as_expected"  # the naive comparison with 82.5 % would say below
    assert (land.doubtful, land.doubtful_reasons) == (1, {RAPID_AFTER_INVITE: 1})

    justice = result.officer("AP-JUST")
    assert justice is not None
    assert (justice.comparison.n, justice.comparison.satisfied) == (100, 95)
    assert justice.comparison.expected == pytest.approx(0.95)
    assert (justice.doubtful, justice.doubtful_reasons) == (1, {FOR_ANOTHER_OFFICER: 1})

    few = result.officer("AP-FEW")
    assert few is not None
    assert (few.comparison.n, few.comparison.status, few.rank) == (10, "insufficient_data", None)
    assert (few.doubtful, few.doubtful_reasons) == (3, {AFTER_HOURS_BURST: 3})
    # Ranked officers come first; the one with too few ratings is listed last, without a rank.
    assert [o.code for o in result.officers][-1] == "AP-FEW"
    assert all(o.rank is not None for o in result.officers[:-1])


def test_a_weaker_officer_is_below_and_other_units_are_not_counted(session: Session, settings: Settings) -> None:
    ward = build_ward(session)
    weak = factories.officer(session, ward.desk, code="AP-WEAK")
    at = datetime(2026, 8, 3, 8, 0, tzinfo=factories.HCM)
    for i in range(40):  # 30 % satisfied in land, where the unit has 70 %
        factories.rating(
            session,
            ward.counter,
            level=4 if i < 12 else 1,
            field_code="land",
            officer_=weak,
            at=at + timedelta(hours=i),
        )
    sibling = factories.unit(session, ward.root, code="AP-OTHER")
    factories.rating(session, factories.counter(session, sibling), level=1, field_code="justice", at=at)
    result = service.appraise(session=session, settings=settings, unit=ward.desk, period=parse_period("2026"))
    line = result.officer("AP-WEAK")
    assert line is not None and line.comparison.status == "below"
    assert line.comparison.difference_high is not None and line.comparison.difference_high < 0
    assert line.rank == max(o.rank or 0 for o in result.officers)  # the lowest difference ranks last
    # The sibling's rating is not the desk's: justice stays 100 ratings, 95 satisfied.
    assert {f.code: (f.n, f.satisfied) for f in result.fields}["justice"] == (100, 95)


def test_settings_change_the_rules(session: Session, settings: Settings) -> None:
    ward = build_ward(session)
    strict = settings.model_copy(update={"doubtful_rating_seconds": 90.0, "doubtful_burst_count": 2})
    result = service.appraise(session=session, settings=strict, unit=ward.desk, period=parse_period("2026"))
    # 90 s: the visits rated after 60 s are doubtful too; bursts of 2: the quiet evening's pair as well.
    assert result.doubtful_reasons[RAPID_AFTER_INVITE] == 3
    assert result.doubtful_reasons[AFTER_HOURS_BURST] == 5
    # Opening until 22:00 every day: no evening is after hours any more.
    late = settings.model_copy(update={"closing_time": time(22, 0)})
    result = service.appraise(session=session, settings=late, unit=ward.desk, period=parse_period("2026"))
    assert AFTER_HOURS_BURST not in result.doubtful_reasons
    # Another period holds none of the ward's ratings: everyone is insufficient, no one ranked.
    empty = service.appraise(session=session, settings=settings, unit=ward.desk, period=parse_period("2025"))
    assert empty.overall.n == 0 and all(o.rank is None for o in empty.officers)
    assert {o.code for o in empty.officers} == {"AP-LAND", "AP-JUST", "AP-FEW"}  # active officers are listed


def test_a_visit_without_a_recorded_creator_rated_seconds_after_it_opened_is_doubtful(
    session: Session, settings: Settings
) -> None:
    """Visits from before migration 0015 (the console's, which recorded no creator) fall under the few-seconds rule
    like a session's; the one-stop system's (a key's) do not: nobody at the counter pressed "invite"."""
    ward = build_ward(session)
    opened = datetime(2026, 7, 6, 9, 0, tzinfo=factories.HCM)
    unrecorded = factories.counter_visit(session, ward.counter, officer_=ward.justice, created_at=opened)
    keyed = factories.counter_visit(
        session, ward.counter, officer_=ward.justice, created_at=opened + timedelta(hours=1)
    )
    keyed.created_by_kind = "api_key"
    for visit in (unrecorded, keyed):
        rating = factories.rating(
            session,
            ward.counter,
            level=4,
            field_code="justice",
            officer_=ward.justice,
            channel="phone",
            at=visit.created_at + timedelta(seconds=2),
        )
        rating.visit_id = visit.id
    session.flush()
    result = service.appraise(session=session, settings=settings, unit=ward.desk, period=parse_period("2026"))
    assert result.doubtful_reasons[RAPID_AFTER_INVITE] == 2  # the ward's own one, and the unrecorded visit's
    justice = result.officer("AP-JUST")
    assert justice is not None
    assert justice.doubtful_reasons == {FOR_ANOTHER_OFFICER: 1, RAPID_AFTER_INVITE: 1}
    assert (justice.comparison.n, justice.comparison.satisfied) == (101, 96)  # the key's visit counts

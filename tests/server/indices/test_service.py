"""Indices from the database: groupings, subtrees, targets, local-time periods."""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from server.errors import Invalid
from server.indices.periods import parse_period
from server.indices.schemas import IndicesReport
from server.indices.service import choose_source
from server.models import FieldGroup, ScaleLevel, TargetGroup, Unit, Visit
from server.units.service import move_unit
from tests import factories
from tests.server.indices.helpers import report

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(params=["rollup", "raw"])
def source(request: pytest.FixtureRequest) -> str:
    """Every report test runs on the rollups (what reports read) and on the raw ratings (the reference)."""
    return str(request.param)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


def test_overall_counts_subtree_and_excludes_misuse(session: Session, source: str) -> None:
    root = factories.unit(session)
    child = factories.unit(session, root)
    grandchild = factories.unit(session, child)
    other = factories.unit(session)
    for u, levels in ((root, [4, 3]), (child, [2]), (grandchild, [1, 4]), (other, [4, 4, 4])):
        c = factories.counter(session, u)
        for lv in levels:
            factories.rating(session, c, level=lv, at=at(2026, 10, 5))
    factories.rating(session, factories.counter(session, grandchild), level=4, at=at(2026, 10, 6), misuse=True)
    r = report(session, root, "2026-10", source=source)
    assert (r.overall.n, r.overall.satisfied, r.overall.misuse) == (5, 3, 1)
    assert r.overall.rate == pytest.approx(0.6)
    assert r.overall.levels == {"4": 2, "3": 1, "2": 1, "1": 1}
    assert r.overall.target == 0.90 and r.overall.status == "not_met"
    assert r.overall.ci_low is not None and r.overall.ci_low < 0.6 < (r.overall.ci_high or 0)
    assert report(session, grandchild, "2026-10", source=source).overall.n == 2


def test_month_boundary_is_local_time(session: Session, source: str) -> None:
    c = factories.counter(session, factories.unit(session))
    root = session.get(Unit, c.unit_id)
    assert root is not None
    factories.rating(session, c, level=4, at=at(2026, 10, 31, 23, 30))  # 16:30 UTC on the 31st
    factories.rating(session, c, level=1, at=at(2026, 11, 1, 0, 15))  # still 31 October in UTC
    assert report(session, root, "2026-10", source=source).overall.levels == {"4": 1, "3": 0, "2": 0, "1": 0}
    assert report(session, root, "2026-11", source=source).overall.levels == {"4": 0, "3": 0, "2": 0, "1": 1}
    assert report(session, root, "2026-Q4", source=source).overall.n == 2
    assert report(session, root, "2026", source=source).overall.n == 2
    assert report(session, root, "2026-10-31..2026-10-31", source=source).overall.n == 1


def test_by_field_targets_and_a_field_in_two_groups(session: Session, source: str) -> None:
    u = factories.unit(session)
    c = factories.counter(session, u)
    for lv in (4, 4, 3, 1):
        factories.rating(
            session, c, level=lv, field_code="land", at=at(2026, 3, 2), reasons=("late",) if lv == 1 else ()
        )
    factories.rating(session, c, level=4, field_code="justice", at=at(2026, 3, 2))
    factories.rating(session, c, level=2, field_code="health", at=at(2026, 3, 2), reasons=("waiting", "other"))
    # Put land in health_education as well: its row takes the lower target, and it counts in both groups.
    he = session.exec(select(TargetGroup).where(TargetGroup.code == "health_education")).one()
    session.add(FieldGroup(field_id=factories.field(session, "land").id, group_id=he.id))  # type: ignore[arg-type]
    session.flush()
    by_field = {row.key: row for row in report(session, u, "2026-03", "field", source=source).rows}
    assert len(by_field) == 14
    assert (by_field["land"].n, by_field["land"].satisfied, by_field["land"].target) == (4, 3, 0.80)
    assert by_field["land"].reasons == {"late": 1}
    assert by_field["justice"].target == 0.90 and by_field["health"].target == 0.85
    assert by_field["tax"].n == 0 and by_field["tax"].rate is None and by_field["tax"].status == "insufficient_data"
    by_group = {row.key: row for row in report(session, u, "2026-03", "group", source=source).rows}
    assert [k for k in by_group] == ["all", "lci", "health_education"]
    assert (by_group["all"].n, by_group["lci"].n, by_group["health_education"].n) == (6, 4, 5)
    assert by_group["health_education"].reasons == {"late": 1, "other": 1, "waiting": 1}
    assert by_group["lci"].target == 0.80 and by_group["lci"].target_2030 == 0.85


def test_by_unit_children_follow_a_move(session: Session, source: str) -> None:
    root = factories.unit(session)
    a = factories.unit(session, root, code="ZA")
    b = factories.unit(session, root, code="ZB")
    a1 = factories.unit(session, a, code="ZA1")
    factories.rating(session, factories.counter(session, a1), level=4, at=at(2026, 5, 1))
    factories.rating(session, factories.counter(session, b), level=1, at=at(2026, 5, 1))
    factories.rating(session, factories.counter(session, root), level=3, at=at(2026, 5, 1))
    rows = {row.key: row.n for row in report(session, root, "2026-05", "unit", source=source).rows}
    assert rows == {"ZA": 1, "ZB": 1, root.code: 1}
    move_unit(session=session, unit=a1, new_parent=b)
    rows = {row.key: row.n for row in report(session, root, "2026-05", "unit", source=source).rows}
    assert rows == {"ZA": 0, "ZB": 2, root.code: 1}


def test_one_field_per_child_unit_and_per_month(session: Session, source: str) -> None:
    """`field_id` keeps one field's ratings: per child (subtrees) and per month, with the field's group target."""
    root = factories.unit(session)
    a = factories.unit(session, root, code="FA")
    b = factories.unit(session, root, code="FB")
    a1 = factories.unit(session, a, code="FA1")
    ca1, cb, croot = (factories.counter(session, u) for u in (a1, b, root))
    factories.rating(session, ca1, level=4, field_code="land", at=at(2026, 5, 3))
    factories.rating(session, ca1, level=1, field_code="land", at=at(2026, 5, 4), reasons=("late",))
    factories.rating(session, ca1, level=4, field_code="justice", at=at(2026, 5, 4))  # another field: left out
    factories.rating(session, cb, level=3, field_code="land", at=at(2026, 4, 30, 23, 30))  # April, local time
    factories.rating(session, cb, level=2, field_code="land", at=at(2026, 5, 31, 23, 30), misuse=True)
    factories.rating(session, croot, level=4, field_code="land", at=at(2026, 5, 9))
    land = factories.field(session, "land").id

    def one_field(period: str, by: str) -> IndicesReport:
        return report(session, root, period, by, source=source, field_id=land)

    may = one_field("2026-05", "unit")
    rows = {r.key: (r.n, r.satisfied, r.misuse, r.reasons, r.target) for r in may.rows}
    assert rows == {"FA": (2, 1, 0, {"late": 1}, 0.80), "FB": (0, 0, 1, {}, 0.80), root.code: (1, 1, 0, {}, 0.80)}
    assert (may.overall.n, may.overall.satisfied, may.overall.target) == (3, 2, 0.80)
    # The same figures as the field's row in each child's own by-field report.
    land_in_a = next(r for r in report(session, a, "2026-05", "field", source=source).rows if r.key == "land")
    assert (land_in_a.n, land_in_a.satisfied, land_in_a.reasons) == (2, 1, {"late": 1})
    months = {r.key: r.n for r in one_field("2026-04-01..2026-05-31", "month").rows}
    assert months == {"2026-04": 1, "2026-05": 3}


def test_officer_with_ratings_in_two_units(session: Session, source: str) -> None:
    root = factories.unit(session)
    u1, u2 = factories.unit(session, root), factories.unit(session, root)
    officer = factories.officer(session, u1)
    factories.rating(session, factories.counter(session, u1), level=4, officer_=officer, at=at(2026, 6, 3))
    factories.rating(session, factories.counter(session, u2), level=1, officer_=officer, at=at(2026, 6, 3))
    everywhere = {r.key: r for r in report(session, root, "2026-06", "officer", source=source).rows}
    assert everywhere[officer.code].n == 2
    in_u2 = {r.key: r for r in report(session, u2, "2026-06", "officer", source=source).rows}
    assert in_u2[officer.code].n == 1 and in_u2[officer.code].satisfied == 0


def test_by_channel_counter_and_month(session: Session, source: str) -> None:
    u = factories.unit(session)
    c1, c2 = factories.counter(session, u), factories.counter(session, u)
    factories.rating(session, c1, level=4, channel="phone", at=at(2026, 1, 31, 23, 59))
    factories.rating(session, c2, level=3, at=at(2026, 2, 1, 0, 1))
    factories.rating(session, c2, level=2, at=at(2026, 3, 10))
    assert {r.key: r.n for r in report(session, u, "2026-Q1", "channel", source=source).rows} == {
        "kiosk": 2,
        "phone": 1,
    }
    assert {r.key: r.n for r in report(session, u, "2026-Q1", "counter", source=source).rows} == {
        c1.code: 1,
        c2.code: 2,
    }
    months = report(session, u, "2026-Q1", "month", source=source).rows
    assert [(r.key, r.n, r.label) for r in months] == [
        ("2026-01", 1, "Tháng 1/2026"),
        ("2026-02", 1, "Tháng 2/2026"),
        ("2026-03", 1, "Tháng 3/2026"),
    ]


@pytest.mark.parametrize("bad", ["2026-13", "2026-Q5", "26-10", "october", "2026-10-05..2026-10-01", ""])
def test_malformed_periods_are_422(bad: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_period(bad)
    assert err.value.status_code == 422


def test_unknown_grouping(session: Session, source: str) -> None:
    with pytest.raises(Invalid, match="by='colour'"):
        report(session, factories.unit(session), "2026-10", "colour", source=source)


def test_a_counter_moved_to_another_unit_keeps_its_ratings_where_they_were_given(session: Session, source: str) -> None:
    root = factories.unit(session)
    a, b = factories.unit(session, root), factories.unit(session, root)
    c = factories.counter(session, a)
    factories.rating(session, c, level=4, at=at(2026, 4, 2))
    c.unit_id = b.id  # type: ignore[assignment]
    session.flush()
    factories.rating(session, c, level=1, at=at(2026, 4, 3))
    # In a: the counter is no longer listed there, yet its old rating still counts, under the counter's code.
    in_a = report(session, a, "2026-04", "counter", source=source)
    assert [(r.key, r.n, r.label) for r in in_a.rows] == [(c.code, 1, "Quầy")]
    in_b = report(session, b, "2026-04", "counter", source=source)
    assert [(r.key, r.n, r.satisfied) for r in in_b.rows] == [(c.code, 1, 0)]


def test_officers_from_elsewhere_are_labelled_and_sorted(session: Session, source: str) -> None:
    root = factories.unit(session)
    here, elsewhere = factories.unit(session, root), factories.unit(session, root)
    visitors = [factories.officer(session, elsewhere, code=code) for code in ("ZZ-2", "ZZ-1")]
    counter = factories.counter(session, here)
    for officer in visitors:
        factories.rating(session, counter, level=3, officer_=officer, at=at(2026, 7, 1))
    factories.rating(session, counter, level=3, at=at(2026, 7, 1))  # no officer named: only in the overall row
    r = report(session, here, "2026-07", "officer", source=source)
    assert [(row.key, row.label, row.n) for row in r.rows] == [("ZZ-1", "Cán bộ", 1), ("ZZ-2", "Cán bộ", 1)]
    assert r.overall.n == 3


def test_a_range_that_is_not_whole_months(session: Session, source: str) -> None:
    u = factories.unit(session)
    c = factories.counter(session, u)
    for day, level in ((4, 4), (5, 1), (6, 3), (20, 2)):
        factories.rating(session, c, level=level, field_code="land", at=at(2026, 9, day), reasons=("late",))
    r = report(session, u, "2026-09-05..2026-09-06", "field", source=source)
    land = next(row for row in r.rows if row.key == "land")
    assert (land.n, land.satisfied, land.levels, land.reasons) == (2, 1, {"4": 0, "3": 1, "2": 0, "1": 1}, {"late": 2})
    months = report(session, u, "2026-08-31..2026-09-30", "month", source=source).rows
    assert [(row.key, row.n) for row in months] == [("2026-08", 0), ("2026-09", 4)]


def test_response_rate_counts_visits_that_have_a_rating(session: Session, source: str) -> None:
    u = factories.unit(session)
    c = factories.counter(session, u)
    land = factories.field(session, "land")
    visits = []
    for hour in (8, 9, 10):
        v = Visit(
            token=secrets.token_urlsafe(8),
            counter_id=c.id,  # type: ignore[arg-type]
            field_id=land.id,  # type: ignore[arg-type]
            created_at=at(2026, 8, 1, hour),
            expires_at=at(2026, 9, 1),
        )
        session.add(v)
        visits.append(v)
    session.flush()
    rated = factories.rating(session, c, level=4, at=at(2026, 8, 1, 11), channel="phone")
    rated.visit_id = visits[0].id
    session.flush()
    rr = report(session, u, "2026-08", source=source).response_rate
    assert (rr.visits, rr.rated) == (3, 1) and rr.rate == pytest.approx(1 / 3)
    assert report(session, u, "2026-07", source=source).response_rate.rate is None


def test_a_scale_level_the_month_rollup_has_no_column_for(session: Session, source: str) -> None:
    """Levels 1-5 are month-rollup columns; a scale with another level is still counted exactly (day rollup)."""
    session.add(ScaleLevel(level=6, name_vi="Tuyệt vời", name_en="Excellent", satisfied=True))
    session.flush()
    u = factories.unit(session)
    c = factories.counter(session, u)
    for level, misuse in ((6, False), (6, True), (4, False), (1, False)):
        factories.rating(session, c, level=level, misuse=misuse, at=at(2026, 5, 4))
    r = report(session, u, "2026-05", "field", source=source)
    assert r.overall.levels == {"6": 1, "4": 1, "3": 0, "2": 0, "1": 1}
    assert (r.overall.n, r.overall.satisfied, r.overall.misuse) == (3, 2, 1)


def test_which_table_answers() -> None:
    month, days = parse_period("2026-Q2"), parse_period("2026-04-02..2026-04-30")
    for by in (None, "field", "group", "unit", "month"):
        assert choose_source(month, by, "rollup").kind == "subtree"
    assert choose_source(month, "counter", "rollup").kind == "day"  # the month rollups have no counters
    assert choose_source(days, "field", "rollup").kind == "day"
    assert choose_source(month, "field", "rollup", levels=(1, 2, 3, 4, 5, 6)).kind == "day"
    assert choose_source(month, "field", "raw").kind == "raw"

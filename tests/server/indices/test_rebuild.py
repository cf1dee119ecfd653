"""Triggers on the real write paths, and `rebuild` finding and fixing what they did not do."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from server.demo import seed_demo
from server.indices.rollups import describe, rebuild
from server.indices.schemas import IndicesReport
from server.models import Rating, RatingMonthRollup, RatingReasonRollup, RatingRollup, Unit
from tests import factories
from tests.server.indices.helpers import report

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=HCM)


def indices_report(session: Session, unit: Unit, period: str, by: str | None, source: str = "rollup") -> IndicesReport:
    """The report of `unit` for `period` grouped `by`, from `source`, every row shown (minimum sample 1)."""
    return report(session, unit, period, by, min_sample=1, source=source)


@pytest.mark.parametrize("period", ["2026-10", "2026-10-01..2026-10-31"])  # month rollup, day rollup
def test_misuse_flagged_after_the_reasons_takes_them_out(session: Session, period: str) -> None:
    u = factories.unit(session)
    c = factories.counter(session, u)
    r = factories.rating(session, c, level=1, at=at(2026, 10, 9), reasons=("late", "waiting"))
    factories.rating(session, c, level=2, at=at(2026, 10, 9), reasons=("late",))
    assert indices_report(session, u, period, "field").overall.reasons == {"late": 2, "waiting": 1}
    session.execute(sa.update(Rating).where(Rating.id == r.id).values(misuse=True, misuse_reason="repeat"))  # type: ignore[arg-type]
    overall = indices_report(session, u, period, "field").overall
    assert (overall.n, overall.misuse, overall.reasons) == (1, 1, {"late": 1})
    session.execute(sa.update(Rating).where(Rating.id == r.id).values(misuse=False))  # type: ignore[arg-type]
    assert indices_report(session, u, period, None).overall.reasons == {"late": 2, "waiting": 1}


def test_seed_demo_bulk_inserts_are_rolled_up(session: Session) -> None:
    seed_demo(
        session=session, seed=5, end_month=date(2026, 10, 1), months=1, tz=HCM, now=datetime(2026, 11, 1, tzinfo=UTC)
    )
    ratings = session.execute(sa.select(sa.func.count()).select_from(Rating)).scalar_one()
    rolled = session.execute(sa.select(sa.func.sum(RatingRollup.n))).scalar_one()
    monthly = session.execute(sa.select(sa.func.sum(RatingMonthRollup.valid + RatingMonthRollup.misuse))).scalar_one()
    assert ratings > 1000 and rolled == monthly == ratings
    report = rebuild(session=session)
    assert (report.fixed, report.ratings) == (0, ratings)
    root = session.execute(sa.select(Unit).where(Unit.code == "DLK")).scalar_one()
    for by in ("field", "unit", "officer"):
        assert indices_report(session, root, "2026-10", by) == indices_report(session, root, "2026-10", by, "raw")


def test_rebuild_reports_and_fixes_every_difference(session: Session) -> None:
    u = factories.unit(session, code="RB1")
    c = factories.counter(session, u, code="RB1-Q1")
    factories.rating(session, c, level=4, field_code="land", at=at(2026, 3, 5))
    factories.rating(session, c, level=4, field_code="land", at=at(2026, 3, 5))
    factories.rating(session, c, level=1, field_code="tax", at=at(2026, 3, 6), reasons=("fees",))
    before = indices_report(session, u, "2026-03", "field", "raw")
    assert rebuild(session=session).fixed == 0

    day_t, month_t = RatingRollup.__table__, RatingMonthRollup.__table__  # type: ignore[attr-defined]
    reasons = RatingReasonRollup.__table__  # type: ignore[attr-defined]
    land = factories.field(session, "land").id
    session.execute(sa.update(day_t).where(day_t.c.unit_id == u.id, day_t.c.level == 4).values(n=5))  # drifted
    session.execute(sa.delete(reasons).where(reasons.c.unit_id == u.id))  # lost
    zeros = {f"level_{lv}": 0 for lv in range(1, 6)}
    session.execute(
        sa.insert(month_t).values(
            month=date(2026, 4, 1),
            unit_id=u.id,
            field_id=land,
            valid=7,
            satisfied=7,
            misuse=0,
            **{**zeros, "level_3": 7},
        )
    )  # invented
    session.execute(
        sa.update(month_t)
        .where(month_t.c.unit_id == u.id, month_t.c.month == date(2026, 3, 1), month_t.c.field_id == land)
        .values(level_4=1)
    )  # drifted
    assert indices_report(session, u, "2026-03-05..2026-03-06", "field").overall.n == 6  # the day rollup is wrong now

    report = rebuild(session=session)
    assert report.fixed == 4
    assert {t: (x.keys, x.added, x.removed) for t, x in report.totals.items() if x.keys} == {
        "rating_rollup": (1, 0, 3),
        "rating_reason_rollup": (1, 1, 0),
        "rating_month_rollup": (2, 0, 7),
    }
    lines = describe(session, report.differences)
    assert any(
        "rating_rollup unit=RB1 day=2026-03-05 counter=RB1-Q1 field=land officer=- channel=kiosk level=4" in line
        and line.endswith(": 5 → 2 (-3)")
        for line in lines
    ), lines
    assert any(
        line.startswith("rating_reason_rollup") and "reason=fees" in line and ": 0 → 1 (+1)" in line for line in lines
    )
    assert (
        "rating_month_rollup month=2026-04-01 unit=RB1 field=land: valid 7 → 0, satisfied 7 → 0, level_3 7 → 0" in lines
    )
    assert "rating_month_rollup month=2026-03-01 unit=RB1 field=land: level_4 1 → 2" in lines

    assert rebuild(session=session).fixed == 0
    assert indices_report(session, u, "2026-03", "field") == before
    assert indices_report(session, u, "2026-03-05..2026-03-06", "field").overall.n == 3

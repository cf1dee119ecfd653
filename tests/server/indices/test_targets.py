"""Targets: listing and setting milestones, and reports following them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from server.errors import Invalid
from server.indices.periods import parse_period
from server.indices.service import compute_indices
from server.indices.targets import list_targets, set_target
from server.models import AuditLog
from tests import factories

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.mark.parametrize(
    ("group", "year", "threshold", "message"),
    [
        ("lci", 2025, 0.0, "threshold must be a fraction above 0"),
        ("lci", 2025, 1.0001, "threshold must be a fraction above 0"),
        ("lci", 2025, float("nan"), "threshold must be a fraction above 0"),
        ("lci", 1999, 0.8, "year must be between 2000 and 2100"),
        ("nope", 2025, 0.8, "unknown target group 'nope'; known groups: all, lci, health_education"),
    ],
)
def test_bad_targets_are_refused(session: Session, group: str, year: int, threshold: float, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        set_target(session=session, group=group, year=year, threshold=threshold)


def test_a_new_milestone_applies_from_its_year(session: Session) -> None:
    assert set_target(session=session, group="lci", year=2027, threshold=0.82) is None
    assert set_target(session=session, group="lci", year=2027, threshold=1.0) == 0.82
    lines = [(t.group, t.year_from, t.threshold) for t in list_targets(session=session) if t.group == "lci"]
    assert lines == [("lci", 2025, 0.8), ("lci", 2027, 1.0), ("lci", 2030, 0.85)]
    audits = session.exec(select(AuditLog).where(AuditLog.action == "target.set")).all()
    assert [(a.target, a.detail) for a in audits] == [("lci:2027", "None → 0.82"), ("lci:2027", "0.82 → 1.0")]
    u = factories.unit(session)
    factories.rating(session, factories.counter(session, u), level=4, at=datetime(2027, 5, 1, 9, tzinfo=HCM))

    def land(period: str) -> float | None:
        report = compute_indices(session=session, unit=u, period=parse_period(period), by="field", min_sample=1, tz=HCM)
        return next(r.target for r in report.rows if r.key == "land")

    assert (land("2026-05"), land("2027-05"), land("2030-05")) == (0.8, 1.0, 0.85)

"""Targets (milestones) per target group: list them and set one (`hailong targets ...`).

The resolution's defaults are loaded by migration 0002; a year uses the latest milestone at or before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlmodel import Session, col, select

from server.auth.service import audit
from server.errors import Invalid
from server.models import Target, TargetGroup

MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class TargetLine:
    """One milestone as listed."""

    group: str
    group_name: str
    year_from: int
    threshold: float


def list_targets(*, session: Session) -> list[TargetLine]:
    """Every milestone, by group (all, lci, health_education, then others) and year."""
    groups = {g.id: g for g in session.exec(select(TargetGroup)).all()}
    order = {"all": 0, "lci": 1, "health_education": 2}
    lines = [
        TargetLine(groups[t.group_id].code, groups[t.group_id].name_vi, t.year_from, t.threshold)
        for t in session.exec(select(Target)).all()
    ]
    return sorted(lines, key=lambda line: (order.get(line.group, 9), line.group, line.year_from))


def set_target(*, session: Session, group: str, year: int, threshold: float, actor: str = "cli") -> float | None:
    """Set the milestone of `group` from `year` on (0 < threshold ≤ 1); returns the previous threshold, if any."""
    if not (0 < threshold <= 1) or math.isnan(threshold):
        raise Invalid(
            "threshold must be a fraction above 0 and at most 1 (0.9 for 90 %), not {threshold}", threshold=threshold
        )
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid("year must be between {low} and {high}, not {year}", low=MIN_YEAR, high=MAX_YEAR, year=year)
    row = session.exec(select(TargetGroup).where(TargetGroup.code == group)).first()
    if row is None:
        known = ", ".join(session.exec(select(TargetGroup.code).order_by(col(TargetGroup.id))).all())
        raise Invalid("unknown target group {group!r}; known groups: {known}", group=group, known=known)
    target = session.exec(select(Target).where(Target.group_id == row.id, Target.year_from == year)).first()
    previous = target.threshold if target else None
    if target is None:
        target = Target(group_id=row.id, year_from=year, threshold=threshold)  # type: ignore[arg-type]
        session.add(target)
    else:
        target.threshold = threshold
    audit(
        session=session, actor=actor, action="target.set", target=f"{group}:{year}", detail=f"{previous} → {threshold}"
    )
    session.flush()
    return previous

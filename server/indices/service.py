"""Satisfaction indices for a unit's subtree, a period and a grouping, aggregated in SQL.

The database does the counting (GROUP BY over ratings); Python only folds the small aggregated result (per key ×
level × flag) into rows and applies the pure arithmetic of `server.satisfaction`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.errors import Invalid
from server.indices.periods import Period
from server.indices.schemas import GROUPINGS, IndexRow, IndicesReport, ResponseRate
from server.models import (
    Counter,
    FieldGroup,
    Officer,
    ProcedureField,
    Rating,
    RatingReason,
    Reason,
    ScaleLevel,
    Target,
    TargetGroup,
    Unit,
    Visit,
)
from server.satisfaction import HORIZON_YEAR, rate, status, target_for, wilson_interval
from server.units.service import subtree_ids

CHANNEL_LABELS = {"kiosk": ("Màn hình cảm ứng", "Touch screen"), "phone": ("Điện thoại (mã QR)", "Phone (QR code)")}
GROUP_ORDER = ("all", "lci", "health_education")


@dataclass
class Tally:
    """Counts for one row while folding."""

    levels: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    satisfied: int = 0
    misuse: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def n(self) -> int:
        return sum(self.levels.values())

    def add(self, level: int, satisfied: bool, misuse: bool, count: int) -> None:
        if misuse:
            self.misuse += count
            return
        self.levels[level] += count
        if satisfied:
            self.satisfied += count


@dataclass(frozen=True)
class Reference:
    """Reference data a report needs, read once per report."""

    levels: list[int]
    fields: dict[int, ProcedureField]
    groups: dict[str, TargetGroup]
    field_groups: dict[int, list[str]]
    milestones: dict[str, list[tuple[int, float]]]

    def target(self, group: str, year: int) -> float | None:
        return target_for(self.milestones.get(group, []), year)

    def field_group_for_target(self, field_id: int, year: int) -> str:
        """The group whose target a field row takes: the lowest of its groups', or `all` when it has none."""
        groups = self.field_groups.get(field_id, [])
        if not groups:
            return "all"
        return min(groups, key=lambda g: (self.target(g, year) if self.target(g, year) is not None else 2.0, g))


def load_reference(session: Session) -> Reference:
    """Scale, fields, groups and milestones."""
    groups = {g.code: g for g in session.exec(select(TargetGroup)).all()}
    by_id = {g.id: g.code for g in groups.values()}
    field_groups: dict[int, list[str]] = defaultdict(list)
    for link in session.exec(select(FieldGroup)).all():
        field_groups[link.field_id].append(by_id[link.group_id])
    milestones: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for t in session.exec(select(Target)).all():
        milestones[by_id[t.group_id]].append((t.year_from, t.threshold))
    return Reference(
        levels=sorted(session.exec(select(ScaleLevel.level)).all()),
        fields={f.id: f for f in session.exec(select(ProcedureField).order_by(col(ProcedureField.sort_order))).all()},  # type: ignore[misc]
        groups=groups,
        field_groups=dict(field_groups),
        milestones=dict(milestones),
    )


def _key_column(by: str | None) -> Any:
    return {
        None: sa.literal("overall"),
        "field": Rating.field_id,
        "group": Rating.field_id,
        "unit": Rating.unit_id,
        "counter": Rating.counter_id,
        "officer": Rating.officer_id,
        "channel": Rating.channel,
        "month": Rating.local_date,
    }[by]


def _conditions(unit: Unit, period: Period) -> list[Any]:
    return [
        col(Rating.unit_id).in_(subtree_ids(unit)),
        col(Rating.local_date) >= period.start,
        col(Rating.local_date) < period.end,
    ]


def fetch_counts(
    session: Session, unit: Unit, period: Period, by: str | None
) -> Iterable[tuple[Any, int, bool, bool, int]]:
    """(key, level, satisfied, misuse, count) for every combination present in the period."""
    key = _key_column(by).label("key")
    stmt = (
        sa.select(key, col(Rating.level), col(Rating.satisfied), col(Rating.misuse), sa.func.count())
        .where(*_conditions(unit, period))
        .group_by(key, col(Rating.level), col(Rating.satisfied), col(Rating.misuse))
    )
    return [tuple(r) for r in session.execute(stmt).all()]


def fetch_reasons(session: Session, unit: Unit, period: Period, by: str | None) -> Iterable[tuple[Any, str, int]]:
    """(key, reason code, count) over valid ratings."""
    key = _key_column(by).label("key")
    stmt = (
        sa.select(key, col(Reason.code), sa.func.count())
        .select_from(Rating)
        .join(RatingReason, col(RatingReason.rating_id) == Rating.id)
        .join(Reason, col(Reason.id) == RatingReason.reason_id)
        .where(*_conditions(unit, period), col(Rating.misuse).is_(False))
        .group_by(key, col(Reason.code))
    )
    return [tuple(r) for r in session.execute(stmt).all()]


def _month_of(value: Any) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day.year:04d}-{day.month:02d}"


def compute_indices(
    *, session: Session, unit: Unit, period: Period, by: str | None, min_sample: int, tz: ZoneInfo
) -> IndicesReport:
    """The report for `unit` and its whole subtree over `period`, grouped `by` (None: overall only)."""
    if by is not None and by not in GROUPINGS:
        raise Invalid(f"by={by!r} is not valid: use one of {', '.join(GROUPINGS)}")
    ref = load_reference(session)
    year = period.target_year

    # Keys of the rows, fold function from the SQL key to row keys, and labels/targets per row key.
    mapping, rows_meta = _row_layout(session, ref, unit, period, by)

    overall = Tally()
    tallies: dict[str, Tally] = {k: Tally() for k in rows_meta}
    for raw_key, level, satisfied, misuse, count in fetch_counts(session, unit, period, by):
        overall.add(level, bool(satisfied), bool(misuse), count)
        for row_key in mapping(raw_key):
            tallies.setdefault(row_key, Tally()).add(level, bool(satisfied), bool(misuse), count)
    for raw_key, reason_code, count in fetch_reasons(session, unit, period, by):
        overall.reasons[reason_code] += count
        for row_key in mapping(raw_key):
            tallies.setdefault(row_key, Tally()).reasons[reason_code] += count

    def build(key: str, label: str, label_en: str, group: str, tally: Tally, target_year: int) -> IndexRow:
        r = rate(tally.satisfied, tally.n)
        interval = wilson_interval(tally.satisfied, tally.n)
        target = ref.target(group, target_year)
        return IndexRow(
            key=key,
            label=label,
            label_en=label_en,
            n=tally.n,
            satisfied=tally.satisfied,
            rate=r,
            ci_low=interval[0] if interval else None,
            ci_high=interval[1] if interval else None,
            target=target,
            target_2030=ref.target(group, HORIZON_YEAR),
            status=status(r, tally.n, target, min_sample),
            misuse=tally.misuse,
            levels={str(lv): tally.levels.get(lv, 0) for lv in sorted(ref.levels, reverse=True)},
            reasons=dict(sorted(tally.reasons.items())),
        )

    rows = []
    for key, (label, label_en, group, target_year) in rows_meta.items():
        rows.append(build(key, label, label_en, group, tallies[key], target_year))
    for key in tallies.keys() - rows_meta.keys():  # e.g. an officer of another unit who served here
        rows.append(build(key, key, key, "all", tallies[key], year))

    return IndicesReport(
        period=period.code,
        unit=unit.code,
        by=by,
        min_sample=min_sample,
        timezone=str(tz),
        overall=build(unit.code, unit.name, unit.name, "all", overall, year),
        rows=rows,
        response_rate=response_rate(session=session, unit=unit, period=period, tz=tz),
    )


def _row_layout(
    session: Session, ref: Reference, unit: Unit, period: Period, by: str | None
) -> tuple[Any, dict[str, tuple[str, str, str, int]]]:
    """How SQL keys map to row keys, and each row's (label, label_en, target group, target year), in display order."""
    year = period.target_year
    meta: dict[str, tuple[str, str, str, int]] = {}
    if by is None:
        return (lambda _k: ()), meta
    if by == "field":
        codes = {fid: f.code for fid, f in ref.fields.items()}
        for fid, f in ref.fields.items():
            meta[f.code] = (f.name_vi, f.name_en, ref.field_group_for_target(fid, year), year)
        return (lambda k: (codes[k],)), meta
    if by == "group":
        for code in sorted(ref.groups, key=lambda c: (GROUP_ORDER.index(c) if c in GROUP_ORDER else 99, c)):
            g = ref.groups[code]
            meta[code] = (g.name_vi, g.name_en, code, year)
        groups_of = {fid: ("all", *[g for g in ref.field_groups.get(fid, []) if g != "all"]) for fid in ref.fields}
        return (lambda k: groups_of.get(k, ("all",))), meta
    if by == "unit":
        kids = session.exec(select(Unit).where(Unit.parent_id == unit.id).order_by(col(Unit.code))).all()
        for kid in kids:
            meta[kid.code] = (kid.name, kid.name, "all", year)
        meta[unit.code] = (unit.name, unit.name, "all", year)  # ratings at the unit itself, not below
        paths: dict[int, str] = dict(
            session.execute(sa.select(col(Unit.id), col(Unit.path)).where(col(Unit.id).in_(subtree_ids(unit)))).all()
        )
        owner: dict[int, str] = {}
        for uid, path in paths.items():
            owner[uid] = next((k.code for k in kids if path.startswith(k.path)), unit.code)
        return (lambda k: (owner[k],)), meta
    if by == "counter":
        counters = session.exec(
            select(Counter).where(col(Counter.unit_id).in_(subtree_ids(unit))).order_by(col(Counter.code))
        ).all()
        codes = {int(c.id or 0): c.code for c in counters}
        for c in counters:
            meta[c.code] = (c.name, c.name, "all", year)
        return (lambda k: (codes[k],)), meta
    if by == "officer":
        officers = session.exec(select(Officer)).all()
        codes = {int(o.id or 0): o.code for o in officers}
        in_tree = set(session.exec(select(Officer.id).where(col(Officer.unit_id).in_(subtree_ids(unit)))).all())
        for o in sorted(officers, key=lambda o: o.code):
            if o.id in in_tree:
                meta[o.code] = (o.name, o.name, "all", year)
        return (lambda k: (codes[k],) if k is not None else ()), meta
    if by == "channel":
        for code, (vi, en) in CHANNEL_LABELS.items():
            meta[code] = (vi, en, "all", year)
        return (lambda k: (k,)), meta
    # month
    for month in period.months():
        y, m = int(month[:4]), int(month[5:])
        meta[month] = (f"Tháng {m}/{y}", f"{date(y, m, 1):%B %Y}", "all", y)
    return (lambda k: (_month_of(k),)), meta


def response_rate(*, session: Session, unit: Unit, period: Period, tz: ZoneInfo) -> ResponseRate:
    """Visits registered at counters of the subtree in the period, and how many of them were rated."""
    start, end = period.instants(tz)
    stmt = (
        sa.select(sa.func.count(), sa.func.count(col(Visit.rated_at)))
        .select_from(Visit)
        .join(Counter, col(Counter.id) == Visit.counter_id)
        .where(col(Counter.unit_id).in_(subtree_ids(unit)), col(Visit.created_at) >= start, col(Visit.created_at) < end)
    )
    visits, rated = session.execute(stmt).one()
    return ResponseRate(visits=visits, rated=rated, rate=(rated / visits) if visits else None)

"""Satisfaction indices for a unit's subtree, a period and a grouping, aggregated in SQL.

The database does the counting; Python only folds the small aggregated result (per key × level × flags) into rows
and applies the pure arithmetic of `server.satisfaction`. Reports read the rollup tables (kept exact by triggers,
see `server.indices.rollups`). When the period is whole months and the grouping needs nothing finer than unit and
field, they read the subtree month rollup, whose rows already count a unit's whole subtree: the unit's own ~14 rows
per month (by=unit: its children's rows, plus the unit's own leaf rows for the ratings given at the unit itself).
Otherwise they read the day rollup, every unit of the subtree. `source="raw"` counts the raw ratings instead: the
reference the tests and the benchmark compare the rollups with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.errors import Invalid
from server.indices.periods import Period
from server.indices.rollups import NO_OFFICER, apply_pending, month_of
from server.indices.schemas import GROUPINGS, IndexRow, IndicesReport, ResponseRate
from server.models import (
    MONTH_ROLLUP_LEVELS,
    Counter,
    FieldGroup,
    Officer,
    ProcedureField,
    Rating,
    Reason,
    ScaleLevel,
    Target,
    TargetGroup,
    Unit,
    Visit,
)
from server.satisfaction import HORIZON_YEAR, rate, status, target_for, wilson_interval
from server.tables import (
    DAY_REASON_ROLLUP,
    DAY_ROLLUP,
    LEAF_MONTH,
    LEAF_REASON_MONTH,
    RATING,
    RATING_REASON,
    SUBTREE_MONTH,
    SUBTREE_REASON_MONTH,
)
from server.units.service import subtree_ids

CHANNEL_LABELS = {"kiosk": ("Màn hình cảm ứng", "Touch screen"), "phone": ("Điện thoại (mã QR)", "Phone (QR code)")}
GROUP_ORDER = ("all", "lci", "health_education")

#: Where counts come from: the rollup tables (reports) or the raw ratings (the reference for tests and benchmarks).
Source = Literal["rollup", "raw"]
#: Groupings the subtree month rollup can answer (it has no counter, officer or channel).
MONTHLY_GROUPINGS = (None, "field", "group", "unit", "month")


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

    def add(self, counts: Counts) -> None:
        for level, count in counts.levels.items():
            self.levels[level] += count
        self.satisfied += counts.satisfied
        self.misuse += counts.misuse


@dataclass(frozen=True)
class Counts:
    """Counts under one SQL key: valid ratings per level, valid satisfied ones, misuse."""

    key: Any
    levels: dict[int, int]
    satisfied: int
    misuse: int


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


# --- where the counts come from -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountSource:
    """A table to count from: its columns for keys, the date column, and the count expression."""

    kind: Literal["raw", "day", "subtree"]
    counts: Any  # the table of (key, level, satisfied, misuse) rows
    reasons: Any  # a FROM clause with unit_id, field_id, ..., reason code, restricted to valid ratings
    reason_valid: Any  # extra WHERE for reasons (raw: misuse excluded; rollups hold valid ratings only)

    def date_column(self, table: Any) -> Any:
        return table.c.local_date if self.kind == "raw" else table.c.day if self.kind == "day" else table.c.month

    def count(self, table: Any) -> Any:
        return sa.func.count() if self.kind == "raw" else sa.func.sum(table.c.n)


def period_months(period: Period) -> list[date]:
    """The first days of the months the period touches: the month rollups' keys, listed so that their primary key
    (month first) is probed month by month instead of scanned across every unit of a range of months."""
    return [date(int(m[:4]), int(m[5:]), 1) for m in period.months()]


def is_whole_months(period: Period) -> bool:
    """Whether the period starts on a first day and ends before one (months, quarters, years, aligned ranges)."""
    return period.start.day == 1 and period.end.day == 1


def choose_source(period: Period, by: str | None, source: Source, levels: Iterable[int] = (1, 2, 3, 4)) -> CountSource:
    """The cheapest table that answers `by` over `period` exactly for a scale with these `levels`."""
    if source == "raw":
        r = RATING
        x = RATING_REASON
        return CountSource("raw", r, x.join(r, r.c.id == x.c.rating_id), r.c.misuse.is_(False))
    if source != "rollup":
        raise ValueError(f"unknown source {source!r}")
    if is_whole_months(period) and by in MONTHLY_GROUPINGS and set(levels) <= set(MONTH_ROLLUP_LEVELS):
        return CountSource("subtree", SUBTREE_MONTH, SUBTREE_REASON_MONTH, sa.true())
    return CountSource("day", DAY_ROLLUP, DAY_REASON_ROLLUP, sa.true())


#: The leaf month rollups: counts of the ratings given at one unit, not below it.

_KEY_COLUMNS = {
    "field": "field_id",
    "group": "field_id",
    "unit": "unit_id",
    "counter": "counter_id",
    "officer": "officer_id",
    "channel": "channel",
}


def _key_column(src: CountSource, table: Any, by: str, dialect: str) -> Any:
    if by == "month":
        return table.c.month if src.kind == "subtree" else month_of(src.date_column(table), dialect)
    if by == "officer" and src.kind != "raw":
        return sa.func.nullif(table.c.officer_id, NO_OFFICER)
    return table.c[_KEY_COLUMNS[by]]


def fetch_counts(
    session: Session,
    unit: Unit,
    period: Period,
    by: str | None,
    source: Source = "rollup",
    levels: Iterable[int] = (1, 2, 3, 4),
    field_id: int | None = None,
) -> list[Counts]:
    """Counts per SQL key (the field id, unit id, … that `by` groups on; None for the overall figures), of one
    field only when `field_id` is given."""
    levels = sorted(levels)
    src = choose_source(period, by, source, levels)
    dialect = session.get_bind().dialect.name
    if src.kind == "subtree":  # one row per month × unit × field, levels as columns
        sums = ["satisfied", "misuse", *[f"level_{lv}" for lv in levels]]
        stmt = _subtree_rows(src, unit, period, by, dialect, sums, field_id=field_id)
        out = []
        for k, satisfied, misuse, *per_level in session.execute(stmt):
            by_level = {lv: int(c) for lv, c in zip(levels, per_level, strict=True) if c}
            out.append(Counts(k, by_level, int(satisfied or 0), int(misuse or 0)))  # no rows: one row of NULLs
        return out
    t = src.counts
    dates = src.date_column(t)
    key = _key_column(src, t, by, dialect).label("key") if by else sa.null().label("key")
    where: tuple[Any, ...] = (t.c.unit_id.in_(subtree_ids(unit)), dates >= period.start, dates < period.end)
    if field_id is not None:
        where += (t.c.field_id == field_id,)
    group = [key] if by else []
    dims = [t.c.level, t.c.satisfied, t.c.misuse]
    stmt = sa.select(key, *dims, src.count(t)).where(*where).group_by(*group, *dims)
    out = []
    for k, level, satisfied, misuse, n in session.execute(stmt):
        n = int(n)
        if misuse:
            out.append(Counts(k, {}, 0, n))
        else:
            out.append(Counts(k, {int(level): n}, n if satisfied else 0, 0))
    return out


def fetch_reasons(
    session: Session,
    unit: Unit,
    period: Period,
    by: str | None,
    source: Source = "rollup",
    levels: Iterable[int] = (1, 2, 3, 4),
    field_id: int | None = None,
) -> Iterable[tuple[Any, str, int]]:
    """(key, reason code, count) over valid ratings (key None: overall), of one field when `field_id` is given."""
    src = choose_source(period, by, source, levels)
    dialect = session.get_bind().dialect.name
    if src.kind == "subtree":
        rows = _subtree_rows(src, unit, period, by, dialect, ["n"], reasons=True, field_id=field_id).subquery(
            "subtree_rows"
        )
        stmt = (
            sa.select(rows.c.key, col(Reason.code), sa.func.sum(rows.c.n))
            .select_from(rows)
            .join(Reason, col(Reason.id) == rows.c.reason_id)
            .group_by(rows.c.key, col(Reason.code))
        )
        return [(k, str(code), int(n)) for k, code, n in session.execute(stmt)]
    # The key and date columns of the reason source: the rating's for raw, the day rollup's otherwise.
    t = src.counts if src.kind == "raw" else src.reasons
    reason_id = RATING_REASON.c.reason_id if src.kind == "raw" else t.c.reason_id
    dates = src.date_column(t)
    key = _key_column(src, t, by, dialect).label("key") if by else sa.null().label("key")
    stmt = (
        sa.select(key, col(Reason.code), src.count(t))
        .select_from(src.reasons)
        .join(Reason, col(Reason.id) == reason_id)
        .where(t.c.unit_id.in_(subtree_ids(unit)), dates >= period.start, dates < period.end, src.reason_valid)
        .group_by(*([key] if by else []), col(Reason.code))
    )
    if field_id is not None:
        stmt = stmt.where(t.c.field_id == field_id)
    return [(k, str(code), int(n)) for k, code, n in session.execute(stmt)]


def _subtree_rows(
    src: CountSource,
    unit: Unit,
    period: Period,
    by: str | None,
    dialect: str,
    sums: list[str],
    reasons: bool = False,
    field_id: int | None = None,
) -> Any:
    """Sums of `sums` per key (and reason) over the subtree month rollups: the unit's own rows, which count its
    whole subtree; for by=unit each child's rows (its subtree) and the unit's own leaf rows (the ratings given at
    the unit itself, not below), keyed by unit id."""
    t, leaf = (src.reasons, LEAF_REASON_MONTH) if reasons else (src.counts, LEAF_MONTH)
    extra = ["reason_id"] if reasons else []

    def part(table: Any, units: Any, group: list[Any]) -> Any:
        key = _key_column(src, table, by, dialect) if by else sa.null()
        return (
            sa.select(key.label("key"), *[table.c[c] for c in extra], *[sa.func.sum(table.c[c]).label(c) for c in sums])
            .where(units, table.c.month.in_(period_months(period)))
            .where(*([table.c.field_id == field_id] if field_id is not None else []))
            .group_by(*group, *[table.c[c] for c in extra])
        )

    if by == "unit":
        children = sa.select(col(Unit.id)).where(col(Unit.parent_id) == unit.id)
        return sa.union_all(
            part(t, t.c.unit_id.in_(children), [t.c.unit_id]),
            part(leaf, leaf.c.unit_id == unit.id, [leaf.c.unit_id]),
        )
    return part(t, t.c.unit_id == unit.id, [_key_column(src, t, by, dialect)] if by else [])


def _month_of(value: Any) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day.year:04d}-{day.month:02d}"


# --- the report -----------------------------------------------------------------------------------------------------


def compute_indices(
    *,
    session: Session,
    unit: Unit,
    period: Period,
    by: str | None,
    min_sample: int,
    tz: ZoneInfo,
    source: Source = "rollup",
    field_id: int | None = None,
) -> IndicesReport:
    """The report for `unit` and its whole subtree over `period`, grouped `by` (None: overall only).

    With `field_id`, only that field's ratings count (a field's figures per child unit or per month) and every row
    takes the field's target; the response rate stays the unit's (visits are counted over all fields)."""
    if by is not None and by not in GROUPINGS:
        raise Invalid("by={by!r} is not valid: use one of {groupings}", by=by, groupings=", ".join(GROUPINGS))
    ref = load_reference(session)
    if choose_source(period, by, source, ref.levels).kind == "subtree":
        apply_pending(session)
    year = period.target_year
    layout = _row_layout(session, ref, unit, period, by)

    overall = Tally()
    tallies: dict[str, Tally] = {k: Tally() for k in layout.meta}
    for counts in fetch_counts(session, unit, period, by, source, ref.levels, field_id):
        overall.add(counts)
        for row_key in layout.mapping(counts.key):
            tallies.setdefault(row_key, Tally()).add(counts)
    for raw_key, reason_code, count in fetch_reasons(session, unit, period, by, source, ref.levels, field_id):
        overall.reasons[reason_code] += count
        for row_key in layout.mapping(raw_key):
            tallies.setdefault(row_key, Tally()).reasons[reason_code] += count

    def build(key: str, label: str, label_en: str, group: str, tally: Tally, target_year: int) -> IndexRow:
        if field_id is not None:
            group = ref.field_group_for_target(field_id, target_year)
        return index_row(ref, key, label, label_en, group, tally, target_year, min_sample)

    rows = [
        build(key, label, label_en, group, tallies[key], y) for key, (label, label_en, group, y) in layout.meta.items()
    ]
    # Keys outside the listed ones: an officer of another unit who served here, a counter since moved elsewhere.
    for key in sorted(tallies.keys() - layout.meta.keys()):
        label, label_en = layout.other_labels.get(key, (key, key))
        rows.append(build(key, label, label_en, "all", tallies[key], year))

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


def index_row(
    ref: Reference,
    key: str,
    label: str,
    label_en: str,
    group: str,
    tally: Tally,
    target_year: int,
    min_sample: int,
) -> IndexRow:
    """One row of a report: counts, rate, Wilson interval, target of `group` in `target_year`, status."""
    r = rate(tally.satisfied, tally.n)
    interval = wilson_interval(tally.satisfied, tally.n)
    target = ref.target(group, target_year)
    # Built from counts computed here, so pydantic's validation would only cost time (15,000 rows for the country).
    return IndexRow.model_construct(
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


@dataclass
class RowLayout:
    """How SQL keys map to row keys, the listed rows' (label, label_en, target group, target year) in display
    order, and labels for rows that turn up without being listed."""

    mapping: Callable[[Any], tuple[str, ...]]
    meta: dict[str, tuple[str, str, str, int]]
    other_labels: dict[str, tuple[str, str]] = field(default_factory=dict)


def _row_layout(session: Session, ref: Reference, unit: Unit, period: Period, by: str | None) -> RowLayout:
    year = period.target_year
    meta: dict[str, tuple[str, str, str, int]] = {}
    if by is None:
        return RowLayout(lambda _k: (), meta)
    if by == "field":
        field_codes = {fid: f.code for fid, f in ref.fields.items()}
        for fid, f in ref.fields.items():
            meta[f.code] = (f.name_vi, f.name_en, ref.field_group_for_target(fid, year), year)
        return RowLayout(lambda k: (field_codes[k],), meta)
    if by == "group":
        for code in sorted(ref.groups, key=lambda c: (GROUP_ORDER.index(c) if c in GROUP_ORDER else 99, c)):
            g = ref.groups[code]
            meta[code] = (g.name_vi, g.name_en, code, year)
        groups_of = {fid: ("all", *[g for g in ref.field_groups.get(fid, []) if g != "all"]) for fid in ref.fields}
        return RowLayout(lambda k: groups_of.get(k, ("all",)), meta)
    if by == "unit":
        kids = session.exec(select(Unit).where(Unit.parent_id == unit.id).order_by(col(Unit.code))).all()
        for kid in kids:
            meta[kid.code] = (kid.name, kid.name, "all", year)
        meta[unit.code] = (unit.name, unit.name, "all", year)  # ratings at the unit itself, not below
        owner: dict[int, str] = {int(k.id or 0): k.code for k in kids} | {int(unit.id or 0): unit.code}

        def owner_of(unit_id: int) -> tuple[str]:
            """The child whose subtree holds `unit_id` (the subtree rollup keys by child already; the day rollup
            and raw ratings key by the unit rated, found here from the paths, read once)."""
            if unit_id not in owner:
                # A descendant's path continues the unit's path with its child's id: "/1/7/" + "42/…" → child 42.
                kid_codes = {str(k.id): k.code for k in kids}
                depth = len(unit.path)
                paths = sa.select(col(Unit.id), col(Unit.path)).where(col(Unit.id).in_(subtree_ids(unit)))
                for uid, path in session.execute(paths):
                    owner.setdefault(uid, kid_codes.get(path[depth:].split("/", 1)[0], unit.code))
            return (owner[unit_id],)

        return RowLayout(owner_of, meta)
    if by in ("counter", "officer"):
        model: Any = Counter if by == "counter" else Officer
        # Every counter/officer by id: a rating keeps the unit it was given at, while its counter may have moved
        # since, and an officer may serve at another unit's desk.
        everyone = {
            int(i): (str(c), str(name), int(u))
            for i, c, name, u in session.execute(sa.select(model.id, model.code, model.name, model.unit_id))
        }
        in_tree = set(session.execute(subtree_ids(unit)).scalars())
        for _id, (code, name, unit_id) in sorted(everyone.items(), key=lambda item: item[1][0]):
            if unit_id in in_tree:
                meta[code] = (name, name, "all", year)
        other = {code: (name, name) for code, name, _ in everyone.values()}
        return RowLayout(lambda k: (everyone[k][0],) if k is not None else (), meta, other)
    if by == "channel":
        for code, (vi, en) in CHANNEL_LABELS.items():
            meta[code] = (vi, en, "all", year)
        return RowLayout(lambda k: (k,), meta)
    # month
    for month in period.months():
        y, m = int(month[:4]), int(month[5:])
        meta[month] = (f"Tháng {m}/{y}", f"{date(y, m, 1):%B %Y}", "all", y)
    return RowLayout(lambda k: (_month_of(k),), meta)


def response_rate(*, session: Session, unit: Unit, period: Period, tz: ZoneInfo) -> ResponseRate:
    """Visits registered at counters of the subtree in the period, and how many of them have a rating."""
    start, end = period.instants(tz)
    # "Rated" is read from the ratings themselves (one per visit, unique), not from a flag on the visit that
    # every ingest path would have to remember to set.
    rated = sa.exists().where(col(Rating.visit_id) == col(Visit.id))
    stmt = (
        sa.select(sa.func.count(), sa.func.count(sa.case((rated, 1))))
        .select_from(Visit)
        .join(Counter, col(Counter.id) == Visit.counter_id)
        .where(col(Counter.unit_id).in_(subtree_ids(unit)), col(Visit.created_at) >= start, col(Visit.created_at) < end)
    )
    visits, n_rated = session.execute(stmt).one()
    return ResponseRate(visits=visits, rated=n_rated, rate=(n_rated / visits) if visits else None)

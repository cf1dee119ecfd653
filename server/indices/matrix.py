"""Every unit of a subtree × every field over a period, each figure including the unit's whole subtree.

This is the national month report (rankings, "weakest units and fields"): 3,400 units × 14 fields. One SQL
statement returns one finished row per unit × field and per unit over all fields, reasons pivoted into columns.
For whole months it reads the subtree month rollups, whose rows already count each unit's whole subtree, and only
sums the fields of each unit (and the months of a quarter or year). For other ranges it reads the day rollup (the
raw ratings with `source="raw"`) and adds every unit's counts to each of its ancestors up to the root (pairs taken
from the materialised paths). Cells are kept as plain tuples; `Matrix.row` turns one into the API's `IndexRow`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from server.indices.periods import Period
from server.indices.rollups import apply_pending
from server.indices.schemas import IndexRow
from server.indices.service import (
    Reference,
    Source,
    Tally,
    choose_source,
    index_row,
    load_reference,
    period_months,
)
from server.models import RatingReason, Reason, Unit
from server.units.service import subtree_ids


@dataclass(frozen=True)
class Matrix:
    """Counts per (unit id, field id) with subtree totals; field id None is the unit over all fields.

    A cell is `(n, satisfied, misuse, *levels, *reasons)` in the order of `levels` and `reasons`; absent cells
    are zero. `reasons` is empty when the matrix was built without them.
    """

    period: Period
    root_id: int
    levels: tuple[int, ...]
    reasons: tuple[str, ...]
    units: dict[int, tuple[str, str]]  # id → (code, name), in tree order
    fields: dict[int, tuple[str, str, str]]  # id → (code, name_vi, name_en), in display order
    cells: dict[tuple[int, int | None], tuple[int, ...]]
    reference: Reference

    def cell(self, unit_id: int, field_id: int | None) -> tuple[int, ...]:
        """The counts of one unit (with its subtree) and field (None: all fields)."""
        return self.cells.get((unit_id, field_id)) or (0,) * (3 + len(self.levels) + len(self.reasons))

    def tally(self, unit_id: int, field_id: int | None) -> Tally:
        """A cell as a `Tally`."""
        c = self.cell(unit_id, field_id)
        tally = Tally(satisfied=c[1], misuse=c[2])
        for i, level in enumerate(self.levels):
            if c[3 + i]:
                tally.levels[level] = c[3 + i]
        for i, code in enumerate(self.reasons):
            if c[3 + len(self.levels) + i]:
                tally.reasons[code] = c[3 + len(self.levels) + i]
        return tally

    def row(self, unit_id: int, field_id: int | None, min_sample: int) -> IndexRow:
        """One cell as the API's row: key is the field code (the unit code for all fields), with target and status."""
        year = self.period.target_year
        if field_id is None:
            code, name = self.units[unit_id]
            return index_row(self.reference, code, name, name, "all", self.tally(unit_id, None), year, min_sample)
        code, name_vi, name_en = self.fields[field_id]
        group = self.reference.field_group_for_target(field_id, year)
        return index_row(self.reference, code, name_vi, name_en, group, self.tally(unit_id, field_id), year, min_sample)


def unit_field_matrix(
    *, session: Session, unit: Unit, period: Period, source: Source = "rollup", reasons: bool = True
) -> Matrix:
    """Every unit of `unit`'s subtree × every field over `period`, subtree totals included, in one query.

    `reasons=False` leaves reason counts out (rankings need n, satisfied, levels and misuse only): the query then
    reads a third of the rows.
    """
    ref = load_reference(session)
    r = Reason.__table__  # type: ignore[attr-defined]
    reason_list = (
        [(int(i), str(c)) for i, c in session.execute(sa.select(r.c.id, r.c.code).order_by(r.c.sort_order, r.c.id))]
        if reasons
        else []
    )
    src = choose_source(period, "field", source, ref.levels)
    u = Unit.__table__  # type: ignore[attr-defined]
    unit_rows = session.execute(
        sa.select(u.c.id, u.c.code, u.c.name, u.c.path).where(u.c.path.like(unit.path + "%")).order_by(u.c.path)
    ).all()
    if src.kind == "subtree":
        apply_pending(session)
        stmt = _stored_cells(src, unit, period, ref.levels, [rid for rid, _ in reason_list])
    else:
        dialect = session.get_bind().dialect.name
        stmt = _folded_cells(src, unit, unit_rows, period, ref.levels, [rid for rid, _ in reason_list], dialect)
    # Cell layout: (n, satisfied, misuse, *levels, *reasons); n = valid.
    # Through the Core connection, and the rows as the driver's plain tuples (only integers, nothing to convert):
    # building 15,000 Row objects, or slicing them, costs more than the query.
    result = session.connection().execute(stmt)
    try:
        rows = result.cursor.fetchall()  # one fetch, not 15,000 fetchone() calls
    finally:
        result.close()
    cells: dict[tuple[int, int | None], tuple[int, ...]] = {}
    if src.kind == "subtree":  # each unit over all fields: the sum of its fields' cells (cheaper here than in SQL)
        per_unit: dict[int, list[tuple[int, ...]]] = defaultdict(list)
        for row in rows:
            cell = row[2:]
            cells[row[0], row[1]] = cell
            per_unit[row[0]].append(cell)
        for unit_id, unit_cells in per_unit.items():
            cells[unit_id, None] = tuple(map(sum, zip(*unit_cells, strict=True)))
    else:
        cells = {(row[0], row[1]): row[2:] for row in rows}
    return Matrix(
        period=period,
        root_id=int(unit.id or 0),
        levels=tuple(ref.levels),
        reasons=tuple(code for _, code in reason_list),
        units={int(i): (str(code), str(name)) for i, code, name, _ in unit_rows},
        fields={fid: (f.code, f.name_vi, f.name_en) for fid, f in ref.fields.items()},
        cells=cells,
        reference=ref,
    )


def _stored_cells(src: Any, unit: Unit, period: Period, levels: list[int], reason_ids: list[int]) -> Any:
    """(unit_id, field_id, valid, satisfied, misuse, *levels, *reasons) per unit × field from the subtree month
    rollups, whose rows hold subtree totals already: nothing to add into ancestors. The months are listed (the
    primary key starts with the month); a single month needs no grouping."""
    months = period_months(period)
    t, rt = src.counts, src.reasons

    def sums(columns: list[Any], names: list[str]) -> list[Any]:
        if len(months) == 1:
            return [c.label(n) for c, n in zip(columns, names, strict=True)]
        return [sa.cast(sa.func.sum(c), sa.Integer).label(n) for c, n in zip(columns, names, strict=True)]

    level_names = [f"l{i}" for i in range(len(levels))]
    count_columns = [t.c.valid, t.c.satisfied, t.c.misuse, *[t.c[f"level_{lv}"] for lv in levels]]
    counts = sa.select(t.c.unit_id, t.c.field_id, *sums(count_columns, ["valid", "sat", "mis", *level_names])).where(
        t.c.unit_id.in_(subtree_ids(unit)), t.c.month.in_(months)
    )
    if len(months) > 1:
        counts = counts.group_by(t.c.unit_id, t.c.field_id)
    if not reason_ids:
        return counts
    # Reasons pivoted into one column each, per unit × field (a unit × field without reasons has no row).
    reason_names = [f"r{i}" for i in range(len(reason_ids))]
    pivoted = (
        sa.select(
            rt.c.unit_id,
            rt.c.field_id,
            *[_total(rt.c.reason_id == rid, rt.c.n).label(n) for rid, n in zip(reason_ids, reason_names, strict=True)],
        )
        .where(rt.c.unit_id.in_(subtree_ids(unit)), rt.c.month.in_(months))
        .group_by(rt.c.unit_id, rt.c.field_id)
        .subquery("reason_cells")
    )
    counted = counts.subquery("cells")
    same_cell = sa.and_(pivoted.c.unit_id == counted.c.unit_id, pivoted.c.field_id == counted.c.field_id)
    return sa.select(counted, *[sa.func.coalesce(pivoted.c[n], 0) for n in reason_names]).select_from(
        counted.outerjoin(pivoted, same_cell)
    )


def _folded_cells(
    src: Any, unit: Unit, unit_rows: Any, period: Period, levels: list[int], reason_ids: list[int], dialect: str
) -> Any:
    """The cells counted per unit from the day rollup (or the raw ratings), then added into every ancestor through
    the (unit, ancestor) pairs of the paths, per field and over all fields (field_id NULL)."""
    raw = src.kind == "raw"
    in_period = _in_period(src, period)
    tree = _ancestor_pairs(unit, unit_rows)

    def fold(cells: Any, names: list[str]) -> Any:
        """Sum `cells` (unit_id, field_id, names…) into every ancestor, per field and over all fields."""
        ancestor = tree.c.ancestor_id
        sums = [sa.cast(sa.func.sum(cells.c[n]), sa.Integer).label(n) for n in names]
        joined = cells.join(tree, tree.c.unit_id == cells.c.unit_id)
        by_field = sa.select(ancestor.label("unit_id"), cells.c.field_id, *sums).select_from(joined)
        if dialect == "postgresql":  # one pass for both groupings
            sets = sa.func.grouping_sets(sa.tuple_(ancestor, cells.c.field_id), sa.tuple_(ancestor))
            return by_field.group_by(sets).subquery()
        all_fields = sa.select(ancestor.label("unit_id"), sa.cast(sa.null(), sa.Integer).label("field_id"), *sums)
        return sa.union_all(
            by_field.group_by(ancestor, cells.c.field_id), all_fields.select_from(joined).group_by(ancestor)
        ).subquery()

    # Counts per unit × field: valid, satisfied, misuse, then one column per level of the scale.
    t = src.counts
    level_names = [f"l{i}" for i in range(len(levels))]
    count_names = ["valid", "sat", "mis", *level_names]
    weight = sa.literal(1) if raw else t.c.n
    valid = t.c.misuse.is_(False)
    sums = [
        _total(valid, weight),
        _total(sa.and_(valid, t.c.satisfied.is_(True)), weight),
        _total(t.c.misuse.is_(True), weight),
        *[_total(sa.and_(valid, t.c.level == lv), weight) for lv in levels],
    ]
    cells = (
        sa.select(t.c.unit_id, t.c.field_id, *[c.label(n) for c, n in zip(sums, count_names, strict=True)])
        .where(t.c.unit_id.in_(subtree_ids(unit)), *in_period(t))
        .group_by(t.c.unit_id, t.c.field_id)
    )
    counts = fold(cells.subquery("cells"), count_names)
    if not reason_ids:
        return sa.select(counts)
    # Reason counts per unit × field, one column per reason, folded the same way.
    rt = src.counts if raw else src.reasons
    reason_id = RatingReason.__table__.c.reason_id if raw else rt.c.reason_id  # type: ignore[attr-defined]
    weight = sa.literal(1) if raw else rt.c.n
    reason_names = [f"r{i}" for i in range(len(reason_ids))]
    reason_cells = (
        sa.select(
            rt.c.unit_id,
            rt.c.field_id,
            *[_total(reason_id == rid, weight).label(n) for rid, n in zip(reason_ids, reason_names, strict=True)],
        )
        .select_from(src.reasons)
        .where(rt.c.unit_id.in_(subtree_ids(unit)), *in_period(rt), src.reason_valid)
        .group_by(rt.c.unit_id, rt.c.field_id)
        .subquery("reason_cells")
    )
    folded = fold(reason_cells, reason_names)
    same_cell = sa.and_(
        folded.c.unit_id == counts.c.unit_id,
        sa.func.coalesce(folded.c.field_id, 0) == sa.func.coalesce(counts.c.field_id, 0),
    )
    return sa.select(counts, *[sa.func.coalesce(folded.c[n], 0) for n in reason_names]).select_from(
        counts.outerjoin(folded, same_cell)
    )


def _ancestor_pairs(unit: Unit, unit_rows: Any) -> Any:
    """(unit, ancestor) for every unit of the subtree and each ancestor up to `unit`, itself included, from the
    materialised paths: an exact VALUES list (a recursive walk in SQL leaves the planner guessing its size)."""
    depth = unit.path.count("/") - 2  # index of the root in a path's list of ids
    pairs = [(int(i), int(a)) for i, _, _, path in unit_rows for a in path.strip("/").split("/")[depth:]]
    # Rendered as text (integers only): SQLAlchemy's VALUES construct takes longer to compile than the query to run.
    values = ", ".join(f"({i}, {a})" for i, a in pairs or [(0, 0)])
    return (
        # VALUES columns are column1, column2 on both databases (SQLite has no column list after an alias).
        sa.text(f"SELECT column1 AS unit_id, column2 AS ancestor_id FROM (VALUES {values}) AS pairs")
        .columns(sa.column("unit_id", sa.Integer), sa.column("ancestor_id", sa.Integer))
        .subquery("tree")
    )


def _total(condition: Any, weight: Any) -> Any:
    # int, not bigint: a count per cell fits, and sums of ints stay integer arithmetic (bigint sums are numeric).
    return sa.cast(sa.func.sum(sa.case((condition, weight), else_=0)), sa.Integer)


def _in_period(src: Any, period: Period) -> Any:
    def conditions(table: Any) -> list[Any]:
        column = src.date_column(table)
        return [column >= period.start, column < period.end]

    return conditions

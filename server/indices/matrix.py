"""Every unit of a subtree × every field over a period, each figure including the unit's whole subtree.

This is the national month report (rankings, "weakest units and fields"): 3,400 units × 14 fields. One SQL
statement reads the month rollup (the day rollup for ranges that are not whole months; the raw ratings with
`source="raw"`), pivots levels and reasons into columns, and adds every unit's counts to each of its ancestors up
to the root through a recursive walk of the tree, so the database returns one finished row per unit × field (and
per unit over all fields). Cells are kept as plain tuples; `Matrix.row` turns one into the API's `IndexRow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from server.indices.periods import Period
from server.indices.schemas import IndexRow
from server.indices.service import Reference, Source, Tally, choose_source, index_row, load_reference
from server.models import RatingReason, Reason, Unit
from server.units.service import subtree_ids


@dataclass(frozen=True)
class Matrix:
    """Counts per (unit id, field id) with subtree totals; field id None is the unit over all fields.

    A cell is `(n, satisfied, misuse, *levels, *reasons)` in the order of `levels` and `reasons`; absent cells
    are zero.
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


def unit_field_matrix(*, session: Session, unit: Unit, period: Period, source: Source = "rollup") -> Matrix:
    """Every unit of `unit`'s subtree × every field over `period`, subtree totals included, in one query."""
    ref = load_reference(session)
    r = Reason.__table__  # type: ignore[attr-defined]
    reasons = [
        (int(i), str(c)) for i, c in session.execute(sa.select(r.c.id, r.c.code).order_by(r.c.sort_order, r.c.id))
    ]
    src = choose_source(period, "field", source)
    raw = src.kind == "raw"
    in_period = _in_period(src, period)

    # Counts per unit × field in the period: n valid, satisfied, misuse, then one column per level.
    t = src.counts
    weight = sa.literal(1) if raw else t.c.n
    valid = t.c.misuse.is_(False)

    def total(condition: Any, w: Any = weight) -> Any:
        return sa.func.sum(sa.case((condition, w), else_=0))

    in_tree = t.c.unit_id.in_(subtree_ids(unit))
    counts = (
        sa.select(
            t.c.unit_id,
            t.c.field_id,
            total(valid).label("n"),
            total(sa.and_(valid, t.c.satisfied.is_(True))).label("sat"),
            total(t.c.misuse.is_(True)).label("mis"),
            *[total(sa.and_(valid, t.c.level == lv)).label(f"l{i}") for i, lv in enumerate(ref.levels)],
        )
        .where(in_tree, *in_period(t))
        .group_by(t.c.unit_id, t.c.field_id)
        .cte("cells")
    )

    # Reason counts per unit × field, one column per reason.
    rt = src.counts if raw else src.reasons
    reason_id = RatingReason.__table__.c.reason_id if raw else rt.c.reason_id  # type: ignore[attr-defined]
    reason_weight = sa.literal(1) if raw else rt.c.n
    by_reason = (
        sa.select(
            rt.c.unit_id,
            rt.c.field_id,
            *[total(reason_id == rid, reason_weight).label(f"r{i}") for i, (rid, _) in enumerate(reasons)],
        )
        .select_from(src.reasons)
        .where(rt.c.unit_id.in_(subtree_ids(unit)), *in_period(rt), src.reason_valid)
        .group_by(rt.c.unit_id, rt.c.field_id)
        .cte("reason_cells")
    )

    # (unit, ancestor) for every unit of the subtree and each ancestor up to the root, itself included.
    u = Unit.__table__  # type: ignore[attr-defined]
    tree = (
        sa.select(u.c.id.label("unit_id"), u.c.id.label("ancestor_id"))
        .where(u.c.path.like(unit.path + "%"))
        .cte("tree", recursive=True)
    )
    parent = u.alias("parent")
    tree = tree.union_all(
        sa.select(tree.c.unit_id, parent.c.parent_id)
        .select_from(tree.join(parent, parent.c.id == tree.c.ancestor_id))
        .where(tree.c.ancestor_id != unit.id)
    )

    value_names = ["n", "sat", "mis", *[f"l{i}" for i in range(len(ref.levels))]]
    reason_names = [f"r{i}" for i in range(len(reasons))]
    rolled = (
        sa.select(
            tree.c.ancestor_id.label("unit_id"),
            counts.c.field_id,
            *[counts.c[name] for name in value_names],
            *[sa.func.coalesce(by_reason.c[name], 0).label(name) for name in reason_names],
        )
        .select_from(
            counts.join(tree, tree.c.unit_id == counts.c.unit_id).outerjoin(
                by_reason,
                sa.and_(by_reason.c.unit_id == counts.c.unit_id, by_reason.c.field_id == counts.c.field_id),
            )
        )
        .cte("rolled")
    )
    sums = [sa.cast(sa.func.sum(rolled.c[name]), sa.BigInteger) for name in [*value_names, *reason_names]]
    stmt = sa.union_all(
        sa.select(rolled.c.unit_id, rolled.c.field_id, *sums).group_by(rolled.c.unit_id, rolled.c.field_id),
        sa.select(rolled.c.unit_id, sa.cast(sa.null(), sa.Integer), *sums).group_by(rolled.c.unit_id),
    )
    cells = {(row[0], row[1]): tuple(row[2:]) for row in session.execute(stmt)}

    units = {
        int(i): (str(code), str(name))
        for i, code, name in session.execute(
            sa.select(u.c.id, u.c.code, u.c.name).where(u.c.path.like(unit.path + "%")).order_by(u.c.path)
        )
    }
    fields = {fid: (f.code, f.name_vi, f.name_en) for fid, f in ref.fields.items()}
    return Matrix(
        period=period,
        root_id=int(unit.id or 0),
        levels=tuple(ref.levels),
        reasons=tuple(code for _, code in reasons),
        units=units,
        fields=fields,
        cells=cells,
        reference=ref,
    )


def _in_period(src: Any, period: Period) -> Any:
    def conditions(table: Any) -> list[Any]:
        column = src.date_column(table)
        return [column >= period.start, column < period.end]

    return conditions

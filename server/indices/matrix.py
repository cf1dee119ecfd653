"""Every unit of a subtree × every field over a period, each figure including the unit's whole subtree.

This is the national month report (rankings, "weakest units and fields"): 3,400 units × 14 fields. One SQL
statement returns one finished row per unit × field and per unit over all fields, reasons pivoted into columns.
For whole months it reads the subtree month rollups, whose rows already count each unit's whole subtree, and only
sums the fields of each unit (and the months of a quarter or year). For other ranges it reads the day rollup (the
raw ratings with `source="raw"`) and adds every unit's counts to each of its ancestors up to the root (pairs taken
from the materialised paths). Cells are kept as plain tuples; `Matrix.row` turns one into the API's `IndexRow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from server.indices.periods import Period
from server.indices.rollups import apply_pending
from server.indices.schemas import IndexRow
from server.indices.service import (
    SUBTREE_MONTH,
    SUBTREE_REASON_MONTH,
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
    dialect = session.get_bind().dialect
    reason_list = [(int(i), str(c)) for i, c in _rows(session, _prepared(_REASONS, dialect))] if reasons else []
    src = choose_source(period, "field", source, ref.levels)
    unit_rows = _rows(session, _prepared(_UNITS, dialect), {"subtree": unit.path + "%"})
    if src.kind == "subtree":
        apply_pending(session)
        months = period_months(period)
        stored = _stored_cells(dialect, len(months), tuple(ref.levels), tuple(rid for rid, _ in reason_list))
        params: dict[str, Any] = (
            # The ids as an array literal: psycopg dumps a list of 1,000 ints in Python, 10 times slower.
            {"unit_ids": "{" + ",".join(str(row[0]) for row in unit_rows) + "}"}
            if stored.sql is not None
            else {"subtree": unit.path + "%"}
        )
        params.update({"month": months[0]} if len(months) == 1 else {"months": months})
        rows = _rows(session, stored, params)
    else:
        stmt = _folded_cells(src, unit, unit_rows, period, ref.levels, [rid for rid, _ in reason_list], dialect.name)
        rows = _rows(session, _Statement(stmt))
    # Cell layout: (n, satisfied, misuse, *levels, *reasons); n = valid. The rows are the driver's plain tuples (only
    # integers, nothing to convert): building 15,000 Row objects, or slicing them in Python, costs more than the query.
    cells: dict[tuple[int, int | None], tuple[int, ...]] = dict(zip(map(_KEY, rows), map(_CELL, rows), strict=True))
    if src.kind == "subtree":  # each unit over all fields: the sum of its fields' cells (cheaper here than in SQL)
        rows.sort(key=_UNIT)
        for unit_id, unit_cells in groupby(rows, _UNIT):
            cells[unit_id, None] = tuple(map(sum, zip(*unit_cells, strict=True)))[2:]
    return Matrix(
        period=period,
        root_id=int(unit.id or 0),
        levels=tuple(ref.levels),
        reasons=tuple(code for _, code in reason_list),
        units={i: (code, name) for i, code, name, _ in unit_rows},
        fields={fid: (f.code, f.name_vi, f.name_en) for fid, f in ref.fields.items()},
        cells=cells,
        reference=ref,
    )


_KEY = itemgetter(0, 1)  # (unit_id, field_id) of a result row
_CELL = itemgetter(slice(2, None))  # its counts
_UNIT = itemgetter(0)
_u = Unit.__table__  # type: ignore[attr-defined]
_r = Reason.__table__  # type: ignore[attr-defined]
_UNITS = (
    sa.select(_u.c.id, _u.c.code, _u.c.name, _u.c.path)
    .where(_u.c.path.like(sa.bindparam("subtree", type_=sa.String)))
    .order_by(_u.c.path)
)
_REASONS = sa.select(_r.c.id, _r.c.code).order_by(_r.c.sort_order, _r.c.id)


@dataclass(frozen=True)
class _Statement:
    """A statement and, when compiled once beforehand for PostgreSQL, its SQL and the values of its constants."""

    stmt: Any
    sql: str | None = None
    constants: dict[str, Any] = field(default_factory=dict)


def _compile(stmt: Any, dialect: sa.Dialect) -> _Statement:
    if dialect.name != "postgresql":
        return _Statement(stmt)
    compiled = stmt.compile(dialect=dialect)
    return _Statement(stmt, str(compiled), {k: v for k, v in compiled.params.items() if v is not None})


@lru_cache(maxsize=16)
def _prepared(stmt: Any, dialect: sa.Dialect) -> _Statement:
    """A constant statement, compiled once."""
    return _compile(stmt, dialect)


def _rows(session: Session, statement: _Statement, params: dict[str, Any] | None = None) -> list[Any]:
    """The result rows as the driver's plain tuples, fetched at once (not 15,000 fetchone() calls).

    PostgreSQL: through psycopg with binary results (an integer is 4 bytes, not text to parse), from the SQL compiled
    beforehand if any. Prepared-statement caching stays off: a generic plan estimated for a few units would serve
    the whole country as badly.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        result = connection.execute(statement.stmt, params or {})
        try:
            return list(result.cursor.fetchall())
        finally:
            result.close()
    if statement.sql is None:
        statement = _compile(statement.stmt, connection.dialect)
    with connection.connection.driver_connection.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        return cursor.execute(statement.sql, {**statement.constants, **(params or {})}, prepare=False).fetchall()


@lru_cache(maxsize=64)
def _stored_cells(dialect: sa.Dialect, months: int, levels: tuple[int, ...], reason_ids: tuple[int, ...]) -> _Statement:
    """(unit_id, field_id, valid, satisfied, misuse, *levels, *reasons) per unit × field from the subtree month
    rollups, whose rows hold subtree totals already: nothing to add into ancestors. The months are listed (the
    primary key starts with the month); a single month needs no grouping.

    Built once per shape, with bound parameters (the month or months, and the subtree: its unit ids as an array on
    PostgreSQL, which the rows are checked against in a hash, its path pattern elsewhere); on PostgreSQL also compiled
    once: building and compiling the statement costs more than running it on the client side.
    """
    t, rt = SUBTREE_MONTH, SUBTREE_REASON_MONTH
    postgresql = dialect.name == "postgresql"

    def where(table: Any) -> list[Any]:
        if postgresql:
            unit_ids = sa.cast(sa.bindparam("unit_ids", type_=sa.String), ARRAY(sa.Integer))
            in_subtree = table.c.unit_id == sa.any_(unit_ids)
        else:
            in_subtree = table.c.unit_id.in_(sa.select(_u.c.id).where(_u.c.path.like(sa.bindparam("subtree"))))
        if months == 1:
            return [table.c.month == sa.bindparam("month", type_=sa.Date), in_subtree]
        if postgresql:
            return [table.c.month == sa.any_(sa.cast(sa.bindparam("months"), ARRAY(sa.Date))), in_subtree]
        return [table.c.month.in_(sa.bindparam("months", expanding=True, type_=sa.Date)), in_subtree]

    def sums(columns: list[Any], names: list[str]) -> list[Any]:
        if months == 1:
            return [c.label(n) for c, n in zip(columns, names, strict=True)]
        return [sa.cast(sa.func.sum(c), sa.Integer).label(n) for c, n in zip(columns, names, strict=True)]

    level_names = [f"l{i}" for i in range(len(levels))]
    count_columns = [t.c.valid, t.c.satisfied, t.c.misuse, *[t.c[f"level_{lv}"] for lv in levels]]
    counts = sa.select(t.c.unit_id, t.c.field_id, *sums(count_columns, ["valid", "sat", "mis", *level_names])).where(
        *where(t)
    )
    if months > 1:
        counts = counts.group_by(t.c.unit_id, t.c.field_id)
    stmt: Any = counts
    if reason_ids:
        # Reasons pivoted into one column each, per unit × field (a unit × field without reasons has no row).
        reason_names = [f"r{i}" for i in range(len(reason_ids))]
        pivoted = (
            sa.select(
                rt.c.unit_id,
                rt.c.field_id,
                *[
                    _total(rt.c.reason_id == rid, rt.c.n).label(n)
                    for rid, n in zip(reason_ids, reason_names, strict=True)
                ],
            )
            .where(*where(rt))
            .group_by(rt.c.unit_id, rt.c.field_id)
            .subquery("reason_cells")
        )
        counted = counts.subquery("cells")
        same_cell = sa.and_(pivoted.c.unit_id == counted.c.unit_id, pivoted.c.field_id == counted.c.field_id)
        stmt = sa.select(counted, *[sa.func.coalesce(pivoted.c[n], 0) for n in reason_names]).select_from(
            counted.outerjoin(pivoted, same_cell)
        )
    return _compile(stmt, dialect)


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

"""Every unit of a subtree × every field over a period, each figure including the unit's whole subtree.

This is the national month report (rankings, "weakest units and fields"): every unit × 14 fields. For one month
on PostgreSQL, one statement returns every unit of the subtree with its packed month (`RatingSubtreeMonthCells`,
migration 0011: the subtree's counts for every field and over all fields, with the reasons, in one value), which
Python cuts into cells. Otherwise two statements return the counts (one row per unit × field) and the reasons (one
(slot, n) row per unit × field × reason; only with reasons). For whole months they read the subtree month rollups,
whose rows already count each unit's whole subtree, and only sum the months of a quarter or year. For other ranges
they read the day rollup (the raw ratings with `source="raw"`) and add every unit's counts to each of its ancestors
up to the root (pairs taken from the materialised paths). Python then puts the reason counts into their cells (each
in a numbered slot of a flat list, which zip cuts into one tuple per cell: pivoting in SQL, one aggregate per
reason, cost more than the rest of the query on PostgreSQL) and sums each unit's fields into its all-fields cell.
Cells are kept as plain tuples; `Matrix.row` turns one into the API's `IndexRow`.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from operator import add, itemgetter
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
from server.models import CELL_REASON_BASE, RatingSubtreeMonthCells, Unit
from server.tables import RATING_REASON, REASON, UNIT
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
    """Every unit of `unit`'s subtree × every field over `period`, subtree totals included.

    One month on PostgreSQL: one query, the units with their packed months. Otherwise two: the counts and the
    reasons; `reasons=False` leaves reason counts out (rankings need n, satisfied, levels and misuse only), and then
    only the first of them runs.
    """
    ref = load_reference(session)
    dialect = session.get_bind().dialect
    reason_list = [(int(i), str(c)) for i, c in _rows(session, _prepared(_REASONS, dialect))] if reasons else []
    reason_ids = [rid for rid, _ in reason_list]
    src = choose_source(period, "field", source, ref.levels)
    months = period_months(period) if src.kind == "subtree" else []

    def matrix(units: dict[int, tuple[str, str]], cells: dict[tuple[int, int | None], tuple[int, ...]]) -> Matrix:
        return Matrix(
            period=period,
            root_id=int(unit.id or 0),
            levels=tuple(ref.levels),
            reasons=tuple(code for _, code in reason_list),
            units=units,
            fields={fid: (f.code, f.name_vi, f.name_en) for fid, f in ref.fields.items()},
            cells=cells,
            reference=ref,
        )

    if dialect.name == "postgresql" and len(months) == 1:
        apply_pending(session)
        packed = _rows(session, _PACKED, {"month": months[0], "subtree": unit.path + "%"})
        return matrix({i: (code, name) for i, code, name, _ in packed}, _unpacked(packed, ref.levels, reason_ids))
    unit_rows = _rows(session, _prepared(_UNITS, dialect), {"subtree": unit.path + "%"})
    grid = _Grid.of([row[0] for row in unit_rows], list(ref.fields), reason_ids)
    if src.kind == "subtree":
        apply_pending(session)
        counts, reason_counts = _stored_cells(dialect, len(months), tuple(ref.levels))
        params: dict[str, Any] = (
            # The ids as an array literal: psycopg dumps a list of 1,000 ints in Python, 10 times slower.
            {"unit_ids": "{" + ",".join(str(row[0]) for row in unit_rows) + "}"}
            if dialect.name == "postgresql"
            else {"subtree": unit.path + "%"}
        )
        params.update({"month": months[0]} if len(months) == 1 else {"months": months})
        params.update(grid.params())
    else:
        counts, reason_counts = _folded_cells(src, unit, unit_rows, period, ref.levels, reason_ids, grid)
        params = {}
    rows = _rows(session, counts, params)
    return matrix(
        {i: (code, name) for i, code, name, _ in unit_rows},
        grid.cells(rows, _pairs(session, reason_counts, params) if reason_ids else None),
    )


@dataclass(frozen=True)
class _Grid:
    """Numbers for the cells and reasons of a matrix, computed in SQL, so that reason counts come back as (slot, n)
    pairs that go into a flat list by index (no key to build or look up per reason): cell = (unit id - first unit
    id) × field span + field id - first field id; slot = cell × reason span + reason id - first reason id (span:
    last id - first id + 1)."""

    units: int  # unit id span
    unit_lo: int
    field_span: int
    field_lo: int
    reason_span: int
    reason_lo: int
    order: Callable[[Sequence[int]], tuple[int, ...]]  # the reasons of one cell's slots, in display order
    in_id_order: bool  # whether `order` keeps every slot in place (reasons listed by id, no id gaps)

    @staticmethod
    def of(unit_ids: list[int], field_ids: list[int], reason_ids: list[int]) -> _Grid:
        def span(ids: list[int]) -> tuple[int, int]:
            return (max(ids) - min(ids) + 1, min(ids)) if ids else (1, 0)

        reason_span, reason_lo = span(reason_ids)
        positions = [rid - reason_lo for rid in reason_ids]
        order: Callable[[Sequence[int]], tuple[int, ...]] = (
            itemgetter(*positions) if len(positions) > 1 else lambda slots: tuple(slots[p] for p in positions)
        )
        in_id_order = positions == list(range(reason_span))
        return _Grid(*span(unit_ids), *span(field_ids), reason_span, reason_lo, order, in_id_order)

    def params(self) -> dict[str, int]:
        return {
            "unit_lo": self.unit_lo,
            "field_span": self.field_span,
            "field_lo": self.field_lo,
            "reason_span": self.reason_span,
            "reason_lo": self.reason_lo,
        }

    def cells(
        self, rows: list[Any], reason_rows: Iterable[tuple[int, int]] | None
    ) -> dict[tuple[int, int | None], tuple[int, ...]]:
        """The matrix's cells from (cell, unit_id, field_id, *counts) rows and (slot, n) reason rows (None: without
        reasons), and each unit over all fields: the sum of its fields' cells (cheaper here than in SQL)."""
        values = list(map(_COUNTS, rows))
        if reason_rows is not None:
            values = list(map(add, values, map(self._reasons(reason_rows, len(rows)), map(_CELL, rows))))
        cells: dict[tuple[int, int | None], tuple[int, ...]] = dict(zip(map(_KEY, rows), values, strict=True))
        by_unit = sorted(zip(map(_UNIT, rows), values, strict=True), key=_FIRST)
        for unit_id, unit_values in groupby(by_unit, _FIRST):
            cells[unit_id, None] = tuple(map(sum, zip(*map(_SECOND, unit_values), strict=True)))
        return cells

    def _reasons(self, reason_rows: Iterable[tuple[int, int]], cells: int) -> Callable[[int], tuple[int, ...]]:
        """Cell number → its reason counts in display order."""
        span = self.reason_span
        if self.units * self.field_span <= 8 * cells + 10_000:  # every slot in a list, unless most would stay empty
            slots = [0] * (self.units * self.field_span * span)
            for slot, n in reason_rows:
                slots[slot] = n
            per_cell = zip(*[iter(slots)] * span, strict=True)
            if self.in_id_order:  # the display order is the ids' order (as usual): the slots are in place already
                return list(per_cell).__getitem__
            return list(map(self.order, per_cell)).__getitem__
        counted = dict(reason_rows)  # a subtree of units with ids far apart

        def reasons_of(cell: int) -> tuple[int, ...]:
            return self.order([counted.get(cell * span + i, 0) for i in range(span)])

        return reasons_of


_CELL = itemgetter(0)  # columns of a row of counts: cell number, unit_id, field_id, counts…
_UNIT = itemgetter(1)
_KEY = itemgetter(1, 2)
_COUNTS = itemgetter(slice(3, None))
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_u = UNIT
_r = REASON
_UNITS = (
    sa.select(_u.c.id, _u.c.code, _u.c.name, _u.c.path)
    .where(_u.c.path.like(sa.bindparam("subtree", type_=sa.String)))
    .order_by(_u.c.path)
)
_REASONS = sa.select(_r.c.id, _r.c.code).order_by(_r.c.sort_order, _r.c.id)


def _cell_number(unit_id: Any, field_id: Any) -> Any:
    """The cell's number in the grid (see `_Grid`), from bound parameters."""
    unit_lo, field_lo = sa.bindparam("unit_lo", type_=sa.Integer), sa.bindparam("field_lo", type_=sa.Integer)
    return (unit_id - unit_lo) * sa.bindparam("field_span", type_=sa.Integer) + field_id - field_lo


def _slot(unit_id: Any, field_id: Any, reason_id: Any) -> Any:
    """A reason's slot in the grid (see `_Grid`)."""
    reason_span, reason_lo = sa.bindparam("reason_span", type_=sa.Integer), sa.bindparam("reason_lo", type_=sa.Integer)
    return _cell_number(unit_id, field_id) * reason_span + reason_id - reason_lo


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


def _compiled(statement: _Statement, dialect: sa.Dialect) -> _Statement:
    """`statement` with its SQL, compiled now if it was not beforehand."""
    return statement if statement.sql is not None else _compile(statement.stmt, dialect)


@lru_cache(maxsize=16)
def _prepared(stmt: Any, dialect: sa.Dialect) -> _Statement:
    """A constant statement, compiled once."""
    return _compile(stmt, dialect)


def _rows(session: Session, statement: _Statement, params: dict[str, Any] | None = None) -> list[Any]:
    """The result rows as the driver's plain tuples, fetched at once (not 15,000 fetchone() calls): building Row
    objects costs more than the query.

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
    statement = _compiled(statement, connection.dialect)
    with connection.connection.driver_connection.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        return cursor.execute(statement.sql, {**statement.constants, **(params or {})}, prepare=False).fetchall()


def _pairs(session: Session, statement: _Statement, params: dict[str, Any]) -> Iterable[tuple[int, int]]:
    """The (slot, n) rows of a reasons statement. On PostgreSQL packed into two arrays in one row: tens of
    thousands of two-int rows cost the client more to build one by one (psycopg, ~12 ms) than the database to send
    (the same either way); the arrays come as their binary form (`array_send`) and are read with `array`."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return _rows(session, statement, params)
    statement = _compiled(statement, connection.dialect)
    packed = _Statement(
        statement.stmt,
        f"SELECT array_send(array_agg(q.slot)), array_send(array_agg(q.n)) FROM ({statement.sql}) AS q(slot, n)",
        statement.constants,
    )
    [(slots, counts)] = _rows(session, packed, params)
    return zip(_int4_array(slots), _int4_array(counts), strict=True)


def _int4_array(data: bytes | None) -> array[int]:
    """The elements of a one-dimensional int4[] without NULLs in PostgreSQL's binary form (None: no rows): a
    20-byte header (dimensions, null flag, element type, length, lower bound), then per element its length (4)
    and value, big-endian."""
    if data is None:
        return array("i")
    if int.from_bytes(data[:4], "big") != 1 or int.from_bytes(data[4:8], "big") != 0:
        raise ValueError("expected a one-dimensional array without NULLs")
    return _big_endian_ints(data[20:])[1::2]


def _big_endian_ints(data: bytes) -> array[int]:
    """Big-endian 32-bit integers, as this machine's ints."""
    out = array("i", data)
    if sys.byteorder == "little":
        out.byteswap()
    return out


#: PostgreSQL: every unit of a subtree, in tree order, with its packed month if it has one (migration 0011).
_PACKED = _Statement(
    None,
    f"SELECT u.id, u.code, u.name, c.cells FROM {_u.name} AS u "
    f"LEFT JOIN {RatingSubtreeMonthCells.__tablename__} AS c ON c.month = %(month)s AND c.unit_id = u.id "
    "WHERE u.path LIKE %(subtree)s ORDER BY u.path",
)


def _unpacked(
    rows: list[Any], levels: Sequence[int], reason_ids: Sequence[int]
) -> dict[tuple[int, int | None], tuple[int, ...]]:
    """The matrix's cells from (unit_id, code, name, cells) rows: every block of a `RatingSubtreeMonthCells` value
    whose valid or misuse count is not zero (block 0: the unit over all fields), with its counts, the scale's levels
    and the reasons in display order. All values are decoded at once (one array, one byte swap); zip cuts them into
    blocks."""
    pick = [0, 1, 2, *[2 + lv for lv in levels], *[CELL_REASON_BASE + rid for rid in reason_ids]]
    get = itemgetter(*pick)
    reach = max(pick) + 1
    packed = [(row[0], row[3]) for row in rows if row[3] is not None]
    # ints made as they are read: cheaper than a list of them all first
    flat = iter(_big_endian_ints(b"".join(data for _, data in packed)))
    cells: dict[tuple[int, int | None], tuple[int, ...]] = {}
    for unit_id, data in packed:
        width = next(flat)
        picked: Callable[[tuple[int, ...]], tuple[int, ...]] = get
        if width < reach:  # the row has not seen the highest reasons yet: they count 0

            def picked(counts: tuple[int, ...], pad: tuple[int, ...] = (0,) * (reach - width)) -> tuple[int, ...]:
                return get(counts + pad)

        # zip(*[flat] * width) cuts the row into its blocks; the outer zip takes from range first, so it stops
        # before the next row.
        blocks = map(picked, zip(*[flat] * width, strict=False))
        for block, counts in zip(range((len(data) // 4 - 1) // width), blocks, strict=False):
            if counts[0] or counts[2]:
                cells[unit_id, block or None] = counts
    return cells


@lru_cache(maxsize=64)
def _stored_cells(dialect: sa.Dialect, months: int, levels: tuple[int, ...]) -> tuple[_Statement, _Statement]:
    """From the subtree month rollups, whose rows hold subtree totals already (nothing to add into ancestors):
    (cell, unit_id, field_id, valid, satisfied, misuse, *levels) per unit × field, and (slot, n) per unit × field ×
    reason. The months are listed (the primary key starts with the month); a single month needs no grouping.

    Built once per shape, with bound parameters (the month or months; the subtree: its unit ids as an array on
    PostgreSQL, which the rows are checked against in a hash, its path pattern elsewhere; the grid's numbers); on
    PostgreSQL also compiled once: building and compiling the statements costs more than running them.
    """
    t, rt = SUBTREE_MONTH, SUBTREE_REASON_MONTH
    postgresql = dialect.name == "postgresql"

    def where(table: Any) -> list[Any]:
        if postgresql:
            # An int[] parameter (sent as text, see unit_field_matrix): planned as a constant, checked in a hash.
            in_subtree = table.c.unit_id == sa.any_(sa.bindparam("unit_ids", type_=ARRAY(sa.Integer)))
        else:
            in_subtree = table.c.unit_id.in_(sa.select(_u.c.id).where(_u.c.path.like(sa.bindparam("subtree"))))
        if months == 1:
            return [table.c.month == sa.bindparam("month", type_=sa.Date), in_subtree]
        if postgresql:
            return [table.c.month == sa.any_(sa.cast(sa.bindparam("months"), ARRAY(sa.Date))), in_subtree]
        return [table.c.month.in_(sa.bindparam("months", expanding=True, type_=sa.Date)), in_subtree]

    def total(column: Any) -> Any:
        return column if months == 1 else sa.cast(sa.func.sum(column), sa.Integer)

    count_columns = [t.c.valid, t.c.satisfied, t.c.misuse, *[t.c[f"level_{lv}"] for lv in levels]]
    counts = sa.select(
        _cell_number(t.c.unit_id, t.c.field_id), t.c.unit_id, t.c.field_id, *map(total, count_columns)
    ).where(*where(t))
    reasons = sa.select(_slot(rt.c.unit_id, rt.c.field_id, rt.c.reason_id), total(rt.c.n)).where(*where(rt))
    if months > 1:
        counts = counts.group_by(t.c.unit_id, t.c.field_id)
        reasons = reasons.group_by(rt.c.unit_id, rt.c.field_id, rt.c.reason_id)
    return _compile(counts, dialect), _compile(reasons, dialect)


def _folded_cells(
    src: Any, unit: Unit, unit_rows: Any, period: Period, levels: list[int], reason_ids: list[int], grid: _Grid
) -> tuple[_Statement, _Statement]:
    """The counts per unit × field and the reasons per unit × field × reason, from the day rollup (or the raw
    ratings), then added into every ancestor through the (unit, ancestor) pairs of the paths: the rows of
    `_stored_cells`, the grid's numbers inlined."""
    raw = src.kind == "raw"
    in_period = _in_period(src, period)
    tree = _ancestor_pairs(unit, unit_rows)
    ancestor = tree.c.ancestor_id

    # Counts per unit × field: valid, satisfied, misuse, then one column per level of the scale.
    t = src.counts
    count_names = ["valid", "sat", "mis", *[f"l{i}" for i in range(len(levels))]]
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
        .subquery("cells")
    )
    counts = (
        sa.select(
            _cell_number(ancestor, cells.c.field_id),
            ancestor,
            cells.c.field_id,
            *[sa.cast(sa.func.sum(cells.c[n]), sa.Integer) for n in count_names],
        )
        .select_from(cells.join(tree, tree.c.unit_id == cells.c.unit_id))
        .group_by(ancestor, cells.c.field_id)
        .params(grid.params())
    )
    # Reason counts per unit × field × reason, folded the same way.
    rt = src.counts if raw else src.reasons
    reason_id = RATING_REASON.c.reason_id if raw else rt.c.reason_id
    reason_cells = (
        sa.select(rt.c.unit_id, rt.c.field_id, reason_id.label("reason_id"), src.count(rt).label("n"))
        .select_from(src.reasons)
        .where(rt.c.unit_id.in_(subtree_ids(unit)), *in_period(rt), src.reason_valid)
        .group_by(rt.c.unit_id, rt.c.field_id, reason_id)
        .subquery("reason_cells")
    )
    reasons = (
        sa.select(
            _slot(ancestor, reason_cells.c.field_id, reason_cells.c.reason_id),
            sa.cast(sa.func.sum(reason_cells.c.n), sa.Integer),
        )
        .select_from(reason_cells.join(tree, tree.c.unit_id == reason_cells.c.unit_id))
        .group_by(ancestor, reason_cells.c.field_id, reason_cells.c.reason_id)
        .params(grid.params())
    )
    return _Statement(counts), _Statement(reasons)


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

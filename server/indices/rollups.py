"""The rollup tables behind the indices: what each one counts, how to recount it from raw ratings, and `rebuild`.

Database triggers (migrations 0005 and 0008) keep the rollups exact on every write to `rating`, `rating_reason`
and, for the subtree rollups, to a unit's path; this module never maintains them on the write path. It recounts
them from the raw rows to check or repair them (after a restore, a bulk load with triggers disabled, or a manual
edit): `rebuild` compares month by month and fixes only the keys that differ, so it is cheap when everything is
right and reports exactly what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from server import tables
from server.db import upsert_insert
from server.indices.periods import add_months
from server.models import MONTH_ROLLUP_LEVELS, Counter, Officer, ProcedureField, Reason, Unit
from server.tables import RATING, RATING_REASON

#: Shown instead of an officer code for ratings that name no officer (stored as officer_id 0 in the rollups).
NO_OFFICER = 0


@dataclass(frozen=True)
class RollupSpec:
    """One rollup table: key columns, count columns, whether it counts reasons, whether it is keyed by month, and
    whether a unit's row counts its whole subtree (then `unit_id` is the subtree's top, every rating is counted
    once per unit on its unit's path, and only the rows of a root sum to the number of ratings)."""

    table: sa.Table
    keys: tuple[str, ...]
    reasons: bool
    monthly: bool
    values: tuple[str, ...] = ("n",)
    presence: tuple[str, ...] = ("n",)  # a key exists while one of these is not zero; their sum counts ratings
    subtree: bool = False

    @property
    def name(self) -> str:
        """The table name."""
        return self.table.name

    @property
    def date_column(self) -> sa.Column[date]:
        """`month` or `day`."""
        return self.table.c.month if self.monthly else self.table.c.day


DAY_KEYS = ("unit_id", "day", "counter_id", "field_id", "officer_id", "channel")
MONTH_KEYS = ("month", "unit_id", "field_id")
MONTH_VALUES = ("valid", "satisfied", "misuse", *(f"level_{lv}" for lv in MONTH_ROLLUP_LEVELS))
MONTH_PRESENCE = ("valid", "misuse")

SPECS: tuple[RollupSpec, ...] = (
    RollupSpec(tables.DAY_ROLLUP, (*DAY_KEYS, "level", "satisfied", "misuse"), reasons=False, monthly=False),
    RollupSpec(tables.DAY_REASON_ROLLUP, (*DAY_KEYS, "reason_id"), reasons=True, monthly=False),
    RollupSpec(
        tables.LEAF_MONTH, MONTH_KEYS, reasons=False, monthly=True, values=MONTH_VALUES, presence=MONTH_PRESENCE
    ),
    RollupSpec(tables.LEAF_REASON_MONTH, (*MONTH_KEYS, "reason_id"), reasons=True, monthly=True),
    RollupSpec(
        tables.SUBTREE_MONTH,
        MONTH_KEYS,
        reasons=False,
        monthly=True,
        values=MONTH_VALUES,
        presence=MONTH_PRESENCE,
        subtree=True,
    ),
    RollupSpec(tables.SUBTREE_REASON_MONTH, (*MONTH_KEYS, "reason_id"), reasons=True, monthly=True, subtree=True),
)


def ancestor_pairs(dialect: str) -> Any:
    """(unit_id, ancestor_id) for every unit and each unit on its path, itself included, from the materialised
    paths: `/1/7/42/` gives (42, 1), (42, 7), (42, 42). The same expansion as the triggers of migration 0008."""
    if dialect == "postgresql":
        sql = (
            "SELECT u.id AS unit_id, CAST(a.id AS integer) AS ancestor_id FROM unit AS u "
            "CROSS JOIN LATERAL unnest(string_to_array(btrim(u.path, '/'), '/')) AS a(id)"
        )
    else:
        sql = (
            "SELECT u.id AS unit_id, CAST(a.value AS integer) AS ancestor_id FROM unit AS u, "
            "json_each('[' || replace(trim(u.path, '/'), '/', ',') || ']') AS a"
        )
    return sa.text(sql).columns(sa.column("unit_id", sa.Integer), sa.column("ancestor_id", sa.Integer)).subquery("tree")


#: The deferred trigger that applies a PostgreSQL transaction's subtree deltas when it commits (migration 0008).
SUBTREE_FLUSH_TRIGGER = "trg_rating_subtree_flush"


def apply_pending(session: Session) -> None:
    """Bring the subtree rollups up to date with this transaction's own writes before reading them.

    On PostgreSQL a transaction's changes reach the subtree rollups when it commits (one pass in key order, so that
    concurrent batches cannot deadlock on the rows near the root); a report read in the same transaction as the
    writes applies them now. Nothing is written when there is nothing pending (read-only transactions included).
    SQLite applies every change at once.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"SET CONSTRAINTS {SUBTREE_FLUSH_TRIGGER} IMMEDIATE"))
        session.execute(sa.text(f"SET CONSTRAINTS {SUBTREE_FLUSH_TRIGGER} DEFERRED"))


def month_of(column: Any, dialect: str) -> Any:
    """The first day of the month of a date column, as a date, in SQL (the same rule as the triggers)."""
    if dialect == "postgresql":
        return sa.cast(sa.func.date_trunc("month", sa.cast(column, sa.DateTime)), sa.Date)
    # SQLite stores dates as 'YYYY-MM-DD' text.
    return sa.type_coerce(sa.func.substr(column, 1, 8) + "01", sa.Date)


def recount(spec: RollupSpec, dialect: str, start: date | None = None, end: date | None = None) -> sa.Select[Any]:
    """What `spec`'s table should hold, counted from raw ratings with local_date in [start, end): keys + values."""
    if spec.subtree:  # the leaf month counts, added to each unit on the leaf's path
        leaf = next(s for s in SPECS if s.monthly and not s.subtree and s.reasons == spec.reasons)
        counted = recount(leaf, dialect, start, end).subquery("leaf")
        tree = ancestor_pairs(dialect)
        keys = [tree.c.ancestor_id.label(k) if k == "unit_id" else counted.c[k] for k in spec.keys]
        return (
            # int, not the leaf's bigint sums: PostgreSQL sums bigints as numeric.
            sa.select(*keys, *[sa.func.sum(sa.cast(counted.c[v], sa.Integer)).label(v) for v in spec.values])
            .select_from(counted.join(tree, tree.c.unit_id == counted.c.unit_id))
            .group_by(*keys)
        )
    r = RATING
    x = RATING_REASON
    exprs: dict[str, Any] = {
        "unit_id": r.c.unit_id,
        "day": r.c.local_date,
        "month": month_of(r.c.local_date, dialect),
        "counter_id": r.c.counter_id,
        "field_id": r.c.field_id,
        "officer_id": sa.func.coalesce(r.c.officer_id, NO_OFFICER),
        "channel": r.c.channel,
        "level": r.c.level,
        "satisfied": r.c.satisfied,
        "misuse": r.c.misuse,
        "reason_id": x.c.reason_id,
    }
    valid = r.c.misuse.is_(False)

    def count(condition: Any) -> Any:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    value_exprs: dict[str, Any] = {
        "n": sa.func.count(),
        "valid": count(valid),
        "satisfied": count(sa.and_(valid, r.c.satisfied.is_(True))),
        "misuse": count(r.c.misuse.is_(True)),
        **{f"level_{lv}": count(sa.and_(valid, r.c.level == lv)) for lv in MONTH_ROLLUP_LEVELS},
    }
    columns = [exprs[k].label(k) for k in spec.keys]
    stmt = sa.select(*columns, *[value_exprs[v].label(v) for v in spec.values])
    if spec.reasons:
        stmt = stmt.select_from(x.join(r, r.c.id == x.c.rating_id)).where(r.c.misuse.is_(False))
    else:
        stmt = stmt.select_from(r)
    if start is not None:
        stmt = stmt.where(r.c.local_date >= start)
    if end is not None:
        stmt = stmt.where(r.c.local_date < end)
    return stmt.group_by(*columns)


@dataclass(frozen=True)
class Difference:
    """A rollup key whose stored counts differ from the recount (absent keys count as zeros)."""

    table: str
    key: dict[str, Any]
    stored: dict[str, int]
    expected: dict[str, int]
    presence: tuple[str, ...] = ("n",)

    @property
    def delta(self) -> int:
        """Ratings (or reasons) the key gains (+) or loses (-)."""
        return sum(self.expected[v] - self.stored[v] for v in self.presence)

    @property
    def exists(self) -> bool:
        """Whether the key should exist at all."""
        return any(self.expected[v] for v in self.presence)


@dataclass
class TableTotals:
    """What `rebuild` changed in one table."""

    keys: int = 0
    added: int = 0
    removed: int = 0


@dataclass
class RebuildReport:
    """The outcome of `rebuild`: months checked, totals per table, and the first differences in detail."""

    months: int = 0
    ratings: int = 0
    totals: dict[str, TableTotals] = field(default_factory=lambda: {s.name: TableTotals() for s in SPECS})
    differences: list[Difference] = field(default_factory=list)
    max_listed: int = 1000

    @property
    def fixed(self) -> int:
        """Keys that differed (and were fixed), over all tables."""
        return sum(t.keys for t in self.totals.values())

    def record(self, diff: Difference) -> None:
        totals = self.totals[diff.table]
        totals.keys += 1
        delta = diff.delta
        if delta > 0:
            totals.added += delta
        else:
            totals.removed -= delta
        if len(self.differences) < self.max_listed:
            self.differences.append(diff)


def differences(*, session: Session, spec: RollupSpec, start: date, end: date) -> list[Difference]:
    """Keys of `spec` in [start, end) whose stored counts differ from a recount of the raw ratings."""
    if spec.subtree:
        apply_pending(session)
    dialect = session.get_bind().dialect.name
    expected = recount(spec, dialect, start, end).subquery()
    t = spec.table
    stored = sa.select(*[t.c[k] for k in spec.keys], *[t.c[v] for v in spec.values])
    stored_sub = stored.where(spec.date_column >= start, spec.date_column < end).subquery()
    zero = [sa.literal(0).label(f"s_{v}") for v in spec.values]
    both = sa.union_all(
        sa.select(*[expected.c[k] for k in spec.keys], *[expected.c[v].label(f"e_{v}") for v in spec.values], *zero),
        sa.select(
            *[stored_sub.c[k] for k in spec.keys],
            *[sa.literal(0).label(f"e_{v}") for v in spec.values],
            *[stored_sub.c[v].label(f"s_{v}") for v in spec.values],
        ),
    ).subquery()
    key_columns = [both.c[k] for k in spec.keys]
    e = [sa.func.sum(both.c[f"e_{v}"]) for v in spec.values]
    s = [sa.func.sum(both.c[f"s_{v}"]) for v in spec.values]
    differs = sa.or_(*[a != b for a, b in zip(e, s, strict=True)])
    stmt = sa.select(*key_columns, *e, *s).group_by(*key_columns).having(differs).order_by(*key_columns)
    out = []
    n_keys, n_values = len(spec.keys), len(spec.values)
    for row in session.execute(stmt):
        values = tuple(row)
        key = dict(zip(spec.keys, values[:n_keys], strict=True))
        exp = {v: int(x or 0) for v, x in zip(spec.values, values[n_keys : n_keys + n_values], strict=True)}
        sto = {v: int(x or 0) for v, x in zip(spec.values, values[n_keys + n_values :], strict=True)}
        out.append(Difference(spec.name, key, stored=sto, expected=exp, presence=spec.presence))
    return out


def fix(*, session: Session, spec: RollupSpec, diffs: Sequence[Difference]) -> None:
    """Set the keys of `diffs` to their expected counts (removing those that should not exist)."""
    t = spec.table
    gone = [d.key for d in diffs if not d.exists]
    present = [{**d.key, **d.expected} for d in diffs if d.exists]
    if gone:
        condition = sa.and_(*[t.c[k] == sa.bindparam(f"k_{k}") for k in spec.keys])
        session.execute(sa.delete(t).where(condition), [{f"k_{k}": key[k] for k in spec.keys} for key in gone])
    if present:
        dialect = session.get_bind().dialect.name
        insert = upsert_insert(t, dialect)
        stmt = insert.on_conflict_do_update(
            index_elements=list(spec.keys), set_={v: insert.excluded[v] for v in spec.values}
        )
        for i in range(0, len(present), 5000):
            session.execute(stmt, present[i : i + 5000])


def month_span(session: Session) -> list[date]:
    """The first days of every month that has ratings or rollup rows, oldest first."""
    r = RATING
    lows, highs = [], []
    for column in [r.c.local_date, *[s.date_column for s in SPECS]]:
        low, high = session.execute(sa.select(sa.func.min(column), sa.func.max(column))).one()
        if low is not None:
            lows.append(_as_date(low))
            highs.append(_as_date(high))
    if not lows:
        return []
    month, last = min(lows).replace(day=1), max(highs).replace(day=1)
    out = []
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


def rebuild(
    *,
    session: Session,
    progress: Callable[[int, int], None] | None = None,
    after_month: Callable[[], None] | None = None,
) -> RebuildReport:
    """Recount every rollup from the raw ratings month by month and fix the keys that differ.

    Each month is checked under a lock that lets readers in but holds writers of ratings back (PostgreSQL: SHARE
    on `rating` and `rating_reason`; SQLite: the write transaction), so the recount and the fix see the same data.
    `after_month` (the CLI passes a commit) ends that lock after each month, so ingest waits for one month's work
    at most.
    """
    report = RebuildReport()
    is_pg = session.get_bind().dialect.name == "postgresql"
    months = month_span(session)
    for i, start in enumerate(months):
        end = add_months(start, 1)
        if is_pg:
            session.execute(sa.text("LOCK TABLE rating, rating_reason IN SHARE MODE"))
        r = RATING
        report.ratings += session.execute(
            sa.select(sa.func.count()).select_from(r).where(r.c.local_date >= start, r.c.local_date < end)
        ).scalar_one()
        for spec in SPECS:
            diffs = differences(session=session, spec=spec, start=start, end=end)
            for diff in diffs:
                report.record(diff)
            fix(session=session, spec=spec, diffs=diffs)
        session.flush()
        report.months += 1
        if after_month:
            after_month()
        if progress:
            progress(i + 1, len(months))
    return report


def describe(session: Session, diffs: Sequence[Difference]) -> list[str]:
    """One readable line per difference, with codes instead of ids."""
    codes = {
        "unit_id": _codes(session, Unit),
        "counter_id": _codes(session, Counter),
        "field_id": _codes(session, ProcedureField),
        "officer_id": {NO_OFFICER: "-", **_codes(session, Officer)},
        "reason_id": _codes(session, Reason),
    }
    names = {"unit_id": "unit", "counter_id": "counter", "field_id": "field", "officer_id": "officer"}
    names["reason_id"] = "reason"
    lines = []
    for d in diffs:
        parts = []
        for k, v in d.key.items():
            if k in codes:
                parts.append(f"{names[k]}={codes[k].get(v, f'#{v}')}")
            elif k in ("satisfied", "misuse"):
                parts.append(f"{k}={'yes' if v else 'no'}")
            else:
                parts.append(f"{k}={_as_date(v).isoformat() if k in ('day', 'month') else v}")
        if list(d.expected) == ["n"]:
            change = f"{d.stored['n']} → {d.expected['n']} ({d.delta:+d})"
        else:
            change = ", ".join(
                f"{v} {d.stored[v]} → {d.expected[v]}" for v in d.expected if d.stored[v] != d.expected[v]
            )
        lines.append(f"{d.table} {' '.join(parts)}: {change}")
    return lines


def _codes(session: Session, model: Any) -> dict[int, str]:
    return {int(i): str(c) for i, c in session.execute(sa.select(model.id, model.code))}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])

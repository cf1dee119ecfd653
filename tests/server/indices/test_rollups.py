"""The rollups stay exact on every write path: a property test against a brute-force recount in plain Python.

Random trees, counters, officers, fields, levels, reasons, misuse flags and instants near local midnight at month
ends are written the way ingest paths write them (one INSERT per batch, single rows, misuse flipped after the
reasons were stored, level, field, date and counter (so unit) corrected, reasons added and removed, ratings
deleted, units moved with their subtrees, between and after the other changes). Then the six rollup tables (the
subtree ones with every unit's whole-subtree totals under the tree as it is now), every grouping of the report,
and every unit's own report by field must equal a recount computed here from the generated rows, never from the same
SQL; a report from the raw ratings must equal it too.
"""

from __future__ import annotations

import uuid
from collections import Counter as Multiset
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from server import tables
from server.indices.periods import Period, parse_period
from server.indices.rollups import apply_pending
from server.indices.schemas import IndexRow
from server.models import ProcedureField, Reason, Unit
from server.tables import RATING, RATING_REASON
from server.units.service import move_unit
from tests import factories
from tests.server.indices.helpers import report

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
FIELDS = {"land": ("lci",), "health": ("health_education",), "justice": (), "tax": ()}
REASONS = ("late", "waiting", "other")
SATISFIED = {4: True, 3: True, 2: False, 1: False}
# Days on both sides of month ends, so local midnight decides the month (00:00-06:59 local is the day before in UTC).
DAYS = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 28)]
DAYS += [date(2026, 3, 1), date(2026, 3, 15), date(2026, 3, 31), date(2026, 4, 1)]
MINUTES = st.sampled_from([0, 1, 6 * 60 + 59, 7 * 60, 23 * 60 + 59]) | st.integers(0, 24 * 60 - 1)
PERIODS = ["2025-12", "2026-01", "2026-02", "2026-03", "2026-Q1", "2026", "2026-01-31..2026-02-01"]
PERIODS += ["2025-12-31..2026-03-31", "2026-02-01..2026-04-30", "2025-12-15..2026-01-31"]
GROUPINGS = [None, "field", "group", "unit", "counter", "officer", "channel", "month"]


@dataclass
class RatingRow:
    counter: int
    field: str
    level: int
    misuse: bool
    officer: int | None
    channel: str
    at: datetime
    reasons: set[str]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    deleted: bool = False
    pending: bool = False  # a late rating not inserted yet

    @property
    def local_date(self) -> date:
        return self.at.astimezone(HCM).date()


@dataclass
class Scenario:
    parents: list[int | None]  # parent index of each unit (always a smaller index)
    counters: list[int]  # unit index of each counter
    officers: list[int]  # unit index of each officer
    ratings: list[RatingRow]
    insert: str  # "statement": one multi-row INSERT (a kiosk batch); "executemany"; "rows": one by one (phone)
    mutations: list[tuple[Any, ...]]
    root: int
    period: str
    raw_grouping: str | None
    late: list[RatingRow] = field(default_factory=list)  # inserted by the mutation ("insert_late",), or at the end


@st.composite
def rating_rows(draw: st.DrawFn, counters: int, officers: int, max_size: int) -> list[RatingRow]:
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        day = draw(st.sampled_from(DAYS))
        local = datetime(day.year, day.month, day.day, tzinfo=HCM) + timedelta(minutes=draw(MINUTES))
        out.append(
            RatingRow(
                counter=draw(st.integers(0, counters - 1)),
                field=draw(st.sampled_from(sorted(FIELDS))),
                level=draw(st.integers(1, 4)),
                misuse=draw(st.booleans()),
                officer=draw(st.none() | st.integers(0, officers - 1)) if officers else None,
                channel=draw(st.sampled_from(["kiosk", "phone"])),
                at=local.astimezone(UTC),
                reasons=set(draw(st.lists(st.sampled_from(REASONS), max_size=3, unique=True))),
            )
        )
    return out


@st.composite
def scenarios(draw: st.DrawFn, units: tuple[int, int] = (1, 5), moves: int = 1) -> Scenario:
    """Random data and changes; `moves` weighs unit moves against each other kind of change, and with more than
    one every unit gets a counter (so that every move carries ratings) and late ratings arrive between changes."""
    n_units = draw(st.integers(*units))
    parents: list[int | None] = [None] + [draw(st.none() | st.integers(0, i - 1)) for i in range(1, n_units)]
    counters = [draw(st.integers(0, n_units - 1)) for _ in range(draw(st.integers(1, 4)))]
    if moves > 1:
        counters = list(range(n_units)) + counters
    officers = [draw(st.integers(0, n_units - 1)) for _ in range(draw(st.integers(0, 3)))]
    ratings = draw(rating_rows(len(counters), len(officers), 25))
    late = draw(rating_rows(len(counters), len(officers), 8)) if moves > 1 else []
    for r in late:
        r.pending = True
    mutations: list[tuple[Any, ...]] = []
    if ratings:
        index = st.integers(0, len(ratings) - 1)
        move = st.tuples(st.just("move"), st.integers(0, n_units - 1), st.none() | st.integers(0, n_units - 1))
        op = st.one_of(
            *[move] * (moves - 1),
            st.tuples(st.just("insert_late")),
            st.tuples(st.just("misuse"), index),
            st.tuples(st.just("misuse_batch"), st.lists(index, min_size=1, max_size=6, unique=True)),
            st.tuples(st.just("level"), index, st.integers(1, 4)),
            st.tuples(st.just("field"), index, st.sampled_from(sorted(FIELDS))),
            st.tuples(st.just("day"), index, st.sampled_from(DAYS)),
            st.tuples(st.just("counter"), index, st.integers(0, len(counters) - 1)),
            st.tuples(st.just("add_reason"), index, st.sampled_from(REASONS)),
            st.tuples(st.just("drop_reasons"), index),
            st.tuples(st.just("delete"), index),
            st.tuples(st.just("move"), st.integers(0, n_units - 1), st.none() | st.integers(0, n_units - 1)),
        )
        mutations = draw(st.lists(op, max_size=8 + 2 * (moves - 1)))
    return Scenario(
        parents=parents,
        counters=counters,
        officers=officers,
        ratings=ratings,
        insert=draw(st.sampled_from(["statement", "executemany", "rows"])),
        mutations=mutations,
        root=draw(st.integers(0, n_units - 1)),
        period=draw(st.sampled_from(PERIODS)),
        raw_grouping=draw(st.sampled_from(GROUPINGS)),
        late=late,
    )


class World:
    """The generated data in the database and, independently, in plain Python."""

    def __init__(self, session: Session, s: Scenario) -> None:
        self.session, self.s = session, s
        self.parents = list(s.parents)
        self.units: list[Unit] = []
        for parent in s.parents:
            self.units.append(factories.unit(session, self.units[parent] if parent is not None else None))
        self.counters = [factories.counter(session, self.units[u]) for u in s.counters]
        self.officers = [factories.officer(session, self.units[u]) for u in s.officers]
        self.fields = {f.code: int(f.id or 0) for f in session.exec(select(ProcedureField)).all()}
        self.reasons = {r.code: int(r.id or 0) for r in session.exec(select(Reason)).all()}

    # --- writing, the way ingest paths do ---

    def insert_all(self) -> None:
        rows = [self._values(r) for r in self.s.ratings]
        reasons = [self._reason(r, code) for r in self.s.ratings for code in sorted(r.reasons)]
        if self.s.insert == "statement" and rows:
            # One statement, several rows: PostgreSQL's transition tables hold the whole batch.
            self.session.execute(sa.insert(RATING).values(rows))
            if reasons:
                self.session.execute(sa.insert(RATING_REASON).values(reasons))
        elif self.s.insert == "executemany" and rows:
            self.session.execute(sa.insert(RATING), rows)
            if reasons:
                self.session.execute(sa.insert(RATING_REASON), reasons)
        else:
            for r, values in zip(self.s.ratings, rows, strict=True):
                self.session.execute(sa.insert(RATING).values(**values))
                for code in sorted(r.reasons):
                    self.session.execute(sa.insert(RATING_REASON).values(**self._reason(r, code)))

    def insert_late(self) -> None:
        """The late ratings not inserted yet, as one batch (after the changes so far: under the tree as it is)."""
        late = [r for r in self.s.late if r.pending]
        if late:
            self.session.execute(sa.insert(RATING).values([self._values(r) for r in late]))
            reasons = [self._reason(r, code) for r in late for code in sorted(r.reasons)]
            if reasons:
                self.session.execute(sa.insert(RATING_REASON).values(reasons))
        for r in late:
            r.pending = False

    def _values(self, r: RatingRow) -> dict[str, Any]:
        counter = self.counters[r.counter]
        return dict(
            id=r.id,
            level=r.level,
            satisfied=SATISFIED[r.level],
            field_id=self.fields[r.field],
            unit_id=counter.unit_id,
            counter_id=counter.id,
            officer_id=self.officers[r.officer].id if r.officer is not None else None,
            channel=r.channel,
            rated_at=r.at,
            client_rated_at=r.at,
            local_date=factories.local_date(r.at),
            received_at=r.at,
            misuse=r.misuse,
        )

    def _reason(self, r: RatingRow, code: str) -> dict[str, Any]:
        return {"rating_id": r.id, "reason_id": self.reasons[code]}

    def mutate(self) -> None:
        for op, *args in self.s.mutations:
            if op == "insert_late":
                self.insert_late()
                continue
            if op == "move":
                unit, parent = args
                if parent is not None and self._in_subtree(parent, unit):
                    continue  # the service refuses a cycle; nothing to test there
                move_unit(
                    session=self.session,
                    unit=self.units[unit],
                    new_parent=self.units[parent] if parent is not None else None,
                )
                self.parents[unit] = parent
                continue
            targets = args[0] if op == "misuse_batch" else [args[0]]  # misuse_batch: one UPDATE, several rows
            live = [self.s.ratings[i] for i in dict.fromkeys(targets) if not self.s.ratings[i].deleted]
            if not live:
                continue
            ids = [r.id for r in live]
            where = RATING.c.id.in_(ids)
            if op in ("misuse", "misuse_batch"):
                self.session.execute(sa.update(RATING).where(where).values(misuse=sa.not_(RATING.c.misuse)))
                for r in live:
                    r.misuse = not r.misuse
            elif op == "level":
                self.session.execute(sa.update(RATING).where(where).values(level=args[1], satisfied=SATISFIED[args[1]]))
                live[0].level = args[1]
            elif op == "field":
                self.session.execute(sa.update(RATING).where(where).values(field_id=self.fields[args[1]]))
                live[0].field = args[1]
            elif op == "day":  # a date correction: same local time of day, another day (maybe another month)
                local = live[0].at.astimezone(HCM)
                at = datetime.combine(args[1], local.timetz()).astimezone(UTC)
                values = dict(rated_at=at, client_rated_at=at, received_at=at, local_date=factories.local_date(at))
                self.session.execute(sa.update(RATING).where(where).values(**values))
                live[0].at = at
            elif op == "counter":  # a counter correction moves the rating to that counter's unit
                counter = self.counters[args[1]]
                self.session.execute(
                    sa.update(RATING).where(where).values(counter_id=counter.id, unit_id=counter.unit_id)
                )
                live[0].counter = args[1]
            elif op == "add_reason" and args[1] not in live[0].reasons:
                self.session.execute(sa.insert(RATING_REASON).values(**self._reason(live[0], args[1])))
                live[0].reasons.add(args[1])
            elif op == "drop_reasons":
                self.session.execute(sa.delete(RATING_REASON).where(RATING_REASON.c.rating_id == live[0].id))
                live[0].reasons.clear()
            elif op == "delete":
                self.session.execute(sa.delete(RATING_REASON).where(RATING_REASON.c.rating_id == live[0].id))
                self.session.execute(sa.delete(RATING).where(where))
                live[0].deleted = True
        self.insert_late()
        self.session.flush()
        self.session.expire_all()

    # --- the brute-force recount ---

    def _ancestors(self, unit: int) -> list[int]:
        chain = [unit]
        while (parent := self.parents[chain[-1]]) is not None:
            chain.append(parent)
        return chain

    def _in_subtree(self, unit: int, root: int) -> bool:
        return root in self._ancestors(unit)

    def live(self) -> list[RatingRow]:
        return [r for r in self.s.ratings + self.s.late if not r.deleted and not r.pending]

    def expected_tables(self) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
        """Every rollup table as {key: counts}, recounted here."""
        out: dict[str, Multiset[tuple[Any, ...]]] = {
            "day": Multiset(),
            "day_reason": Multiset(),
            "month_reason": Multiset(),
            "subtree_reason": Multiset(),
        }
        month: dict[tuple[Any, ...], list[int]] = {}
        subtree: dict[tuple[Any, ...], list[int]] = {}
        for r in self.live():
            counter = self.counters[r.counter]
            unit_id, counter_id, field_id = int(counter.unit_id), int(counter.id or 0), self.fields[r.field]
            officer_id = int(self.officers[r.officer].id or 0) if r.officer is not None else 0
            day, month_start = r.local_date, r.local_date.replace(day=1)
            sat = SATISFIED[r.level]
            out["day"][(unit_id, day, counter_id, field_id, officer_id, r.channel, r.level, sat, r.misuse)] += 1
            # The unit itself and every unit above it in the tree as it is now.
            on_path = [int(self.units[u].id or 0) for u in self._ancestors(self.s.counters[r.counter])]
            # valid, satisfied, misuse, levels 1-5
            for cell in [month.setdefault((month_start, unit_id, field_id), [0] * 8)] + [
                subtree.setdefault((month_start, top, field_id), [0] * 8) for top in on_path
            ]:
                if r.misuse:
                    cell[2] += 1
                else:
                    cell[0] += 1
                    cell[1] += sat
                    cell[2 + r.level] += 1
            if not r.misuse:
                for code in r.reasons:
                    reason_id = self.reasons[code]
                    out["day_reason"][(unit_id, day, counter_id, field_id, officer_id, r.channel, reason_id)] += 1
                    out["month_reason"][(month_start, unit_id, field_id, reason_id)] += 1
                    for top in on_path:
                        out["subtree_reason"][(month_start, top, field_id, reason_id)] += 1
        tables = {name: {key: (n,) for key, n in counts.items()} for name, counts in out.items()}
        return {
            **tables,
            "month": {key: tuple(values) for key, values in month.items()},
            "subtree": {key: tuple(values) for key, values in subtree.items()},
        }

    def expected_report(
        self, period: Period, by: str | None, root: int | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        root = self.s.root if root is None else root
        overall = _blank()
        rows: dict[str, dict[str, Any]] = {}
        for r in self.live():
            unit = self.s.counters[r.counter]  # the rating's unit is its counter's unit at insert time
            if not self._in_subtree(unit, root) or not period.start <= r.local_date < period.end:
                continue
            _tally(overall, r)
            for key in self._keys(r, unit, by, root):
                _tally(rows.setdefault(key, _blank()), r)
        return overall, rows

    def _keys(self, r: RatingRow, unit: int, by: str | None, root: int) -> list[str]:
        if by is None:
            return []
        if by == "field":
            return [r.field]
        if by == "group":
            return ["all", *FIELDS[r.field]]
        if by == "unit":
            chain = self._ancestors(unit)
            below = chain[: chain.index(root)]
            return [self.units[below[-1] if below else root].code]
        if by == "counter":
            return [self.counters[r.counter].code]
        if by == "officer":
            return [self.officers[r.officer].code] if r.officer is not None else []
        if by == "channel":
            return [r.channel]
        return [f"{r.local_date:%Y-%m}"]


def _blank() -> dict[str, Any]:
    return {"n": 0, "satisfied": 0, "misuse": 0, "levels": Multiset(), "reasons": Multiset()}


def _tally(t: dict[str, Any], r: RatingRow) -> None:
    if r.misuse:
        t["misuse"] += 1
        return
    t["n"] += 1
    t["satisfied"] += SATISFIED[r.level]
    t["levels"][str(r.level)] += 1
    t["reasons"].update(r.reasons)


def _actual(row: IndexRow) -> dict[str, Any]:
    return {
        "n": row.n,
        "satisfied": row.satisfied,
        "misuse": row.misuse,
        "levels": Multiset({k: v for k, v in row.levels.items() if v}),
        "reasons": Multiset({k: v for k, v in row.reasons.items() if v}),
    }


def _table(session: Session, t: sa.Table, unit_ids: set[int]) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """A rollup table as {key: counts}."""
    keys = [c for c in t.c if c.primary_key]
    values = [c for c in t.c if not c.primary_key]
    rows = session.execute(sa.select(*keys, *values).where(t.c.unit_id.in_(unit_ids))).all()
    table = {tuple(row[: len(keys)]): tuple(row[len(keys) :]) for row in rows}
    assert all(min(v) >= 0 and max(v) > 0 for v in table.values()), f"{t.name} keeps empty or negative keys"
    return table


def check_world(session: Session, s: Scenario) -> None:
    world = World(session, s)
    world.insert_all()
    world.mutate()
    apply_pending(session)  # PostgreSQL applies a transaction's subtree changes at commit; this one reads first

    unit_ids = {int(u.id or 0) for u in world.units}
    expected = world.expected_tables()
    assert _table(session, tables.DAY_ROLLUP, unit_ids) == expected["day"]
    assert _table(session, tables.LEAF_MONTH, unit_ids) == expected["month"]
    assert _table(session, tables.DAY_REASON_ROLLUP, unit_ids) == expected["day_reason"]
    assert _table(session, tables.LEAF_REASON_MONTH, unit_ids) == expected["month_reason"]
    assert _table(session, tables.SUBTREE_MONTH, unit_ids) == expected["subtree"]
    assert _table(session, tables.SUBTREE_REASON_MONTH, unit_ids) == expected["subtree_reason"]

    period = parse_period(s.period)
    root = session.get(Unit, world.units[s.root].id)
    assert root is not None
    checks = [(by, "rollup") for by in GROUPINGS] + [(s.raw_grouping, "raw")]
    for by, source in checks:
        result = report(session, root, period, by, min_sample=30, source=source)
        want_overall, want_rows = world.expected_report(period, by)
        where = f"{s.period} by={by} source={source}"
        assert _actual(result.overall) == want_overall, where
        got = {row.key: _actual(row) for row in result.rows}
        assert len(got) == len(result.rows), f"duplicate keys, {where}"
        for key, want in want_rows.items():
            assert got.get(key) == want, f"{key}, {where}"
        for key in got.keys() - want_rows.keys():
            assert got[key] == _blank(), f"{key}, {where}"

    # Every unit of the subtree by field, each with its own subtree's totals (what the public page reads).
    for u, unit in enumerate(world.units):
        if not world._in_subtree(u, s.root):
            continue
        result = report(session, unit, period, "field", min_sample=30)
        want_overall, want_fields = world.expected_report(period, "field", root=u)
        assert _actual(result.overall) == want_overall, f"unit {unit.code}"
        got = {row.key: _actual(row) for row in result.rows}
        for code in FIELDS:
            assert got.get(code, _blank()) == want_fields.get(code, _blank()), f"unit {unit.code} {code}"


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(s=scenarios())
def test_rollups_equal_a_brute_force_recount(session: Session, s: Scenario) -> None:
    nested = session.begin_nested()  # each example starts from the same empty state
    try:
        check_world(session, s)
    finally:
        nested.rollback()
        session.expire_all()


@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(s=scenarios(units=(3, 7), moves=4))
def test_subtree_rollups_follow_unit_moves(session: Session, s: Scenario) -> None:
    """Deeper trees, ratings at every unit, and moves among the changes (late batches land on the moved tree)."""
    nested = session.begin_nested()
    try:
        check_world(session, s)
    finally:
        nested.rollback()
        session.expire_all()

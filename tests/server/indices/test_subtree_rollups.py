"""The subtree month rollups follow the tree whoever changes it, `rebuild` repairs them, and on PostgreSQL a move
and a concurrent batch cannot leave counts at the old ancestors."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from server.app import create_app
from server.db import make_engine, session_scope
from server.indices.periods import add_months
from server.indices.rollups import (
    SPECS,
    apply_pending,
    describe,
    differences,
    month_span,
    rebuild,
)
from server.models import (
    RatingReasonSubtreeMonthRollup,
    RatingSubtreeMonthRollup,
    Unit,
)
from server.units.service import import_units, move_unit
from tests import factories
from tests.browser.conftest import serve
from tests.conftest import make_settings
from tests.databases import DatabaseFactory
from tests.server.indices.test_rebuild import indices_report

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
SUBTREE_SPECS = [spec for spec in SPECS if spec.subtree]


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=HCM)


def assert_exact(session: Session) -> None:
    """Every subtree rollup key of every month equals a recount of the raw ratings under the current tree."""
    session.flush()
    for start in month_span(session):
        for spec in SUBTREE_SPECS:
            found = differences(session=session, spec=spec, start=start, end=add_months(start, 1))
            assert not found, describe(session, found)


def report(session: Session, unit: Unit, period: str, by: str | None, source: str = "rollup"):  # type: ignore[no-untyped-def]
    """`indices_report` of `unit` as the database has it now (moves change its path)."""
    session.expire_all()
    return indices_report(session, session.get(Unit, unit.id), period, by, source)  # type: ignore[arg-type]


def subtree_valid(session: Session, unit: Unit) -> int:
    apply_pending(session)
    t = RatingSubtreeMonthRollup.__table__  # type: ignore[attr-defined]
    return int(
        session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(t.c.valid), 0)).where(t.c.unit_id == unit.id)
        ).scalar_one()
    )


def test_moves_by_service_csv_import_and_plain_sql_keep_subtree_counts(session: Session) -> None:
    root = factories.unit(session, code="ST-ROOT")
    north, south = factories.unit(session, root, code="ST-N"), factories.unit(session, root, code="ST-S")
    commune = factories.unit(session, north, code="ST-N1")
    hamlet = factories.unit(session, commune, code="ST-N1A")
    for unit, n in ((north, 1), (commune, 2), (hamlet, 3), (south, 4)):
        c = factories.counter(session, unit)
        for i in range(n):
            factories.rating(session, c, level=1 + i % 4, at=at(2026, 9 + i % 2, 3), reasons=("late",) if i < 2 else ())
    assert_exact(session)
    assert (subtree_valid(session, north), subtree_valid(session, south)) == (6, 4)

    move_unit(session=session, unit=commune, new_parent=south)  # the service, with its subtree (the hamlet)
    assert_exact(session)
    assert (subtree_valid(session, north), subtree_valid(session, south), subtree_valid(session, root)) == (1, 9, 10)

    # The administrators' CSV import moves the commune back (and renames it).
    result = import_units(session=session, data="code,name,parent_code,level\nST-N1,Xã N1 mới,ST-N,xã\n")
    assert (result.created, result.updated) == (0, 1)
    assert_exact(session)
    assert (subtree_valid(session, north), subtree_valid(session, south)) == (6, 4)

    # Plain SQL, as a database administrator might: the hamlet becomes a root of its own.
    session.execute(
        sa.update(Unit).where(Unit.id == hamlet.id).values(parent_id=None, path=f"/{hamlet.id}/")  # type: ignore[arg-type]
    )
    assert_exact(session)
    assert (subtree_valid(session, north), subtree_valid(session, root), subtree_valid(session, hamlet)) == (3, 7, 3)

    for by in (None, "field", "unit", "month", "group"):
        for period in ("2026-09", "2026-Q3", "2026"):
            assert report(session, root, period, by) == report(session, root, period, by, "raw"), (by, period)


def test_rebuild_fixes_a_corrupted_subtree_row(session: Session) -> None:
    root = factories.unit(session, code="SR-ROOT")
    child = factories.unit(session, root, code="SR-C")
    c = factories.counter(session, child)
    factories.rating(session, c, level=4, field_code="land", at=at(2026, 3, 5))
    factories.rating(session, c, level=1, field_code="land", at=at(2026, 3, 6), reasons=("fees",))
    before = report(session, root, "2026-03", "field", "raw")
    assert rebuild(session=session).fixed == 0

    t = RatingSubtreeMonthRollup.__table__  # type: ignore[attr-defined]
    x = RatingReasonSubtreeMonthRollup.__table__  # type: ignore[attr-defined]
    session.execute(sa.update(t).where(t.c.unit_id == root.id).values(valid=5, level_4=4))  # drifted
    session.execute(sa.delete(x).where(x.c.unit_id == child.id))  # lost
    assert report(session, root, "2026-03", "field").overall.n == 5  # the root's report is wrong now

    found = rebuild(session=session)
    assert found.fixed == 2
    assert {name: (n.keys, n.added, n.removed) for name, n in found.totals.items() if n.keys} == {
        "rating_subtree_month_rollup": (1, 0, 3),
        "rating_reason_subtree_month_rollup": (1, 1, 0),
    }
    lines = describe(session, found.differences)
    assert "rating_subtree_month_rollup month=2026-03-01 unit=SR-ROOT field=land: valid 5 → 2, level_4 4 → 1" in lines
    assert any(line.startswith("rating_reason_subtree_month_rollup") and "unit=SR-C" in line for line in lines)
    assert rebuild(session=session).fixed == 0
    assert report(session, root, "2026-03", "field") == before


def test_truncate_empties_the_subtree_rollups(session: Session, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (DELETE goes through the row triggers the other tests cover)")
    root = factories.unit(session)
    factories.rating(session, factories.counter(session, root), level=1, at=at(2026, 3, 5), reasons=("late",))
    assert subtree_valid(session, root) == 1
    session.execute(sa.text("TRUNCATE rating, rating_reason CASCADE"))  # petitions refer to ratings
    for model in (RatingSubtreeMonthRollup, RatingReasonSubtreeMonthRollup):
        assert session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one() == 0


def _waiting_for_a_lock(engine: sa.Engine, pid: int) -> bool:
    with engine.connect() as conn:
        event = conn.execute(
            sa.text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one_or_none()
    return event == "Lock"


@pytest.mark.parametrize("first", ["batch", "move"])
def test_a_move_and_a_concurrent_batch_leave_exact_counts(db_factory: DatabaseFactory, first: str) -> None:
    """PostgreSQL: whichever transaction goes first, the other waits for it (the move locks the rating tables
    against writers), so the batch's counts end up under the unit's new ancestors, not its old ones."""
    if db_factory.backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    engine = make_engine(db_factory.new_url())
    try:
        with Session(engine) as setup:
            old, new = factories.unit(setup, code="CM-OLD"), factories.unit(setup, code="CM-NEW")
            unit = factories.unit(setup, old, code="CM-U")
            counter = factories.counter(setup, unit)
            factories.rating(setup, counter, level=4, at=at(2026, 5, 2))
            setup.commit()
            ids = {"old": old.id, "new": new.id, "unit": unit.id, "counter": counter.id}

        batch, mover = Session(engine), Session(engine)
        pids = {
            name: s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            for name, s in (("batch", batch), ("move", mover))
        }
        errors: list[BaseException] = []

        def write_batch() -> None:
            c = batch.get(type(counter), ids["counter"])
            for level in (1, 2, 3):
                factories.rating(batch, c, level=level, at=at(2026, 5, 3), reasons=("late",) if level < 3 else ())  # type: ignore[arg-type]

        def move() -> None:
            move_unit(session=mover, unit=mover.get(Unit, ids["unit"]), new_parent=mover.get(Unit, ids["new"]))  # type: ignore[arg-type]

        def second(step: object) -> None:
            try:
                step()  # type: ignore[operator]
                (batch if step is write_batch else mover).commit()
            except BaseException as exc:
                errors.append(exc)

        steps = {"batch": write_batch, "move": move}
        later = "move" if first == "batch" else "batch"
        steps[first]()  # holds its locks until it commits
        thread = threading.Thread(target=second, args=(steps[later],))
        thread.start()
        for _ in range(600):  # until the second transaction waits for the first (at most about a minute)
            if _waiting_for_a_lock(engine, pids[later]):
                break
            thread.join(0.1)
        assert _waiting_for_a_lock(engine, pids[later]), "the second transaction did not wait for the first"
        (batch if first == "batch" else mover).commit()
        thread.join(60)
        assert not thread.is_alive() and not errors, errors
        batch.close()
        mover.close()

        with Session(engine) as check:
            assert_exact(check)
            old_u, new_u = check.get(Unit, ids["old"]), check.get(Unit, ids["new"])
            assert (subtree_valid(check, old_u), subtree_valid(check, new_u)) == (0, 4)  # type: ignore[arg-type]
            assert report(check, new_u, "2026-05", "unit") == report(check, new_u, "2026-05", "unit", "raw")  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_no_month_without_ratings_is_listed(session: Session) -> None:
    """A unit created and moved without ratings writes no subtree rows."""
    a, b = factories.unit(session), factories.unit(session)
    move_unit(session=session, unit=b, new_parent=a)
    t = RatingSubtreeMonthRollup.__table__  # type: ignore[attr-defined]
    rows = sa.select(sa.func.count()).select_from(t).where(t.c.unit_id.in_([a.id, b.id]))
    assert session.execute(rows).scalar_one() == 0


def test_concurrent_batches_that_flag_stored_ratings_neither_deadlock_nor_drift(db_factory: DatabaseFactory) -> None:
    """PostgreSQL, through the real server: kiosks of two provinces send batches at once, each with a press that
    arrives late and turns a stored rating into a rapid repeat (the ingest then updates that rating after inserting
    the batch and its reasons). Every transaction touches the province's and the root's rows; applied statement by
    statement they deadlocked; applied at commit in key order they do not."""
    if db_factory.backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    url = db_factory.new_url()
    engine = make_engine(url)
    tokens = []
    kiosks, batches = 12, 25  # statement-by-statement upserts met about 40 deadlocks here
    with session_scope(engine) as s:
        root = factories.unit(s, code="DL-ROOT")
        provinces = [factories.unit(s, root, code=f"DL-P{i}") for i in range(2)]
        for d in range(kiosks):
            commune = factories.unit(s, provinces[d % 2], code=f"DL-X{d}")
            _, token = factories.kiosk_device(s, factories.counter(s, commune))
            tokens.append(token)
    statuses: list[int] = []

    def kiosk(d: int) -> None:
        rng = random.Random(d)
        start = datetime.now(HCM) - timedelta(days=1)
        with httpx.Client(base_url=base, timeout=120) as client:
            for k in range(batches):
                t0 = start + timedelta(minutes=k)
                items = []
                for i in range(5):
                    level = rng.randint(1, 4)
                    items.append(
                        {
                            "id": str(uuid.uuid4()),
                            "level": level,
                            "field": rng.choice(["land", "tax", "health", "justice", "construction"]),
                            "reasons": [rng.choice(["late", "waiting", "attitude"])] if level <= 2 else [],
                            "rated_at": (t0 + timedelta(seconds=10 * i)).isoformat(),
                        }
                    )
                if k:  # one second before the previous batch's first press, which becomes a repeat
                    late = t0 - timedelta(minutes=1, seconds=1)
                    field = rng.choice(["land", "tax", "health", "justice", "construction"])
                    late_press = {"id": str(uuid.uuid4()), "level": 1, "field": field, "reasons": ["late"]}
                    items.append({**late_press, "rated_at": late.isoformat()})
                answer = client.post(
                    "/api/v1/ratings", json={"ratings": items}, headers={"Authorization": f"Bearer {tokens[d]}"}
                )
                statuses.append(answer.status_code)

    with serve(create_app(make_settings(url))) as base:
        threads = [threading.Thread(target=kiosk, args=(d,)) for d in range(len(tokens))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    try:
        assert statuses == [200] * (kiosks * batches), Counter(statuses)
        with engine.connect() as conn:
            flagged = conn.execute(sa.text("SELECT count(*) FROM rating WHERE misuse")).scalar_one()
            deadlocks = conn.execute(
                sa.text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        assert (flagged, deadlocks) == (kiosks * (batches - 1), 0)
        with Session(engine) as check:
            assert_exact(check)
    finally:
        engine.dispose()

"""PostgreSQL: a transaction's subtree deltas wait for its commit in a transaction-local setting (migration 0010),
moving to `rating_subtree_pending` when a transaction grows large; either way the counts stay exact."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from server.db import make_engine
from server.models import RatingReasonSubtreeMonthRollup, RatingSubtreeMonthRollup, Unit
from tests import factories
from tests.databases import DatabaseFactory
from tests.server.indices.test_subtree_rollups import assert_exact, at, subtree_valid

PENDING_SETTING = "hailong.subtree_pending"


@pytest.fixture
def pg_session(session: Session, backend: str) -> Iterator[Session]:
    if backend != "postgresql":
        pytest.skip("SQLite applies every change at once (row-level triggers)")
    yield session


def _held(session: Session) -> str:
    return str(session.execute(sa.text(f"SELECT current_setting('{PENDING_SETTING}', true)")).scalar_one() or "")


def _pending_rows(session: Session) -> int:
    return int(session.execute(sa.text("SELECT count(*) FROM rating_subtree_pending")).scalar_one())


def _tree(session: Session) -> tuple[Unit, Unit, Unit]:
    root = factories.unit(session)
    north, south = factories.unit(session, root), factories.unit(session, root)
    return root, north, south


def test_a_batch_leaves_no_row_behind(pg_session: Session) -> None:
    session = pg_session
    root, north, _ = _tree(session)
    factories.rating(session, factories.counter(session, north), level=4, at=at(2026, 5, 2), reasons=("late",))
    assert _held(session) != ""  # waiting for the commit, in the transaction only
    assert _pending_rows(session) == 0
    assert subtree_valid(session, root) == 1
    assert _held(session) == ""
    assert_exact(session)


def test_a_rolled_back_savepoint_takes_its_deltas_back(pg_session: Session) -> None:
    session = pg_session
    root, north, south = _tree(session)
    kept = factories.counter(session, north)
    factories.rating(session, kept, level=4, at=at(2026, 5, 2), reasons=("fees",))
    nested = session.begin_nested()
    factories.rating(session, factories.counter(session, south), level=1, at=at(2026, 5, 3), reasons=("late",))
    factories.rating(session, kept, level=2, at=at(2026, 6, 3))
    nested.rollback()
    assert subtree_valid(session, root) == 1
    assert_exact(session)

    # A savepoint opened with nothing pending: the note on the flush table goes with it too, and comes back.
    nested = session.begin_nested()
    factories.rating(session, kept, level=3, at=at(2026, 5, 4), reasons=("late",))
    nested.rollback()
    factories.rating(session, kept, level=1, at=at(2026, 5, 5))
    assert subtree_valid(session, root) == 2
    assert_exact(session)


def test_a_large_transaction_moves_its_deltas_to_the_table_and_stays_exact(pg_session: Session) -> None:
    session = pg_session
    root, north, south = _tree(session)
    first, second = factories.counter(session, north), factories.counter(session, south)
    factories.rating(session, first, level=4, at=at(2024, 1, 9), reasons=("late",))  # held in the setting
    # One statement with 14 fields × 36 months of leaf keys: more than the setting keeps (64 KB of JSON).
    session.execute(
        sa.text(
            "INSERT INTO rating (id, level, satisfied, field_id, unit_id, counter_id, channel, misuse, "
            "contact_consent, rated_at, client_rated_at, received_at, local_date) "
            "SELECT gen_random_uuid(), 1 + (m + f.id) % 4, (m + f.id) % 4 >= 2, f.id, :unit, :counter, 'kiosk', "
            "m % 7 = 0, false, d, d, d, CAST(d AS date) "
            "FROM field AS f, generate_series(0, 35) AS m, "
            "LATERAL (SELECT timestamptz '2024-01-15 03:00+00' + m * interval '1 month' AS d) AS t"
        ),
        {"unit": south.id, "counter": second.id},
    )
    assert _pending_rows(session) > 0
    factories.rating(session, first, level=2, at=at(2026, 2, 9), reasons=("fees",))  # after the move: setting
    assert _held(session) != ""
    expected = 2 + int(
        session.execute(
            sa.text("SELECT count(*) FROM rating WHERE NOT misuse AND unit_id = :u"), {"u": south.id}
        ).scalar_one()
    )
    assert subtree_valid(session, root) == expected
    assert _pending_rows(session) == 0 and _held(session) == ""
    assert_exact(session)
    # The next deltas are held in the setting again.
    factories.rating(session, first, level=4, at=at(2026, 2, 10))
    assert _pending_rows(session) == 0 and _held(session) != ""
    assert_exact(session)


def test_truncating_reasons_drops_only_their_pending_deltas(pg_session: Session) -> None:
    session = pg_session
    root, north, _ = _tree(session)
    c = factories.counter(session, north)
    factories.rating(session, c, level=4, at=at(2026, 5, 2), reasons=("late", "fees"))
    factories.rating(session, c, level=1, at=at(2026, 5, 3), reasons=("late",))
    session.execute(sa.text("TRUNCATE rating_reason"))
    assert subtree_valid(session, root) == 2
    assert session.execute(sa.select(sa.func.count()).select_from(RatingReasonSubtreeMonthRollup)).scalar_one() == 0
    assert_exact(session)
    session.execute(sa.text("TRUNCATE rating, rating_reason CASCADE"))  # petitions reference ratings
    for model in (RatingSubtreeMonthRollup, RatingReasonSubtreeMonthRollup):
        assert session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one() == 0


def _scans(session: Session) -> dict[str, int]:
    rows = session.execute(
        sa.text("SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname IN ('rating', 'rating_reason')")
    ).all()
    return {name: int(n) for name, n in rows}


def test_the_triggers_look_ratings_and_reasons_up_by_key(db_factory: DatabaseFactory) -> None:
    """The rollup triggers find a reason's rating (and a rating's reasons) through the primary keys, never by
    scanning the tables, even with the plans they were given when the tables were empty (migration 0010)."""
    if db_factory.backend != "postgresql":
        pytest.skip("SQLite's row-level triggers look rows up by key")
    engine = make_engine(db_factory.new_url(), pool_size=1)
    try:
        with Session(engine) as session:
            _, north, _ = _tree(session)
            c = factories.counter(session, north)
            # The triggers' plans are made now, with empty tables, and kept by the session.
            factories.rating(session, c, level=1, at=at(2026, 5, 1), reasons=("late",))
            session.commit()
            for i in range(60):
                factories.rating(session, c, level=1 + i % 4, at=at(2026, 5, 2 + i % 20), reasons=("late",))
            session.commit()
            before = _scans(session)
            stored = [factories.rating(session, c, level=2, at=at(2026, 5, 9), reasons=("late", "fees")) for _ in "ab"]
            session.execute(sa.text("UPDATE rating SET misuse = true WHERE id = :id"), {"id": stored[0].id})
            session.execute(sa.text("DELETE FROM rating_reason WHERE rating_id = :id"), {"id": stored[1].id})
            session.execute(sa.text("DELETE FROM rating WHERE id = :id"), {"id": stored[1].id})
            assert _scans(session) == before
            assert_exact(session)
            session.commit()
    finally:
        engine.dispose()

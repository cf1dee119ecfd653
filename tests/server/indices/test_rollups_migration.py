"""Migrations 0005 and 0008 fill the rollups from ratings already stored, and their downgrades leave no trigger
behind."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from server.indices.rollups import rebuild
from tests.databases import DatabaseFactory, at_revision
from tests.test_migrations import rating_row

# Only the columns revision 0002 has, so later migrations adding columns do not break the test.
unit = sa.table("unit", *(sa.column(c) for c in ("id", "code", "name", "parent_id", "level", "active", "path")))
counter = sa.table("counter", *(sa.column(c) for c in ("id", "code", "unit_id", "name", "active")))
rating = sa.table(
    "rating",
    sa.column("id", sa.Uuid()),
    *(sa.column(c) for c in ("level", "satisfied", "field_id", "unit_id", "counter_id", "channel", "misuse")),
    sa.column("contact_consent"),
    *(sa.column(c, sa.DateTime(timezone=True)) for c in ("rated_at", "client_rated_at", "received_at")),
    sa.column("local_date", sa.Date()),
)
rating_reason = sa.table("rating_reason", sa.column("rating_id", sa.Uuid()), sa.column("reason_id"))


def _rating(level: int, day: date, misuse: bool = False) -> dict[str, object]:
    return rating_row(
        datetime(day.year, day.month, day.day, 3, tzinfo=UTC), level=level, satisfied=level >= 3, misuse=misuse
    )


MONTH_ROWS = (
    "SELECT month, valid, satisfied, misuse, level_1, level_2, level_3, level_4 FROM rating_month_rollup ORDER BY month"
)
SUBTREE_ROWS = (
    "SELECT month, unit_id, valid, satisfied, misuse, level_1, level_4 FROM rating_subtree_month_rollup "
    "ORDER BY month, unit_id"
)


def _rows(engine: sa.Engine, sql: str) -> list[tuple[object, ...]]:
    """The rows of `sql`, its first column (a month) as ISO text."""
    with engine.connect() as conn:
        return [(str(r[0])[:10], *r[1:]) for r in conn.execute(sa.text(sql))]  # SQLite returns the date as text


def test_upgrade_fills_rollups_and_downgrade_removes_triggers(db_factory: DatabaseFactory) -> None:
    with at_revision(db_factory, "0002") as (_, cfg, engine):
        before = [_rating(4, date(2026, 1, 5)), _rating(1, date(2026, 1, 6)), _rating(2, date(2026, 2, 1), misuse=True)]
        with engine.begin() as conn:
            conn.execute(
                sa.insert(unit).values(id=1, code="M", name="M", parent_id=None, level="", active=True, path="/1/")
            )
            conn.execute(sa.insert(counter).values(id=1, code="M-1", unit_id=1, name="Q", active=True))
            conn.execute(sa.insert(rating), before)
            conn.execute(sa.insert(rating_reason), [{"rating_id": before[1]["id"], "reason_id": 1}])
        command.upgrade(cfg, "head")
        assert _rows(engine, MONTH_ROWS) == [("2026-01-01", 2, 1, 0, 1, 0, 0, 1), ("2026-02-01", 0, 0, 1, 0, 0, 0, 0)]
        with Session(engine) as session:
            assert rebuild(session=session).fixed == 0
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT sum(n) FROM rating_reason_month_rollup")).scalar_one() == 1

        command.downgrade(cfg, "0002")
        with engine.begin() as conn:  # no trigger left that writes to a dropped table
            conn.execute(sa.insert(rating), [_rating(3, date(2026, 1, 7))])
        command.upgrade(cfg, "head")
        assert _rows(engine, MONTH_ROWS)[0] == ("2026-01-01", 3, 2, 0, 1, 0, 1, 1)


def test_0008_fills_subtree_rollups_and_its_downgrade_removes_its_triggers(db_factory: DatabaseFactory) -> None:
    with at_revision(db_factory, "0007") as (_, cfg, engine):
        ratings = [
            _rating(4, date(2026, 1, 5)),
            _rating(1, date(2026, 1, 6)),
            _rating(2, date(2026, 2, 1), misuse=True),
        ]
        ratings[1]["unit_id"] = ratings[1]["counter_id"] = 2  # at the commune, below the province
        with engine.begin() as conn:
            conn.execute(
                sa.insert(unit),
                [
                    dict(id=1, code="P", name="P", parent_id=None, level="", active=True, path="/1/"),
                    dict(id=2, code="X", name="X", parent_id=1, level="", active=True, path="/1/2/"),
                ],
            )
            conn.execute(
                sa.insert(counter),
                [
                    dict(id=1, code="P-1", unit_id=1, name="Q", active=True),
                    dict(id=2, code="X-1", unit_id=2, name="Q", active=True),
                ],
            )
            conn.execute(sa.insert(rating), ratings)
            conn.execute(sa.insert(rating_reason), [{"rating_id": ratings[1]["id"], "reason_id": 1}])
        command.upgrade(cfg, "head")
        # month, unit, valid, satisfied, misuse, level_1, level_4: the province counts its commune too
        filled = [
            ("2026-01-01", 1, 2, 1, 0, 1, 1),
            ("2026-01-01", 2, 1, 0, 0, 1, 0),
            ("2026-02-01", 1, 0, 0, 1, 0, 0),
        ]
        assert _rows(engine, SUBTREE_ROWS) == filled
        with Session(engine) as session:
            assert rebuild(session=session).fixed == 0
        with engine.connect() as conn:
            reasons = "SELECT unit_id, n FROM rating_reason_subtree_month_rollup ORDER BY unit_id"
            assert conn.execute(sa.text(reasons)).all() == [(1, 1), (2, 1)]

        command.downgrade(cfg, "0007")
        with engine.begin() as conn:  # no trigger left that writes to a dropped table, on ratings nor on unit paths
            conn.execute(sa.insert(rating), [_rating(3, date(2026, 1, 7))])
            conn.execute(sa.text("UPDATE unit SET parent_id = NULL, path = '/2/' WHERE id = 2"))
        command.upgrade(cfg, "head")
        assert _rows(engine, SUBTREE_ROWS) == [
            ("2026-01-01", 1, 2, 2, 0, 0, 1),
            ("2026-01-01", 2, 1, 0, 0, 1, 0),
            ("2026-02-01", 1, 0, 0, 1, 0, 0),
        ]

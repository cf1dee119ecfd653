"""Migration 0015 (issue 18): visits learn who registered them, from the audit log where it can tell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command

from server.db import UTCDateTime
from tests.databases import DatabaseFactory, at_revision

T = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
VISIT = sa.table(
    "visit",
    sa.column("id"),
    sa.column("token"),
    sa.column("counter_id"),
    sa.column("field_id"),
    sa.column("officer_id"),
    sa.column("created_at", UTCDateTime()),
    sa.column("expires_at", UTCDateTime()),
)
AUDIT = sa.table(
    "audit_log",
    sa.column("at", UTCDateTime()),
    sa.column("actor"),
    sa.column("action"),
    sa.column("target"),
    sa.column("detail"),
)
USER = sa.table(
    "app_user",
    sa.column("id"),
    sa.column("username"),
    sa.column("password_hash"),
    sa.column("role"),
    sa.column("display_name"),
    sa.column("active"),
    sa.column("created_at", UTCDateTime()),
)
KEY = sa.table(
    "api_key",
    sa.column("id"),
    sa.column("kind"),
    sa.column("unit_id"),
    sa.column("key_hash"),
    sa.column("prefix"),
    sa.column("label"),
    sa.column("created_at", UTCDateTime()),
)


def _visit(visit_id: int, at: datetime, field_id: int) -> dict[str, object]:
    return {
        "id": visit_id,
        "token": f"tok{visit_id}",
        "counter_id": 1,
        "field_id": field_id,
        "officer_id": None,
        "created_at": at,
        "expires_at": at + timedelta(days=30),
    }


def _audit(at: datetime, actor: str, detail: str, action: str = "visit.create") -> dict[str, object]:
    """An audit log entry about counter C1."""
    return {"at": at, "actor": actor, "action": action, "target": "C1", "detail": detail}


def test_0015_fills_the_creators_from_the_audit_log_and_round_trips(db_factory: DatabaseFactory) -> None:
    with at_revision(db_factory, "0011") as (_, cfg, engine):
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO unit (id, code, name, parent_id, level, active, path) "
                    "VALUES (1, 'U', 'U', NULL, '', true, '/1/')"
                )
            )
            conn.execute(
                sa.text("INSERT INTO counter (id, code, unit_id, name, active) VALUES (1, 'C1', 1, 'C', true)")
            )
            land, justice = (
                conn.execute(sa.text("SELECT id FROM field WHERE code = :c"), {"c": c}).scalar_one()
                for c in ("land", "justice")
            )
            conn.execute(
                sa.insert(USER),
                [
                    dict(id=i, username=name, role=role, password_hash="x", display_name="", active=True, created_at=T)
                    for i, name, role in ((7, "cb", "officer"), (8, "ql", "manager"))
                ],
            )
            conn.execute(
                sa.insert(KEY),
                [
                    {
                        "id": 3,
                        "kind": "visits",
                        "unit_id": 1,
                        "key_hash": "h",
                        "prefix": "abcd1234",
                        "label": "",
                        "created_at": T,
                    }
                ],
            )
            conn.execute(
                sa.insert(VISIT),
                [
                    _visit(1, T, land),  # by the officer's session through the API
                    _visit(2, T + timedelta(minutes=5), land),  # by the one-stop system's key
                    _visit(3, T + timedelta(minutes=10), justice),  # by the manager's session
                    _visit(4, T + timedelta(minutes=20), land),  # from the console: never audited
                    _visit(5, T + timedelta(minutes=30), land),  # audited two minutes later: too late to match
                ],
            )
            conn.execute(
                sa.insert(AUDIT),
                [
                    _audit(T + timedelta(milliseconds=8), "cb", "land"),
                    _audit(T + timedelta(minutes=5, milliseconds=3), "apikey:abcd1234", "land"),
                    _audit(T + timedelta(minutes=10, milliseconds=5), "ql", "justice"),
                    _audit(T + timedelta(minutes=32), "cb", "land"),
                    _audit(T + timedelta(minutes=20, milliseconds=5), "cb", "land", action="export.csv"),
                ],
            )
        command.upgrade(cfg, "0015")
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT id, created_by_kind, created_by_user_id, created_by_key_id FROM visit ORDER BY id")
            ).all()
        assert [tuple(row) for row in found] == [
            (1, "officer_session", 7, None),
            (2, "api_key", None, 3),
            (3, "manager_session", 8, None),
            (4, None, None, None),
            (5, None, None, None),
        ]
        command.downgrade(cfg, "0011")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("visit")}
        assert not {"created_by_kind", "created_by_user_id", "created_by_key_id"} & columns
        command.upgrade(cfg, "head")
        command.check(cfg)

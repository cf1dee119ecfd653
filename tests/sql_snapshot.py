"""What the database has installed (functions and triggers), as text, for the checked-in snapshot.

`migrations/sql/installed.<dialect>.snapshot` is this text for a database migrated to head. The test in
`tests/test_sql_snapshot.py` compares the two, so every change to the SQL that runs inside the database shows as a
reviewable diff. Regenerate after a deliberate change: `python -m tests.sql_snapshot` (both dialects when
TEST_DATABASE_URL is set, else SQLite only).
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from server import PROJECT_ROOT

SNAPSHOT_DIR = PROJECT_ROOT / "migrations" / "sql"


def snapshot_path(dialect: str) -> Path:
    """The checked-in snapshot of `dialect`'s installed functions and triggers."""
    return SNAPSHOT_DIR / f"installed.{dialect}.snapshot"


def installed_sql(engine: sa.Engine) -> str:
    """Every function and trigger definition in the database, sorted by name, as one text."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            functions = conn.execute(
                sa.text(
                    "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', "
                    "pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = 'public' ORDER BY 1"
                )
            ).all()
            triggers = conn.execute(
                sa.text(
                    "SELECT t.tgname || ' ON ' || c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1"
                )
            ).all()
            parts = [f"-- function {name}\n{body.strip()};\n" for name, body in functions]
            parts += [f"-- trigger {name}\n{body.strip()};\n" for name, body in triggers]
        else:
            rows = conn.execute(
                sa.text("SELECT type, name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
            ).all()
            parts = [f"-- {kind} {name}\n{body.strip()};\n" for kind, name, body in rows]
    header = (
        f"-- What a {engine.dialect.name} database migrated to head has installed (tests/sql_snapshot.py).\n"
        "-- Generated: do not edit. Change the migrations' .sql files, then regenerate with\n"
        "-- `python -m tests.sql_snapshot` and review the diff.\n\n"
    )
    return header + "\n".join(parts)


def main() -> None:
    """Rewrite the snapshots from freshly migrated databases."""
    from tests.databases import BACKENDS, DatabaseFactory

    for backend in BACKENDS:
        factory = DatabaseFactory(backend)
        try:
            engine = sa.create_engine(factory.new_url())
            try:
                snapshot_path(backend).write_text(installed_sql(engine), encoding="utf-8")
            finally:
                engine.dispose()
        finally:
            factory.close()
        print(f"wrote {snapshot_path(backend).relative_to(PROJECT_ROOT)}")
    if "TEST_DATABASE_URL" not in os.environ:
        print("TEST_DATABASE_URL is not set: the PostgreSQL snapshot was not regenerated")


if __name__ == "__main__":
    main()

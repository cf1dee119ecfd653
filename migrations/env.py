"""Alembic environment: the central store's schema comes only from these migrations."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import server.models  # noqa: F401  (registers every table on the metadata)
from server.config import Settings
from server.db import make_engine

config = context.config
target_metadata = SQLModel.metadata

#: Foreign keys of `rating` (as the models declare them) that PostgreSQL enforces on `rating_rollup` instead,
#: once per rollup key rather than once per inserted rating (migration 0009): column and referenced column.
FOREIGN_KEYS_ON_ROLLUPS = {
    ("unit_id", "unit.id"),
    ("counter_id", "counter.id"),
    ("field_id", "field.id"),
    ("level", "scale_level.level"),
}


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """The drift check compares everything but the foreign keys PostgreSQL keeps on the rollup."""
    if type_ != "foreign_key_constraint" or context.get_bind().dialect.name != "postgresql":
        return True
    moved = len(obj.elements) == 1 and (obj.elements[0].parent.name, obj.elements[0].target_fullname) in (
        FOREIGN_KEYS_ON_ROLLUPS
    )
    # Declared on rating in the models, present on rating_rollup in the database.
    return not moved or obj.table.name != ("rating_rollup" if reflected else "rating")


def _configure(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Batch operations rebuild a table (create a copy, drop the table, rename the copy). Since SQLite 3.26 a rename
        # re-checks every trigger that names the table, and one on another table (the dossier flags' trigger on
        # `rating` reads `visit`) fails while the table is gone. The legacy rename checks nothing: the trigger then
        # names the table again once the copy has its name.
        # Straight on the driver's connection: through SQLAlchemy the PRAGMA would begin the transaction that Alembic
        # expects to begin (and commit) itself.
        connection.connection.dbapi_connection.execute("PRAGMA legacy_alter_table = ON")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include_object,
    )


def run_migrations_online() -> None:
    """Run against the connection a caller passed in, or one to DATABASE_URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("database_url") or Settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()

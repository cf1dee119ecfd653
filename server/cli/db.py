"""`hailong db upgrade | downgrade | current`: the schema (Alembic migrations)."""

from __future__ import annotations

from typing import Annotated

import typer
from alembic import command as alembic_command
from alembic.runtime.migration import MigrationContext

from server.cli.core import alembic_config, app, connect, load_settings
from server.db import safe_url
from server.terminal import echo

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations to DATABASE_URL (creates the SQLite file when needed)."""
    settings = load_settings()
    connect(settings).dispose()
    alembic_command.upgrade(alembic_config(settings), revision)
    echo(f"database at {safe_url(settings.database_url)} is at {revision}", err=True)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1")]) -> None:
    """Revert migrations (destroys data in the tables they drop)."""
    settings = load_settings()
    connect(settings).dispose()
    alembic_command.downgrade(alembic_config(settings), revision)


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision."""
    settings = load_settings()
    engine = connect(settings)
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    echo(", ".join(heads) or "(empty: run `hailong db upgrade`)")

"""`hailong dossiers import`: dossiers from the one-stop electronic system's export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from server.cli.core import app, engine_of, load_settings, open_session, progress_bar, read_input_file
from server.db import session_scope
from server.terminal import echo

dossiers_app = typer.Typer(help="Dossiers from the one-stop electronic system.", no_args_is_help=True)
app.add_typer(dossiers_app, name="dossiers")


@dossiers_app.command("import")
def dossiers_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: code,unit,received_at,due_at and optionally field,procedure_code,completed_at,status"
        ),
    ],
) -> None:
    """Create or update dossiers from the one-stop system's export: the whole file is checked first (a bad line
    imports nothing), then written in chunks of 1,000, each its own short transaction."""
    from server.dossiers.service import CHUNK, check_csv, import_rows

    settings = load_settings()
    data = read_input_file(file)
    with open_session(settings) as session:
        rows = check_csv(session=session, data=data)
        session.commit()  # the check only read: no transaction stays open while the chunks run their own
        engine = engine_of(session)
        with progress_bar() as bar:
            task = bar.add_task(f"dossiers ({CHUNK:,} a transaction)", total=len(rows))
            result = import_rows(
                session_factory=lambda: session_scope(engine),
                rows=rows,
                tz=settings.tz,
                progress=lambda done: bar.update(task, completed=done),
            )
    echo(f"dossiers: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")

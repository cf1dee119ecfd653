"""`hailong units import`, `hailong counters import`: the organisation tree and its counters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from server.cli.core import app, load_settings, open_session, read_input_file
from server.terminal import echo

units_app = typer.Typer(help="Units (the organisation tree).", no_args_is_help=True)
counters_app = typer.Typer(help="Counters of units.", no_args_is_help=True)
app.add_typer(units_app, name="units")
app.add_typer(counters_app, name="counters")


@units_app.command("import")
def units_import(
    file: Annotated[
        Path, typer.Argument(help="CSV (, or ;, UTF-8 or UTF-16) or XLSX with columns code,name,parent_code,level")
    ],
) -> None:
    """Create or update units from a CSV or XLSX file (all or nothing)."""
    from server.units.service import import_units

    settings = load_settings()
    data = read_input_file(file)
    with open_session(settings) as session:
        result = import_units(session=session, data=data)
    echo(f"units: {result.created} created, {result.updated} updated")


@counters_app.command("import")
def counters_import(
    file: Annotated[
        Path, typer.Argument(help="CSV (, or ;, UTF-8 or UTF-16) or XLSX with columns code,unit_code,name")
    ],
) -> None:
    """Create or update counters from a CSV or XLSX file (all or nothing)."""
    from server.units.service import import_counters

    settings = load_settings()
    data = read_input_file(file)
    with open_session(settings) as session:
        result = import_counters(session=session, data=data)
    echo(f"counters: {result.created} created, {result.updated} updated")

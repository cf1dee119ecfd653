"""`hailong units import`, `hailong counters import`: the organisation tree and its counters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from server.cli.core import app, load_settings, open_session, read_input_file
from server.terminal import echo

if TYPE_CHECKING:
    from server.units.service import ImportResult

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

    _import_file(file, import_units, "units")


@counters_app.command("import")
def counters_import(
    file: Annotated[
        Path, typer.Argument(help="CSV (, or ;, UTF-8 or UTF-16) or XLSX with columns code,unit_code,name")
    ],
) -> None:
    """Create or update counters from a CSV or XLSX file (all or nothing)."""
    from server.units.service import import_counters

    _import_file(file, import_counters, "counters")


def _import_file(file: Path, import_rows: Callable[..., ImportResult], what: str) -> None:
    """Read `file`, import its rows in one transaction, say how many were created and updated."""
    settings = load_settings()
    data = read_input_file(file)
    with open_session(settings) as session:
        result = import_rows(session=session, data=data)
    echo(f"{what}: {result.created} created, {result.updated} updated")

"""`hailong`: the command line for servers, cron jobs and administrators.

Every command works from any working directory and answers bad input with one line on stderr and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import sqlalchemy as sa
import typer
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server import PROJECT_ROOT
from server.config import Settings
from server.db import DatabaseUnavailable, check_database, make_engine, safe_url, session_scope
from server.errors import AppError
from server.models import Unit

app = typer.Typer(
    name="hailong",
    help="Hài Lòng: citizen-satisfaction ratings at one-stop service desks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
units_app = typer.Typer(help="Units (the organisation tree).", no_args_is_help=True)
counters_app = typer.Typer(help="Counters of units.", no_args_is_help=True)
user_app = typer.Typer(help="People who log in.", no_args_is_help=True)
apikey_app = typer.Typer(help="Keys for other systems.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(units_app, name="units")
app.add_typer(counters_app, name="counters")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")


class CliError(Exception):
    """A failure to report as one line."""


def fail(message: str) -> NoReturn:
    """Stop the command with a one-line error."""
    raise CliError(message)


def load_settings() -> Settings:
    """Settings from the environment, with configuration errors as one line."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "invalid setting")).removeprefix("Value error, ")
        fail(f"configuration: {where + ': ' if where else ''}{message}")


def connect(settings: Settings) -> Engine:
    """An engine whose database answers (a clear error otherwise)."""
    engine = make_engine(settings.database_url)
    check_database(engine)
    return engine


def alembic_config(settings: Settings) -> AlembicConfig:
    """Alembic configured for this checkout's migrations and the settings' database, from any directory."""
    cfg = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = settings.database_url
    return cfg


def ensure_migrated(engine: Engine, settings: Settings) -> None:
    """Refuse to work on a database whose schema is not at the latest migration."""
    heads = set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        fail(f"the database at {safe_url(engine.url)} is not migrated to the latest schema; run `hailong db upgrade`")


def read_input_file(path: Path) -> bytes:
    """The bytes of an input file, or a one-line error."""
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")


def progress_bar() -> Progress:
    """The progress bar long commands show (on stderr, so stdout stays clean for scripts)."""
    from rich.console import Console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (PostgreSQL for more than 1)")] = 1,
) -> None:
    """Run the central server."""
    import uvicorn

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    engine.dispose()
    if workers > 1 and settings.is_sqlite:
        typer.echo("hailong: note: several workers on SQLite serialise writes; use PostgreSQL in production", err=True)
    typer.echo(f"Hài Lòng on http://{host}:{port}  (database: {safe_url(settings.database_url)})", err=True)
    uvicorn.run(
        "server.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations to DATABASE_URL (creates the SQLite file when needed)."""
    settings = load_settings()
    connect(settings).dispose()
    alembic_command.upgrade(alembic_config(settings), revision)
    typer.echo(f"database at {safe_url(settings.database_url)} is at {revision}", err=True)


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
    typer.echo(", ".join(heads) or "(empty: run `hailong db upgrade`)")


@app.command("seed-demo")
def seed_demo_command(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and end month give the same data")] = 1,
    end_month: Annotated[str | None, typer.Option(help="Last month of data, YYYY-MM (default: this month)")] = None,
    months: Annotated[int, typer.Option(min=1, max=60, help="How many months of ratings")] = 12,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when the database has units")] = False,
) -> None:
    """Load demo units, counters, officers and about a year of ratings."""
    from server.demo import seed_demo

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    today = date.today()
    if end_month:
        try:
            year, month = (int(p) for p in end_month.split("-"))
            end = date(year, month, 1)
        except ValueError:
            fail(f"--end-month must look like 2026-10, not {end_month!r}")
    else:
        end = date(today.year, today.month, 1)
    with Session(engine) as probe:
        has_units = probe.exec(select(Unit.id).limit(1)).first() is not None
    if has_units:
        if if_empty:
            typer.echo("demo data: the database already has units; nothing to do", err=True)
            return
        fail("the database already has units; seed-demo only fills an empty database (use --if-empty to skip)")
    with progress_bar() as bar, session_scope(engine) as session:
        task = bar.add_task("demo ratings", total=None)
        summary = seed_demo(
            session=session,
            seed=seed,
            end_month=end,
            months=months,
            tz=settings.tz,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    typer.echo(
        f"demo data: {summary.units} units, {summary.counters} counters, {summary.officers} officers, "
        f"{summary.ratings} ratings, {summary.visits} visits"
    )


@units_app.command("import")
def units_import(file: Annotated[Path, typer.Argument(help="CSV with columns code,name,parent_code,level")]) -> None:
    """Create or update units from a CSV file (all or nothing)."""
    from server.units.service import import_units

    settings = load_settings()
    data = read_input_file(file)
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        result = import_units(session=session, data=data)
    typer.echo(f"units: {result.created} created, {result.updated} updated")


@counters_app.command("import")
def counters_import(file: Annotated[Path, typer.Argument(help="CSV with columns code,unit_code,name")]) -> None:
    """Create or update counters from a CSV file (all or nothing)."""
    from server.units.service import import_counters

    settings = load_settings()
    data = read_input_file(file)
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        result = import_counters(session=session, data=data)
    typer.echo(f"counters: {result.created} created, {result.updated} updated")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[str, typer.Option(help="admin | manager | officer")],
    unit: Annotated[str | None, typer.Option(help="Unit code (the user sees this unit and its subtree)")] = None,
    officer: Annotated[str | None, typer.Option(help="Officer code, for an officer's own figures")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create a login; asks for the password twice, or reads one line from stdin."""
    from server.auth.service import create_user
    from server.models import Officer
    from server.units.service import get_unit

    settings = load_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        unit_row = get_unit(session=session, code=unit) if unit else None
        officer_row = None
        if officer:
            officer_row = session.exec(select(Officer).where(Officer.code == officer)).first()
            if officer_row is None:
                fail(f"unknown officer {officer!r}")
        user = create_user(
            session=session, username=username, password=password, role=role, unit=unit_row, officer=officer_row
        )
    typer.echo(f"user {user.username} ({user.role}) created")


@apikey_app.command("create")
def apikey_create(
    kind: Annotated[str, typer.Option(help="visits (register visits) | read (indices and exports)")],
    unit: Annotated[str, typer.Option(help="Unit code: the key covers this unit and its subtree")],
    label: Annotated[str, typer.Option(help="A note to tell keys apart")] = "",
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from server.auth.service import audit, create_api_key
    from server.units.service import get_unit

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        row, key = create_api_key(session=session, kind=kind, unit=get_unit(session=session, code=unit), label=label)
        audit(session=session, actor="cli", action="apikey.create", target=f"{row.kind}:{row.prefix}", detail=unit)
    typer.echo(key)


@app.command("export")
def export_command(
    unit: Annotated[str, typer.Option(help="Unit code; the report covers its whole subtree")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (the format follows its suffix)")],
    month: Annotated[str | None, typer.Option(help="The month, YYYY-MM")] = None,
    period: Annotated[str | None, typer.Option(help="Instead of --month: YYYY-MM, YYYY-Qn or YYYY")] = None,
    format: Annotated[str | None, typer.Option("--format", help="csv | xlsx | pdf (default: from -o)")] = None,
    lang: Annotated[str, typer.Option(help="vi | en (XLSX and PDF)")] = "vi",
) -> None:
    """Write a unit's monthly (quarterly, yearly) report as CSV, XLSX or PDF: the figures of the dashboard."""
    from server.exports.cli import run_export

    settings = load_settings()
    fmt = (format or output.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "xlsx", "pdf"):
        fail(f"--format must be csv, xlsx or pdf (got {fmt or 'nothing'!r}; or give -o a .csv/.xlsx/.pdf name)")
    if lang not in ("vi", "en"):
        fail(f"--lang must be vi or en, not {lang!r}")
    engine = connect(settings)
    ensure_migrated(engine, settings)
    written = run_export(
        engine=engine,
        settings=settings,
        unit_code=unit,
        month=month,
        period=period,
        fmt=fmt,
        lang=lang,
        output=output,
        fail=fail,
    )
    typer.echo(f"wrote {output} ({written} bytes)")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `hailong` script: run a command, turning every failure into one line."""
    try:
        result = app(args=argv, prog_name="hailong", standalone_mode=False)
    except typer.Abort:
        _die("aborted", 130)
    except typer.TyperException as exc:  # typer's own click: usage errors, bad parameters, missing options
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]
            sys.exit(0)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None and ctx.command_path else ""
        _die(" ".join(message.split()) + hint, int(getattr(exc, "exit_code", 2) or 2))
    except (CliError, DatabaseUnavailable) as exc:
        _die(str(exc), 1)
    except AppError as exc:
        _die(exc.message, 1)
    except sa.exc.SQLAlchemyError as exc:
        _die("database error: " + str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], 1)
    except KeyboardInterrupt:
        _die("interrupted", 130)
    sys.exit(result if isinstance(result, int) else 0)


def _die(message: str, status: int) -> NoReturn:
    print(f"hailong: error: {message}", file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()

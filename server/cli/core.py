"""The plumbing every `hailong` command shares: the Typer app, one-line failures, settings, the database session
(`open_session`), input and output files, the progress bar, and the entry point that turns every failure into one
line on stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, cast

import sqlalchemy as sa
import typer
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server import PROJECT_ROOT
from server.config import Settings
from server.db import DatabaseUnavailable, check_database, make_engine, safe_url, session_scope
from server.errors import AppError
from server.terminal import printable

app = typer.Typer(
    name="hailong",
    help="Hài Lòng: citizen-satisfaction ratings at one-stop service desks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


def migrated_engine(settings: Settings) -> Engine:
    """An engine whose database answers and is migrated to the latest schema (a one-line error otherwise)."""
    engine = connect(settings)
    ensure_migrated(engine, settings)
    return engine


@contextmanager
def open_session(settings: Settings | None = None) -> Iterator[Session]:
    """The one way a command reaches the database: settings (from the environment unless given), a database that
    answers and is migrated, and a session that commits when the block ends and rolls back when it raises; the
    engine's connections are closed after."""
    engine = migrated_engine(settings or load_settings())
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def engine_of(session: Session) -> Engine:
    """The engine of an `open_session()` session, for work that runs its own transactions."""
    return cast(Engine, session.get_bind())


def read_input_file(path: Path) -> bytes:
    """The bytes of an input file, or a one-line error."""
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")


def check_writable(output: Path) -> None:
    """Fail early (before the work) when the output cannot be written."""
    parent = output.parent
    if output.is_dir():
        fail(f"cannot write {output}: it is a directory")
    if not parent.is_dir():
        fail(f"cannot write {output}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        fail(f"cannot write {output}: permission denied")


def write_atomically(output: Path, data: bytes) -> None:
    """Write to a temporary file beside `output`, then rename: readers never see half a report."""
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=".hailong-export-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    print(f"hailong: error: {printable(message, field=True)}", file=sys.stderr)
    sys.exit(status)

"""Engines, sessions and the column types both databases share."""

from __future__ import annotations

import functools
import logging
import os
import select
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlmodel import Session

from server import PROJECT_ROOT


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which has no time zones) and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def upsert_insert(table: sa.Table, dialect: str) -> Any:
    """`INSERT INTO table` in the dialect's spelling, for `.on_conflict_do_nothing()` / `.on_conflict_do_update()`."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


@functools.cache
def insert_or_nothing(table: sa.Table, dialect: str, returning: str) -> Any:
    """`INSERT INTO table … ON CONFLICT DO NOTHING RETURNING returning`, built once per table and dialect and run
    with the row as parameters: a statement built with `.values(row)` for every request costs more Python to build
    and cache-key than the database takes to run it."""
    return upsert_insert(table, dialect).on_conflict_do_nothing().returning(table.c[returning])


#: How long a SQLite connection waits for the write lock before "database is locked".
BUSY_TIMEOUT_MS = 30_000
#: How long a bookkeeping write (`write_after`) waits for it before it is skipped.
BOOKKEEPING_WAIT_MS = 1_000


class DatabaseUnavailable(Exception):
    """The database cannot be reached; carries a one-line reason."""


def make_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> Engine:
    """Build an engine with the settings each backend needs (WAL and real transactions on SQLite)."""
    sa_url = make_url(url)
    # hide_parameters: SQL logs and error messages never carry values (visit tokens, comments, contacts).
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            create_private_file(Path(database))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        engine = sa.create_engine(sa_url, **kwargs)
        _make_sqlite_transactional(engine)
    else:
        # Reports run the same statements with very different ranges (a month, a year, one commune, a province):
        # psycopg prepares a statement after 5 runs and PostgreSQL then may switch to one generic plan for all
        # parameters, which was 5-10x slower for those. Plan every execution with its real parameters instead.
        # A fixed pool, every connection kept open: overflow connections were closed as soon as they came back to
        # a full pool, and each new one is a new backend that loads its catalog caches and compiles the rollup
        # triggers' PL/pgSQL again (15-60 ms of extra work on its first batch); under the soak's bursts the pool
        # replaced all of its connections within a minute.
        kwargs.update(
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=0,
            connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
        )
        engine = sa.create_engine(sa_url, **kwargs)
        _ping_only_when_the_socket_stirs(engine)
    from server.hardening import harden_engine  # late import: hardening needs the errors module only

    harden_engine(engine)
    return engine


def create_private_file(path: Path) -> None:
    """Create `path` empty, readable by its owner only (0600), unless it exists. SQLite gives the database's
    `-wal` and `-shm` files the database file's mode, so they are private too (issue 19, finding 10: the database
    holds contacts, comments and token hashes)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _ping_only_when_the_socket_stirs(engine: Engine) -> None:
    """The pool's pre-ping without its round trip while the connection is quiet.

    The pool checks every connection it hands out (`pool_pre_ping`), so that a request after a PostgreSQL restart
    gets a new connection instead of an error. A backend that ends (a restart, a crash, `pg_terminate_backend`) sends
    its farewell or closes the socket, which makes the idle socket readable. So the ping's `SELECT 1` is sent only
    when there is something to read, or the check cannot be made; a quiet socket means the backend is still there.
    (A host that vanishes without a word is not seen either way: the `SELECT 1` would wait like the request.)
    """
    dialect = engine.dialect
    full_ping = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        try:
            poller = select.poll()  # not select(): any descriptor number
            poller.register(dbapi_connection.fileno(), select.POLLIN)
            stirring = bool(poller.poll(0))  # data, hang-up or error
        except (OSError, ValueError, dialect.loaded_dbapi.Error):
            stirring = True
        return full_ping(dbapi_connection) if stirring else True

    dialect.do_ping = do_ping  # type: ignore[method-assign]


def open_pool(engine: Engine, connections: int) -> None:
    """Open `connections` of the pool's connections now, each a new PostgreSQL backend, rather than while serving
    the first requests. Best effort: a database that is not reachable yet is connected to later, as usual."""
    opened: list[sa.Connection] = []
    try:
        for _ in range(connections):
            opened.append(engine.connect())
    except sa.exc.DBAPIError as exc:
        logging.getLogger(__name__).warning("could not open the database connections at start: %s", exc)
    finally:
        for conn in opened:
            conn.close()


def _make_sqlite_transactional(engine: Engine) -> None:
    """Real transactions on SQLite, with the single write lock taken late and held short.

    pysqlite's own transaction handling breaks SAVEPOINT and starts transactions lazily; take over. A transaction
    begins DEFERRED: reads take no lock (WAL: they never wait for nor block the writer). Just before its first
    write (INSERT, UPDATE, DELETE, SAVEPOINT or a `SELECT … FOR UPDATE`) the read snapshot is ended and the write
    lock taken with `BEGIN IMMEDIATE`, which queues on busy_timeout (upgrading a read transaction in place would
    fail at once with SQLITE_BUSY when another connection writes). So a request that checks a password or renders a
    report while reading holds no lock for it (issue 19, finding 1), and what runs after the first write sees the
    latest committed data, as in PostgreSQL's READ COMMITTED. Options (`conn.execution_options(sqlite_begin=…)`):
    "IMMEDIATE" takes the write lock at BEGIN; "DEFERRED" is a plain deferred transaction that upgrades in place
    (tests use it for their outer, rolled-back transaction).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "LATE")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN DEFERRED")
        conn.info[_SQLITE_LATE_WRITE] = mode not in ("IMMEDIATE", "DEFERRED")

    @event.listens_for(engine, "before_cursor_execute")
    def _write_lock_before_first_write(
        conn: sa.Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if not conn.info.get(_SQLITE_LATE_WRITE) or not _needs_write_lock(statement, context):
            return
        conn.info[_SQLITE_LATE_WRITE] = False
        dbapi_connection = cursor.connection
        if dbapi_connection.in_transaction:
            dbapi_connection.execute("COMMIT")  # nothing written yet: this only ends the read snapshot
        dbapi_connection.execute("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: sa.Connection) -> None:
        conn.info.pop(_SQLITE_LATE_WRITE, None)

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info.pop(_SQLITE_LATE_WRITE, None)  # a transaction the pool's reset ended


_SQLITE_LATE_WRITE = "hailong_sqlite_late_write"  # connection info: deferred, write lock not taken yet
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER")


def _needs_write_lock(statement: str, context: Any) -> bool:
    if statement.lstrip()[:9].upper().startswith(_WRITE_VERBS):
        return True
    compiled = getattr(context, "compiled", None)
    if compiled is None:
        return False
    if context.isinsert or context.isupdate or context.isdelete:
        return True
    return getattr(compiled.statement, "_for_update_arg", None) is not None


def check_database(engine: Engine) -> None:
    """Raise `DatabaseUnavailable` with a one-line reason when `SELECT 1` fails."""
    try:
        with engine.connect() as conn:
            conn.execution_options(sqlite_begin="DEFERRED").execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseUnavailable(f"cannot reach the database at {safe_url(engine.url)}: {reason}") from exc


def safe_url(url: sa.URL | str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True) if not isinstance(url, sa.URL) else url.render_as_string()


_WRITES_AFTER = "hailong_writes_after"  # session info: bookkeeping statements to run after its transaction


def write_after(session: Session, statement: sa.Executable) -> None:
    """Queue a best-effort bookkeeping write (a session's `last_seen_at`, a key's `last_used_at`) to run after the
    session's transaction has ended, in a short transaction of its own (`run_writes_after`; the request's session
    runs it as it closes, server/deps.py). Written in the request's transaction, the first such UPDATE took SQLite's
    write lock for the rest of the request (its dashboard reads, a yearly report, an import's parse) and a
    PostgreSQL row lock with it (issue 19, finding 1)."""
    session.info.setdefault(_WRITES_AFTER, []).append(statement)


def has_writes_after(session: Session) -> bool:
    """Whether `write_after` queued anything on `session`."""
    return bool(session.info.get(_WRITES_AFTER))


def run_writes_after(session: Session) -> None:
    """Run what `write_after` queued, committed at once on a connection of the session's engine; best effort: a
    write that finds SQLite's lock taken for `BOOKKEEPING_WAIT_MS` (or any database error) is dropped with a
    warning, never failing the request it belongs to. Call it once the session's own transaction has ended."""
    statements = session.info.pop(_WRITES_AFTER, None)
    if not statements:
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    try:
        with engine.connect() as conn:
            sqlite_db = conn.dialect.name == "sqlite"
            if sqlite_db:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={BOOKKEEPING_WAIT_MS}")  # outside the write lock
            try:
                for statement in statements:
                    conn.execute(statement)
                conn.commit()
            finally:
                conn.rollback()  # nothing left after the commit; ends what a failure left open
                if sqlite_db:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                    conn.commit()
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        logging.getLogger(__name__).warning("bookkeeping write skipped: %s", reason)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises (CLI and background jobs)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            run_writes_after(session)


#: The migrations' checked-in SQL: one folder per migration, one file per direction (or part) and dialect.
MIGRATION_SQL = PROJECT_ROOT / "migrations" / "sql"


def apply_migration_sql(connection: sa.Connection, folder: str, name: str) -> None:
    """Run `migrations/sql/<folder>/<name>.<dialect>.sql` on `connection`, for its dialect (a migration's own SQL)."""
    execute_sql_file(connection, MIGRATION_SQL / folder / f"{name}.{connection.dialect.name}.sql")


def execute_sql_file(connection: sa.Connection, path: Path) -> None:
    """Run every statement of a checked-in `.sql` file (the migrations' functions and triggers) on `connection`."""
    text = path.read_text(encoding="utf-8")
    if connection.dialect.name == "postgresql":
        # The driver's own cursor, without parameters: psycopg sends the whole text as one simple query (several
        # statements, PL/pgSQL bodies and `%` signs untouched), inside the migration's transaction.
        with connection.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(text)
        return
    statement = ""
    for line in text.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):  # a trigger's body holds semicolons: wait for its END;
            connection.exec_driver_sql(statement)
            statement = ""
    leftover = "".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))
    if leftover.strip():
        raise ValueError(f"{path.name} ends with an incomplete statement: {leftover.strip()[:60]!r}")

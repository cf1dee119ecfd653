"""Test databases on SQLite (always) and PostgreSQL (when TEST_DATABASE_URL is set): migrated once, then cloned.

Names carry the process id and a random suffix, so several suites (developers, helpers, CI) can share one
PostgreSQL server at the same time.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlmodel import Session

from server import PROJECT_ROOT
from server.config import normalise_database_url
from server.db import make_engine, session_scope

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def alembic_config(url: str) -> Config:
    """Alembic pointed at `url` (the same migrations `hailong db upgrade` applies)."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def admin_url() -> str:
    """TEST_DATABASE_URL, normalised to the psycopg driver."""
    return normalise_database_url(os.environ["TEST_DATABASE_URL"])


def _pg_admin_engine() -> sa.Engine:
    return sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


class DatabaseFactory:
    """Makes migrated databases for one backend: `template_url` once, `new_url()` cheap copies of it."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.tag = f"hl_t_{os.getpid()}_{secrets.token_hex(3)}"
        self.created: list[str] = []
        if backend == "sqlite":
            self.dir = Path(tempfile.mkdtemp(prefix="hailong-test-"))
            self.template_url = f"sqlite:///{self.dir / 'template.db'}"
        else:
            self.admin = _pg_admin_engine()
            try:
                with self.admin.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
            except sa.exc.OperationalError as exc:
                raise RuntimeError(
                    f"TEST_DATABASE_URL is set but PostgreSQL does not answer: {str(exc.orig).splitlines()[0]}"
                ) from exc
            name = f"{self.tag}_template"
            self._create_pg(name)
            self.template_url = make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
        self.migrate(self.template_url)

    def _create_pg(self, name: str, template: str | None = None) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        self.created.append(name)

    def migrate(self, url: str) -> None:
        """Upgrade `url` to the latest migration."""
        engine = make_engine(url)
        try:
            cfg = alembic_config(url)
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            engine.dispose()

    def empty_url(self) -> str:
        """A new, empty database (no tables at all)."""
        name = f"{self.tag}_{secrets.token_hex(4)}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.dir / (name + '.db')}"
        self._create_pg(name)
        return make_url(admin_url()).set(database=name).render_as_string(hide_password=False)

    def new_url(self) -> str:
        """A new database already migrated to head (a copy of the template)."""
        name = f"{self.tag}_{secrets.token_hex(4)}"
        if self.backend == "sqlite":
            target = self.dir / f"{name}.db"
            shutil.copyfile(self.dir / "template.db", target)
            return f"sqlite:///{target}"
        self._create_pg(name, template=f"{self.tag}_template")
        return make_url(admin_url()).set(database=name).render_as_string(hide_password=False)

    def seeded_url(self, seed: Callable[[Session], object]) -> str:
        """A new database migrated to head that `seed` filled (committed)."""
        url = self.new_url()
        with session_at(url) as session:
            seed(session)
        return url

    def close(self) -> None:
        """Drop everything this factory made."""
        if self.backend == "sqlite":
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        with self.admin.connect() as conn:
            for name in reversed(self.created):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@contextmanager
def factory_for(backend: str) -> Iterator[DatabaseFactory]:
    """A database factory that cleans up after itself."""
    factory = DatabaseFactory(backend)
    try:
        yield factory
    finally:
        factory.close()


@contextmanager
def session_at(url: str) -> Iterator[Session]:
    """A session on the database at `url`, committed when the block succeeds (`session_scope`), on an engine of its
    own that is disposed of afterwards."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """The rows of `sql` on the database at `url` (an engine of its own, disposed of afterwards)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()


@contextmanager
def at_revision(db_factory: DatabaseFactory, revision: str) -> Iterator[tuple[str, Config, sa.Engine]]:
    """A new database upgraded from empty to `revision`: its URL, its Alembic configuration and an engine, disposed
    of after the block."""
    url = db_factory.empty_url()
    cfg = alembic_config(url)
    command.upgrade(cfg, revision)
    engine = make_engine(url)
    try:
        yield url, cfg, engine
    finally:
        engine.dispose()

"""Fixtures: every database test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL too.

- `session`: a session on a migrated database, rolled back after the test (services' commits become savepoints).
- `client`: a TestClient of `create_app(settings)` whose requests use that same session.
- `db_factory`: makes fresh migrated databases for tests that need real concurrent transactions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.config import Settings
from server.db import make_engine
from server.deps import get_session
from tests.databases import BACKENDS, DatabaseFactory

if os.environ.get("CI") and not os.environ.get("TEST_DATABASE_URL"):
    raise pytest.UsageError("CI must test PostgreSQL too: set TEST_DATABASE_URL (see .ci/run)")


@pytest.fixture(scope="session", params=BACKENDS)
def db_factory(request: pytest.FixtureRequest) -> Iterator[DatabaseFactory]:
    """One factory per backend for the whole run."""
    factory = DatabaseFactory(request.param)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def backend(db_factory: DatabaseFactory) -> str:
    """`sqlite` or `postgresql`."""
    return db_factory.backend


@pytest.fixture(scope="session")
def database_url(db_factory: DatabaseFactory) -> str:
    """A migrated database shared by the rolled-back tests of this backend."""
    return db_factory.new_url()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    """Engine on the shared test database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    # Deferred on SQLite, so the app's own engine (health checks) can still read while the test writes.
    conn = engine.connect().execution_options(sqlite_begin="DEFERRED")
    outer = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        if outer.is_active:
            outer.rollback()
        conn.close()


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Test settings for a database."""
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        "public_base_url": "http://testserver",
        "dashboard_cache_seconds": 0,  # tests read figures right after writing them (the cache has its own tests)
        "notify_interval_seconds": 0,  # no background sender: notification tests run it themselves
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings of the app under test."""
    return make_settings(database_url)


@pytest.fixture
def app(settings: Settings, session: Session) -> FastAPI:
    """The central app, its requests bound to the test's rolled-back session."""
    application = create_app(settings)

    def _session() -> Iterator[Session]:
        yield session
        session.flush()

    application.dependency_overrides[get_session] = _session
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """HTTP client of the app (lifespan run)."""
    with TestClient(app) as c:
        yield c

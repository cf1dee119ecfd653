"""Issue 19, finding 1: slow work never holds the database (SQLite's single write lock, a PostgreSQL transaction).

A request's transaction on SQLite begins deferred and takes the write lock just before its first write
(server/db.py); the login checks the password (argon2) and the exports render their file with no transaction open.
The checks are deterministic: while the real hasher or renderer runs, another connection must be able to take
SQLite's write lock at once (busy timeout 0), no pooled connection may be checked out, and PostgreSQL must show no
session idle in a transaction; and a login must have given its admission slot back (32 logins queued for the
password check held every slot). How fast kiosks and /healthz stay under the load is measured in bench/abuse.py.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

import server.auth.service
import server.auth.sessions
import server.db
from server.admission import AdmissionLimitMiddleware
from server.app import create_app
from server.auth.service import create_api_key
from server.db import make_engine, utcnow
from server.exports import service as export_service
from server.tables import API_KEY, LOGIN_SESSION
from tests import factories, logins
from tests.conftest import make_settings
from tests.databases import DatabaseFactory, session_at


def _sqlite_write_lock_free(url: str) -> bool:
    """Whether another connection can take SQLite's write lock right now (no waiting)."""
    other = sqlite3.connect(make_url(url).database or "", timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


class HeldState:
    """What the database looks like from outside while a slow step runs inside a request."""

    def __init__(self, url: str, backend: str) -> None:
        self.url = url
        self.backend = backend
        self.observer = sa.create_engine(url, isolation_level="AUTOCOMMIT") if backend == "postgresql" else None
        self.seen: list[dict[str, Any]] = []

    def record(self, engine: sa.Engine, admission: AdmissionLimitMiddleware | None = None) -> None:
        state: dict[str, Any] = {"checked_out": engine.pool.checkedout()}  # type: ignore[attr-defined]
        if admission is not None:
            state["admitted"] = admission.inside
        if self.observer is None:
            state["write_lock_free"] = _sqlite_write_lock_free(self.url)
        else:
            with self.observer.connect() as conn:
                state["idle_in_transaction"] = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state LIKE 'idle in transaction%'"
                    )
                ).scalar_one()
        self.seen.append(state)

    def assert_nothing_held(self) -> None:
        assert self.seen, "the slow step never ran"
        for state in self.seen:
            assert state["checked_out"] == 0, state
            assert state.get("write_lock_free", True), state
            assert state.get("idle_in_transaction", 0) == 0, state
            assert state.get("admitted", 0) == 0, state  # the slot is given back while waiting (PostgreSQL)

    def close(self) -> None:
        if self.observer is not None:
            self.observer.dispose()


@pytest.fixture
def fresh(db_factory: DatabaseFactory) -> Iterator[tuple[str, HeldState]]:
    """A database of its own (the app's real request sessions, not the test's rolled-back one)."""
    url = db_factory.new_url()
    held = HeldState(url, db_factory.backend)
    yield url, held
    held.close()


def _admission(app: Any) -> AdmissionLimitMiddleware | None:
    node = app.middleware_stack
    while node is not None and not isinstance(node, AdmissionLimitMiddleware):
        node = getattr(node, "app", None)
    return node


def _spy(held: HeldState, app: Any, real: Callable[..., Any], *, slot_free: bool = False) -> Callable[..., Any]:
    def observed(*args: Any, **kwargs: Any) -> Any:
        held.record(app.state.engine, _admission(app) if slot_free else None)
        return real(*args, **kwargs)

    return observed


def test_sqlite_reads_take_no_write_lock_and_the_first_write_takes_it() -> None:
    """server/db.py on SQLite itself (the backend this is about): deferred reads, the lock at the first write."""
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='hailong-lock-')) / 'lock.db'}"
    engine = make_engine(url)
    table = sa.table("t", sa.column("a"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (a INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with engine.connect() as conn:
            assert conn.execute(sa.select(table.c.a)).scalar_one() == 1
            assert _sqlite_write_lock_free(url)  # a read holds nothing a writer waits for
            conn.execute(sa.insert(table).values(a=2))
            assert not _sqlite_write_lock_free(url)  # the write holds the lock until the commit
            conn.commit()
            assert _sqlite_write_lock_free(url)
            conn.execute(sa.select(table.c.a).with_for_update()).all()  # a read meant to be written after
            assert not _sqlite_write_lock_free(url)
            conn.rollback()
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 2
    finally:
        engine.dispose()


def test_no_transaction_is_open_while_a_password_is_checked(
    fresh: tuple[str, HeldState], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, held = fresh
    with session_at(url) as session:
        manager = logins.user(session, "manager", factories.unit(session))
        username = manager.username
    app = create_app(make_settings(url))
    hasher = server.auth.sessions.password_hash
    monkeypatch.setattr(hasher, "verify", _spy(held, app, hasher.verify, slot_free=True))
    with TestClient(app) as client:
        assert logins.post_login(client, username, "wrong password").status_code == 401
        assert logins.post_login(client, "nobody", "wrong password").status_code == 401
        assert logins.post_login(client, username).status_code == 303
    assert len(held.seen) == 3
    held.assert_nothing_held()


@pytest.mark.parametrize("fmt", ["pdf", "xlsx"])
def test_no_transaction_is_open_while_a_report_renders(
    fresh: tuple[str, HeldState], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    url, held = fresh
    with session_at(url) as session:
        unit = factories.unit(session)
        _, key = create_api_key(session=session, kind="read", unit=unit)
    # Rendered in the request's thread (no render process), where the spy can watch it: the strictest case.
    app = create_app(make_settings(url, render_processes=0))
    monkeypatch.setattr(export_service, "render", _spy(held, app, export_service.render))
    with TestClient(app) as client:
        response = client.get(f"/exports/monthly.{fmt}?period=2026-11", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    held.assert_nothing_held()


def test_no_transaction_is_open_while_an_admin_hashes_a_new_password(
    fresh: tuple[str, HeldState], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, held = fresh
    with session_at(url) as session:
        unit = factories.unit(session)
        admin = logins.user(session, "admin", unit)
        manager = logins.user(session, "manager", unit)
        unit_code, manager_id = unit.code, manager.id
    app = create_app(make_settings(url))
    hasher = server.auth.service.password_hash
    with TestClient(app) as client:
        token = logins.login(client, admin)
        monkeypatch.setattr(hasher, "hash", _spy(held, app, hasher.hash))
        form = {"username": "new-manager", "role": "manager", "unit_code": unit_code, "password": "a-long-password-1"}
        created = client.post("/admin/users", data={**form, "csrf_token": token}, follow_redirects=False)
        assert created.status_code == 303, created.text
        reset = client.post(
            f"/admin/users/{manager_id}/password",
            data={"password": "brand-new-password", "csrf_token": token},
            follow_redirects=False,
        )
        assert reset.status_code == 303, reset.text
    assert len(held.seen) == 2
    held.assert_nothing_held()


def _bookkeeping_row_free(held: HeldState, table: str, key: str, value: object) -> bool:
    """Whether the request holds nothing a writer of this row would wait for: SQLite's write lock, or on PostgreSQL
    the row's lock (taken at once by another connection, without waiting)."""
    if held.observer is None:
        return _sqlite_write_lock_free(held.url)
    with held.observer.connect() as conn:
        try:
            conn.execute(sa.text(f"SELECT 1 FROM {table} WHERE {key} = :v FOR UPDATE NOWAIT"), {"v": value})
        except sa.exc.OperationalError as exc:
            assert "lock" in str(exc)
            return False
    return True


def _report_spy(seen: list[bool], check: Callable[[], bool]) -> Callable[..., Any]:
    real = export_service.build_report

    def observed(*args: Any, **kwargs: Any) -> Any:
        seen.append(check())  # the request's later work: its reads and the report
        return real(*args, **kwargs)

    return observed


def test_a_stale_last_seen_at_is_written_outside_the_request(
    fresh: tuple[str, HeldState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 1 (third round, F1): a logged-in request whose `last_seen_at` is stale records it in a transaction
    of its own, not in the request's; the first UPDATE there took SQLite's write lock (and the session row's lock)
    for the rest of the request, here a yearly report."""
    url, held = fresh
    with session_at(url) as session:
        manager = logins.user(session, "manager", factories.unit(session))
    app = create_app(make_settings(url, render_processes=0))
    with TestClient(app) as client:
        logins.login(client, manager)
        id_hash = server.auth.sessions.session_id_hash(client.cookies[server.auth.sessions.SESSION_COOKIE])
        stale = utcnow() - timedelta(minutes=5)
        with session_at(url) as session:
            session.execute(sa.update(LOGIN_SESSION).values(last_seen_at=stale))
        seen: list[bool] = []
        spy = _report_spy(seen, lambda: _bookkeeping_row_free(held, "login_session", "id_hash", id_hash))
        monkeypatch.setattr(export_service, "build_report", spy)
        response = client.get("/exports/monthly.csv?period=2026", headers={"accept": "application/json"})
        assert response.status_code == 200, response.text
    assert seen == [True]
    with session_at(url) as session:
        touched = session.execute(sa.select(LOGIN_SESSION.c.last_seen_at)).scalar_one()
    assert touched > stale + timedelta(minutes=4)  # still recorded, once the request's own transaction had ended


def test_an_api_keys_last_used_at_is_written_outside_the_request(
    fresh: tuple[str, HeldState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 1 (third round, F1): a read key's `last_used_at` (stale: never used) is recorded in a transaction of
    its own, while the request's report is built with no write lock (nor the key row's lock) held."""
    url, held = fresh
    with session_at(url) as session:
        row, key = create_api_key(session=session, kind="read", unit=factories.unit(session))
        key_id = row.id
    app = create_app(make_settings(url, render_processes=0))
    seen: list[bool] = []
    spy = _report_spy(seen, lambda: _bookkeeping_row_free(held, "api_key", "id", key_id))
    monkeypatch.setattr(export_service, "build_report", spy)
    with TestClient(app) as client:
        response = client.get("/exports/monthly.csv?period=2026", headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
    assert seen == [True]
    with session_at(url) as session:
        used = session.execute(sa.select(API_KEY.c.last_used_at).where(API_KEY.c.id == key_id)).scalar_one()
    assert used is not None and utcnow() - used < timedelta(minutes=5)


def test_a_bookkeeping_write_that_finds_the_lock_taken_is_skipped(
    fresh: tuple[str, HeldState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 1 (third round, F1): the touch is best effort; when SQLite's write lock (or on PostgreSQL the row's
    lock) is held by someone else, a page that writes nothing else still answers 200 at once, and a later request
    records the stale `last_seen_at`."""
    url, _ = fresh
    with session_at(url) as session:
        manager = logins.user(session, "manager", factories.unit(session))
    monkeypatch.setattr(server.db, "BOOKKEEPING_WAIT_MS", 50)
    app = create_app(make_settings(url))
    stale = utcnow() - timedelta(minutes=5)
    blocker = make_engine(url)
    try:
        with TestClient(app) as client:
            logins.login(client, manager)
            with session_at(url) as session:
                session.execute(sa.update(LOGIN_SESSION).values(last_seen_at=stale))
            with blocker.connect() as conn:
                conn.execute(sa.update(LOGIN_SESSION).values(user_agent="held"))  # the lock (the row's) is taken
                page = client.get("/dashboard", headers={"accept": "text/html"}, follow_redirects=False)
                assert page.status_code == 200, page.text
                conn.rollback()
            with session_at(url) as session:
                assert session.execute(sa.select(LOGIN_SESSION.c.last_seen_at)).scalar_one() == stale
            assert client.get("/dashboard", headers={"accept": "text/html"}, follow_redirects=False).is_success
    finally:
        blocker.dispose()
    with session_at(url) as session:
        assert session.execute(sa.select(LOGIN_SESSION.c.last_seen_at)).scalar_one() > stale

"""The engine's pool check on PostgreSQL: no round trip while a connection is quiet, a new connection when its
backend is gone."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from server.db import make_engine
from tests.databases import DatabaseFactory


def _last_query(admin: sa.Connection, pid: int) -> str:
    return str(admin.execute(sa.text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar_one())


def test_a_quiet_connection_is_handed_out_without_a_ping_and_a_dead_one_is_replaced(
    db_factory: DatabaseFactory,
) -> None:
    if db_factory.backend != "postgresql":
        pytest.skip("SQLite has no connection to lose (the pool check is PostgreSQL's)")
    url = db_factory.new_url()
    engine = make_engine(url, pool_size=1)
    admin_engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            conn.execute(sa.text("SELECT 'hl-quiet-marker'"))
            conn.commit()
        with admin_engine.connect() as admin:
            assert _last_query(admin, pid) == "COMMIT"
            with engine.connect() as conn:  # the same pooled connection, checked on the way out of the pool
                assert _last_query(admin, pid) == "COMMIT"  # and no SELECT 1 sent for that
                assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == pid
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the backend says goodbye and closes its socket
            with admin_engine.connect() as admin:
                if not admin.execute(sa.text("SELECT 1 FROM pg_stat_activity WHERE pid = :p"), {"p": pid}).first():
                    break
            time.sleep(0.05)
        with engine.connect() as conn:  # the socket has something to read: pinged, found dead, replaced
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()
        admin_engine.dispose()

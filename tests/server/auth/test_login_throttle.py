"""Issue 19, finding 3: login throttling that an attacker cannot turn against the user.

Failures are counted per (username, source) pair, a source being an IPv4 address or an IPv6 /64; a guessed-at
name is slowed down for everyone instead of locked; the count is one atomic upsert (40 parallel guesses get exactly
10 password checks); throttled attempts leave one audit row per window, not one each.
"""

from __future__ import annotations

import threading

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.app import create_app
from server.auth.sessions import MAX_FAILED_LOGINS
from server.db import make_engine, session_scope
from server.hardening import client_source
from server.models import AuditLog, LoginThrottle, User
from server.units.service import create_unit
from tests import logins
from tests.browser.conftest import serve
from tests.conftest import make_settings
from tests.databases import DatabaseFactory


@pytest.fixture
def manager(session: Session) -> User:
    unit = create_unit(session=session, code="THR-U", name="Đơn vị thử")
    return logins.user(session, "manager", unit)


def _from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def _audit(session: Session, action: str) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_sources_are_ipv4_addresses_and_ipv6_64s() -> None:
    assert client_source("203.0.113.7") == "203.0.113.7"
    assert client_source("2001:db8:1:2:aaaa::1") == client_source("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_source("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert client_source("::ffff:198.51.100.4") == "198.51.100.4"
    assert client_source(None) == "unknown"


def test_guesses_from_ten_addresses_do_not_lock_the_real_user(app: FastAPI, session: Session, manager: User) -> None:
    """The finding: 10 wrong passwords from 10 addresses within a minute locked the manager out everywhere."""
    for i in range(MAX_FAILED_LOGINS):
        assert logins.post_login(_from(app, f"198.51.100.{i + 1}"), manager.username, "guess").status_code == 401
    # The name is now slowed down (LOGIN_SLOWDOWN_SECONDS before each check), never locked: the user gets in.
    assert logins.post_login(_from(app, "203.0.113.50"), manager.username).status_code == 303
    assert _audit(session, "login.throttled") == []


def test_a_pair_past_its_limit_is_refused_with_one_audit_row(app: FastAPI, session: Session, manager: User) -> None:
    attacker = _from(app, "198.51.100.66")
    for _ in range(MAX_FAILED_LOGINS):
        assert logins.post_login(attacker, manager.username, "guess").status_code == 401
    for _ in range(5):
        refused = logins.post_login(attacker, manager.username, logins.PASSWORD)  # even the right password
        assert refused.status_code == 429 and "quá nhiều lần" in refused.text
    # 942 rows in 15 s before: now one row for the pair and window; the throttle row counts the refusals.
    throttled = _audit(session, "login.throttled")
    assert len(throttled) == 1 and throttled[0].target == manager.username
    assert "198.51.100.66" in throttled[0].detail
    row = session.get(LoginThrottle, (manager.username, "198.51.100.66"))
    assert row is not None and row.failures == MAX_FAILED_LOGINS and row.refused == 5
    assert len(_audit(session, "login.failed")) == MAX_FAILED_LOGINS
    # Elsewhere, the user logs in.
    assert logins.post_login(_from(app, "203.0.113.51"), manager.username).status_code == 303


def test_ipv6_guesses_are_counted_per_64(app: FastAPI, manager: User) -> None:
    for i in range(MAX_FAILED_LOGINS):  # ten addresses of one subscriber's /64
        assert logins.post_login(_from(app, f"2001:db8:5:6::{i + 1:x}"), manager.username, "x").status_code == 401
    assert logins.post_login(_from(app, "2001:db8:5:6:ffff::1"), manager.username).status_code == 429
    assert logins.post_login(_from(app, "2001:db8:5:7::1"), manager.username).status_code == 303  # another /64


def test_parallel_guesses_get_exactly_the_limit_of_password_checks(db_factory: DatabaseFactory) -> None:
    """The finding on PostgreSQL: 40 parallel guesses from one address got 29 password checks instead of 10."""
    url = db_factory.new_url()
    engine = make_engine(url)
    with session_scope(engine) as s:
        username = logins.user(s, "manager", create_unit(session=s, code="PAR-U", name="Song song")).username
    app = create_app(make_settings(url))
    statuses: list[int] = []
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=300) as browser:
        token = logins.login_form_token(browser)  # type: ignore[arg-type]
        cookies = dict(browser.cookies)
        start = threading.Barrier(40)

        def guess() -> None:
            with httpx.Client(base_url=base_url, timeout=300, cookies=cookies) as client:
                start.wait()
                data = {"username": username, "password": "a guess", "csrf_token": token}
                statuses.append(client.post("/login", data=data, headers={"accept": "text/html"}).status_code)

        threads = [threading.Thread(target=guess) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
    with engine.connect() as conn:
        checks = conn.execute(
            sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == "login.failed")  # type: ignore[arg-type]
        ).scalar_one()
        throttled = conn.execute(
            sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == "login.throttled")  # type: ignore[arg-type]
        ).scalar_one()
    engine.dispose()
    assert sorted(statuses) == [401] * MAX_FAILED_LOGINS + [429] * (40 - MAX_FAILED_LOGINS)
    # One audit row for the pair and one for the address (past MAX_FAILED_PER_SOURCE attempts), not one per refusal.
    assert checks == MAX_FAILED_LOGINS and throttled == 2

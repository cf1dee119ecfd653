"""Login, server-side sessions, CSRF, throttling and logout, as a browser sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.app import create_app
from server.auth.sessions import LOGIN_CSRF_COOKIE, MAX_FAILED_PER_SOURCE, SESSION_COOKIE, session_id_hash
from server.models import AuditLog, LoginSession, LoginThrottle, User
from server.units.service import create_unit
from tests import logins
from tests.conftest import make_settings
from tests.databases import DatabaseFactory

HTML = {"accept": "text/html"}


@pytest.fixture
def manager(session: Session) -> User:
    unit = create_unit(session=session, code="AUTH-U", name="Đơn vị thử")
    return logins.user(session, "manager", unit)


def test_login_sets_a_hardened_cookie_and_stores_only_a_hash(
    client: TestClient, session: Session, manager: User
) -> None:
    response = logins.post_login(client, manager.username)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # test environment
    session_id = client.cookies[SESSION_COOKIE]
    assert len(session_id) >= 43  # 32 random bytes, url-safe: 256 bits
    rows = session.exec(select(LoginSession).where(LoginSession.user_id == manager.id)).all()
    assert [r.id_hash for r in rows] == [session_id_hash(session_id)]
    assert session_id not in {r.id_hash for r in rows}
    actions = session.exec(select(AuditLog.action).where(AuditLog.target == manager.username)).all()
    assert "login" in actions


def test_cookie_is_secure_in_production(db_factory: DatabaseFactory) -> None:
    settings = make_settings(db_factory.new_url(), environment="production")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        response = client.get("/login")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(LOGIN_CSRF_COOKIE))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_session_id_changes_at_login(client: TestClient, manager: User) -> None:
    logins.login(client, manager)
    first = client.cookies[SESSION_COOKIE]
    logins.login(client, manager)  # logging in again, with the old cookie still sent
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    replay = TestClient(client.app, cookies={SESSION_COOKIE: first})
    assert replay.get("/dashboard", headers=HTML, follow_redirects=False).headers["location"].startswith("/login")
    assert client.get("/dashboard", headers=HTML, follow_redirects=False).status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, session: Session, manager: User) -> None:
    wrong = logins.post_login(client, manager.username, "not the password")
    unknown = logins.post_login(client, "nobody-here", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    failed = session.exec(select(AuditLog.target).where(AuditLog.action == "login.failed")).all()
    assert sorted(failed) == sorted([manager.username, "nobody-here"])


def test_the_eleventh_failed_login_in_a_minute_is_refused(client: TestClient, session: Session, manager: User) -> None:
    for _ in range(10):
        assert logins.post_login(client, manager.username, "guess").status_code == 401
    eleventh = logins.post_login(client, manager.username, logins.PASSWORD)  # even the right password now
    assert eleventh.status_code == 429
    assert "quá nhiều lần" in eleventh.text
    assert session.exec(select(AuditLog).where(AuditLog.action == "login.throttled")).first() is not None
    # A minute later the name may try again.
    for row in session.exec(select(LoginThrottle)).all():
        row.window_start -= timedelta(seconds=61)
    session.flush()
    assert logins.post_login(client, manager.username).status_code == 303


def test_failed_logins_are_counted_per_address_too(client: TestClient, manager: User) -> None:
    for i in range(MAX_FAILED_PER_SOURCE):
        assert logins.post_login(client, f"someone{i}", "guess").status_code == 401
    assert logins.post_login(client, manager.username).status_code == 429


def test_login_form_needs_its_csrf_token(client: TestClient, manager: User) -> None:
    logins.login_form_token(client)
    data = {"username": manager.username, "password": logins.PASSWORD}
    assert client.post("/login", data=data, headers=HTML).status_code == 403
    assert client.post("/login", data={**data, "csrf_token": "x" * 64}, headers=HTML).status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_state_change_without_or_with_a_wrong_csrf_token_is_403(client: TestClient, manager: User) -> None:
    token = logins.login(client, manager)
    assert client.post("/logout", headers=HTML, follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf_token": "0" * 64}, follow_redirects=False).status_code == 403
    wrong = token[:-1] + ("1" if token.endswith("0") else "0")  # one character off (never the token itself)
    assert client.post("/logout", headers={"X-CSRF-Token": wrong}).status_code == 403
    # Another session's token is wrong for this one.
    other = TestClient(client.app)
    other_token = logins.login(other, manager)
    assert client.post("/logout", data={"csrf_token": other_token}, follow_redirects=False).status_code == 403
    # The header form (htmx) works.
    assert client.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False).status_code == 303


def test_logout_ends_the_session_on_the_server(client: TestClient, session: Session, manager: User) -> None:
    token = logins.login(client, manager)
    old = client.cookies[SESSION_COOKIE]
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert session.get(LoginSession, session_id_hash(old)) is None
    replay = TestClient(client.app, cookies={SESSION_COOKIE: old})  # an attacker replays the stolen cookie
    page = replay.get("/dashboard", headers=HTML, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fdashboard"
    api = replay.get("/exports/monthly.csv?month=2026-10", headers={"accept": "application/json"})
    assert api.status_code == 401
    again = replay.post("/logout", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert session.exec(select(AuditLog).where(AuditLog.action == "logout")).first() is not None


@pytest.mark.parametrize("field", ["last_seen_at", "created_at"])
def test_idle_and_absolute_timeouts(client: TestClient, session: Session, manager: User, field: str) -> None:
    logins.login(client, manager)
    assert client.get("/dashboard", headers=HTML, follow_redirects=False).status_code == 200
    row = session.get(LoginSession, session_id_hash(client.cookies[SESSION_COOKIE]))
    assert row is not None
    setattr(
        row, field, getattr(row, field) - (timedelta(minutes=31) if field == "last_seen_at" else timedelta(hours=13))
    )
    if field == "created_at":
        row.last_seen_at = row.created_at + timedelta(hours=12, minutes=59)  # active all along, still too old
    session.flush()
    assert client.get("/dashboard", headers=HTML, follow_redirects=False).status_code == 303
    assert session.get(LoginSession, row.id_hash) is None


def test_a_deactivated_user_is_logged_out(client: TestClient, session: Session, manager: User) -> None:
    logins.login(client, manager)
    manager.active = False
    session.flush()
    assert client.get("/dashboard", headers=HTML, follow_redirects=False).status_code == 303
    assert logins.post_login(client, manager.username).status_code == 401


def test_next_is_followed_only_within_the_site(client: TestClient, manager: User) -> None:
    inside = logins.post_login(client, manager.username, next_url="/dashboard?period=2026-10")
    assert inside.headers["location"] == "/dashboard?period=2026-10"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        out = logins.post_login(TestClient(client.app), manager.username, next_url=evil)
        assert out.headers["location"] == "/dashboard"


def test_officers_land_on_their_own_figures(client: TestClient, session: Session) -> None:
    unit = create_unit(session=session, code="AUTH-O", name="Đơn vị")
    officer = logins.user(session, "officer", unit)
    response = logins.post_login(client, officer.username)
    assert response.headers["location"] == "/dashboard/me"
    assert client.get("/dashboard", headers=HTML).status_code == 403

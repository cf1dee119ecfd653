"""The counter console over HTTP: its small login, CSRF on every form, inviting a rating, the slip."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import AuditLog, Counter, Officer, Unit, Visit
from server.visits import signing
from server.visits.console_auth import SESSION_COOKIE, SESSION_PURPOSE
from tests import factories
from tests.server.visits import factories as vf


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _log_in(client: TestClient, username: str, password: str = vf.PASSWORD) -> object:
    form = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf": _csrf(form.text), "next": "/console"},
        follow_redirects=False,
    )


@pytest.fixture
def desk(session: Session) -> tuple[Unit, Counter, Officer]:
    unit = factories.unit(session, name="Bộ phận Một cửa xã Ea Kao")
    return unit, factories.counter(session, unit, code="Q-01"), factories.officer(session, unit)


def test_the_console_needs_a_login(client: TestClient) -> None:
    response = client.get("/console", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login?next=/console"
    assert client.get("/console/visits/AAAAAAAAAAAA", follow_redirects=False).status_code == 303
    assert client.post("/console/visits", data={}, follow_redirects=False).status_code == 303
    htmx = client.post("/console/visits", data={}, headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/console/login?next=/console/visits"


def test_login_invite_and_slip(client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]) -> None:
    unit, counter, officer = desk
    user = vf.user(session, unit, officer=officer)
    response = _log_in(client, user.username)
    assert response.status_code == 303 and response.headers["location"] == "/console"  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert session.exec(select(AuditLog).where(AuditLog.action == "console.login")).first() is not None
    page = client.get("/console")
    assert page.status_code == 200 and "Bộ phận Một cửa xã Ea Kao" in page.text
    assert 'value="Q-01"' in page.text and 'value="land"' in page.text
    csrf = _csrf(page.text)
    invite = client.post(
        "/console/visits",
        data={"csrf": csrf, "counter": "Q-01", "field": "land", "procedure_code": "1.004227"},
        follow_redirects=False,
    )
    assert invite.status_code == 303
    token = invite.headers["location"].rsplit("/", 1)[1]
    visit = session.exec(select(Visit).where(Visit.token == token)).one()
    assert (visit.counter_id, visit.officer_id, visit.procedure_code) == (counter.id, officer.id, "1.004227")
    assert visit.field_id == factories.field(session, "land").id
    slip = client.get(f"/console/visits/{token}")
    assert slip.status_code == 200
    assert f'src="/api/v1/visits/{token}/qr.svg"' in slip.text and f"http://testserver/r/{token}" in slip.text
    assert "Bộ phận Một cửa xã Ea Kao" in slip.text and "Đất đai" in slip.text and "slip--80mm" in slip.text
    assert "slip--a6" in client.get(f"/console/visits/{token}?format=a6").text
    # The console remembers the counter, and lists the visit.
    assert token in client.get("/console").text


def test_invite_with_htmx_answers_the_slip_partial(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, _, _ = desk
    user = vf.user(session, unit, role="manager")
    _log_in(client, user.username)
    csrf = _csrf(client.get("/console").text)
    response = client.post(
        "/console/visits", data={"csrf": csrf, "counter": "Q-01", "field": "tax"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 201
    assert response.text.lstrip().startswith('<div class="slip-wrap">') and "<html" not in response.text
    visit = session.exec(select(Visit)).one()
    assert visit.officer_id is None  # a manager without an officer record
    bad = client.post(
        "/console/visits", data={"csrf": csrf, "counter": "Q-01", "field": "nope"}, headers={"HX-Request": "true"}
    )
    assert bad.status_code == 422 and "unknown field &#39;nope&#39;" in bad.text


def test_console_forms_need_their_csrf_token(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, _, _ = desk
    user = vf.user(session, unit)
    # The login form itself.
    client.get("/console/login")
    forged_login = client.post("/console/login", data={"username": user.username, "password": vf.PASSWORD})
    assert forged_login.status_code == 403
    _log_in(client, user.username)
    assert client.post("/console/visits", data={"counter": "Q-01", "field": "land"}).status_code == 403
    assert client.post("/console/visits", data={"csrf": "x", "counter": "Q-01", "field": "land"}).status_code == 403
    assert client.post("/console/logout", data={}).status_code == 403
    assert session.exec(select(Visit)).all() == []
    logout = client.post("/console/logout", data={"csrf": _csrf(client.get("/console").text)}, follow_redirects=False)
    assert logout.status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_wrong_passwords_and_unusable_accounts(client: TestClient, session: Session) -> None:
    unit = factories.unit(session)
    officer_user = vf.user(session, unit)
    admin_without_unit = vf.user(session, None, role="admin")
    for username, password in [
        (officer_user.username, "wrong password!"),
        ("nobody-here", vf.PASSWORD),
        (admin_without_unit.username, vf.PASSWORD),
    ]:
        response = _log_in(client, username, password)
        assert response.status_code == 400  # type: ignore[attr-defined]
        assert "Tên đăng nhập hoặc mật khẩu không đúng" in response.text  # type: ignore[attr-defined]
    officer_user.active = False
    session.flush()
    assert _log_in(client, officer_user.username).status_code == 400  # type: ignore[attr-defined]


def test_the_session_cookie_cannot_be_forged_and_ends(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, _, _ = desk
    user = vf.user(session, unit)
    _log_in(client, user.username)
    assert client.get("/console", follow_redirects=False).status_code == 200
    value = client.cookies[SESSION_COOKIE]
    payload = signing.loads("test-secret-key-that-is-long-enough-0123456789", SESSION_PURPOSE, value)
    assert payload is not None and payload["u"] == user.id
    # A cookie signed with another key, or altered, is refused.
    body, _, sig = value.partition(".")
    other = signing.dumps("wrong secret", SESSION_PURPOSE, {**payload, "u": user.id}, max_age_seconds=3600)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, other)
    assert client.get("/console", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, body[:-2] + "xx." + sig)
    assert client.get("/console", follow_redirects=False).status_code == 303
    # Deactivating the account ends its logins at once.
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/console", follow_redirects=False).status_code == 200
    user.active = False
    session.flush()
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_slip_outside_the_officers_units_is_not_shown(client: TestClient, session: Session) -> None:
    mine, theirs = factories.unit(session), factories.unit(session)
    visit = vf.visit(session, factories.counter(session, theirs))
    _log_in(client, vf.user(session, mine).username)
    assert client.get(f"/console/visits/{visit.token}").status_code == 404
    csrf = _csrf(client.get("/console").text)
    foreign = factories.counter(session, theirs, code="Q-THEIRS")
    response = client.post("/console/visits", data={"csrf": csrf, "counter": foreign.code, "field": "land"})
    assert response.status_code == 403


def test_signing_round_trip_and_expiry() -> None:
    token = signing.dumps("k", "p", {"u": 1}, max_age_seconds=60, now=1000)
    assert signing.loads("k", "p", token, now=1059) == {"u": 1, "exp": 1060}
    assert signing.loads("k", "p", token, now=1060) is None  # expired
    assert signing.loads("k", "other purpose", token, now=1000) is None
    assert signing.loads("other key", "p", token, now=1000) is None
    assert signing.loads("k", "p", "garbage", now=1000) is None

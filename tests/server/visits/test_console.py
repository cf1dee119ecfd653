"""The counter console over HTTP, on the shared login: who may use it, CSRF on its form, inviting a rating, the slip."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import Counter, Officer, Unit, Visit
from tests import factories, logins
from tests.server.visits import factories as vf


@pytest.fixture
def desk(session: Session) -> tuple[Unit, Counter, Officer]:
    unit = factories.unit(session, name="Bộ phận Một cửa xã Ea Kao")
    return unit, factories.counter(session, unit, code="Q-01"), factories.officer(session, unit)


def test_the_console_needs_a_login(client: TestClient) -> None:
    html = {"accept": "text/html"}
    response = client.get("/console", headers=html, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fconsole"
    slip = client.get("/console/visits/AAAAAAAAAAAA", headers=html, follow_redirects=False)
    assert slip.status_code == 303 and slip.headers["location"].startswith("/login?next=")
    assert client.post("/console/visits", data={}, headers=html, follow_redirects=False).status_code == 303
    htmx = client.post("/console/visits", data={}, headers={**html, "HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login?next=%2Fconsole%2Fvisits"
    assert client.get("/console", headers={"accept": "application/json"}).status_code == 401


def test_old_login_bookmarks_go_to_the_shared_login(client: TestClient) -> None:
    response = client.get("/console/login?next=/console", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/console"
    assert client.post("/console/login", data={}).status_code in (404, 405)
    assert client.post("/console/logout", data={}).status_code in (404, 405)


def test_logging_in_from_the_console_comes_back_to_it(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, _, officer = desk
    user = logins.user(session, "officer", unit, officer=officer)
    response = logins.post_login(client, user.username, next_url="/console")
    assert response.status_code == 303 and response.headers["location"] == "/console"
    page = client.get("/console")
    assert page.status_code == 200 and "Bộ phận Một cửa xã Ea Kao" in page.text
    # The page carries the session's token for the form, htmx's header and the shared logout.
    token = logins.csrf(client)
    assert f'<meta name="csrf-token" content="{token}">' in page.text
    assert page.text.count(f'name="csrf_token" value="{token}"') == 2
    assert 'action="/logout"' in page.text and "/static/js/csrf.js" in page.text
    logout = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert logout.status_code == 303
    assert client.get("/console", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303


def test_login_invite_and_slip(client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]) -> None:
    unit, counter, officer = desk
    csrf = logins.login(client, logins.user(session, "officer", unit, officer=officer))
    page = client.get("/console")
    assert page.status_code == 200 and "Bộ phận Một cửa xã Ea Kao" in page.text
    assert 'value="Q-01"' in page.text and 'value="land"' in page.text
    invite = client.post(
        "/console/visits",
        data={"csrf_token": csrf, "counter": "Q-01", "field": "land", "procedure_code": "1.004227"},
        follow_redirects=False,
    )
    assert invite.status_code == 303
    assert "hl_console_counter=Q-01" in invite.headers["set-cookie"]
    token = invite.headers["location"].rsplit("/", 1)[1]
    visit = session.exec(select(Visit).where(Visit.token == token)).one()
    assert (visit.counter_id, visit.officer_id, visit.procedure_code) == (counter.id, officer.id, "1.004227")
    assert visit.field_id == factories.field(session, "land").id
    slip = client.get(f"/console/visits/{token}")
    assert slip.status_code == 200
    assert (
        f'src="/api/v1/visits/{token}/qr.svg"' in slip.text
        and f'http://testserver/r/<wbr><span class="slip-token">{token}</span>' in slip.text
    )
    assert "Bộ phận Một cửa xã Ea Kao" in slip.text and "Đất đai" in slip.text and "slip--80mm" in slip.text
    assert "slip--a6" in client.get(f"/console/visits/{token}?format=a6").text
    # The console remembers the counter, and lists the visit: by its id, never its token (issue 18).
    console = client.get("/console").text
    assert f'href="/console/slips/{visit.id}"' in console and token not in console


def test_invite_with_htmx_answers_the_slip_partial(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, _, _ = desk
    csrf = logins.login(client, logins.user(session, "manager", unit))
    # htmx sends the token as the X-CSRF-Token header (static/js/csrf.js).
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
    response = client.post("/console/visits", data={"counter": "Q-01", "field": "tax"}, headers=htmx)
    assert response.status_code == 201
    assert response.text.lstrip().startswith('<div class="visit-status') and "<html" not in response.text
    assert '<div class="slip-wrap">' in response.text
    visit = session.exec(select(Visit)).one()
    assert visit.officer_id is None  # a manager without an officer record
    bad = client.post("/console/visits", data={"counter": "Q-01", "field": "nope"}, headers=htmx)
    assert bad.status_code == 422 and "Không có lĩnh vực &#39;nope&#39;" in bad.text


def test_the_console_form_needs_the_session_csrf_token(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, _, _ = desk
    logins.login(client, logins.user(session, "officer", unit))
    html = {"accept": "text/html"}
    assert client.post("/console/visits", data={"counter": "Q-01", "field": "land"}, headers=html).status_code == 403
    forged = client.post("/console/visits", data={"csrf_token": "x", "counter": "Q-01", "field": "land"}, headers=html)
    assert forged.status_code == 403 and "Biểu mẫu đã hết hạn" in forged.text
    assert session.exec(select(Visit)).all() == []


def test_who_may_use_the_console(client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]) -> None:
    unit, _, _ = desk
    html = {"accept": "text/html"}
    for role in ("officer", "manager", "admin"):
        client.cookies.clear()
        logins.login(client, logins.user(session, role, unit))
        assert client.get("/console", headers=html).status_code == 200, role
    # An account without a unit gets a clear 403 page, not the console.
    client.cookies.clear()
    logins.login(client, logins.user(session, "admin", None))
    page = client.get("/console", headers=html)
    assert page.status_code == 403 and "chưa có đơn vị" in page.text and "<html" in page.text
    assert "has no unit" in client.get("/console?lang=en", headers=html).text
    # A deactivated account's session ends at once.
    client.cookies.clear()
    user = logins.user(session, "officer", unit)
    logins.login(client, user)
    assert client.get("/console", headers=html, follow_redirects=False).status_code == 200
    user.active = False
    session.flush()
    assert client.get("/console", headers=html, follow_redirects=False).status_code == 303


def test_a_slip_or_counter_outside_the_officers_units_is_refused(client: TestClient, session: Session) -> None:
    mine, theirs = factories.unit(session), factories.unit(session)
    factories.counter(session, mine, code="Q-MINE")
    visit = vf.visit(session, factories.counter(session, theirs))
    csrf = logins.login(client, logins.user(session, "officer", mine))
    assert client.get(f"/console/visits/{visit.token}").status_code == 404
    foreign = factories.counter(session, theirs, code="Q-THEIRS")
    response = client.post("/console/visits", data={"csrf_token": csrf, "counter": foreign.code, "field": "land"})
    assert response.status_code == 403
    assert session.exec(select(Visit).where(Visit.counter_id == foreign.id)).all() == []
    # A counter cookie naming another unit's counter is ignored: the console offers only its own counters.
    client.cookies.set("hl_console_counter", foreign.code)
    page = client.get("/console")
    assert page.status_code == 200 and "Q-THEIRS" not in page.text and 'value="Q-MINE" selected' in page.text

"""Issue 19 ("Hardening, second round"), the central server's low findings 5, 6, 7, 10 and 11; each test names its
finding. (Findings 1 and 2: test_write_lock.py and test_admission.py; 3: auth/test_login_throttle.py; 8 and the
kiosk's part of 10: tests/kiosk/test_hardening.py.)"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.app import create_app
from server.auth.service import create_api_key
from server.auth.sessions import LOGIN_CSRF_COOKIE
from server.config import Settings
from server.db import make_engine, utcnow
from server.demo import seed_demo
from server.kiosks.service import MAX_FAILURES_TOTAL, create_pairing_code
from server.models import Counter, PairingAttempt, Rating, Unit, Visit
from tests import factories, logins
from tests.conftest import make_settings
from tests.databases import DatabaseFactory
from tests.server.visits import factories as vf
from tests.test_cli import run

JSON = {"accept": "application/json"}
HTML = {"accept": "text/html"}


@pytest.fixture
def unit(session: Session) -> Unit:
    return factories.unit(session, code="H2-U", name="Đơn vị thử")


@pytest.fixture
def read_key(session: Session, unit: Unit) -> str:
    return create_api_key(session=session, kind="read", unit=unit)[1]


# --- finding 5: impossible periods are 422, never 500 -----------------------------------------------------------

BAD_PERIODS = ["0001-01", "0001", "9998-12-01..9999-12-31", "9999-12", "٢٠٢٦-١١", "٢٠٢٦", "2026-١١"]


@pytest.mark.parametrize("period", BAD_PERIODS)
def test_impossible_periods_are_422_for_the_api(client: TestClient, read_key: str, period: str) -> None:
    auth = {"authorization": f"Bearer {read_key}", **JSON}
    for path in ("/api/v1/indices", "/exports/monthly.csv", "/exports/monthly.pdf"):
        response = client.get(path, params={"period": period}, headers=auth)
        assert response.status_code == 422, (path, response.text)
        assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("period", ["0001", "٢٠٢٦-١١", "9998-12-01..9999-12-31"])
def test_impossible_periods_are_a_friendly_422_page(
    client: TestClient, session: Session, unit: Unit, period: str
) -> None:
    logins.login(client, logins.user(session, "manager", unit))
    page = client.get("/dashboard", params={"period": period}, headers=HTML)
    assert page.status_code == 422 and "<html" in page.text and "Traceback" not in page.text


def test_export_file_names_are_ascii(client: TestClient, read_key: str) -> None:
    response = client.get("/exports/monthly.csv?period=2026-Q3", headers={"authorization": f"Bearer {read_key}"})
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.isascii() and disposition.endswith('_2026-Q3.csv"')


# --- finding 6: guessers elsewhere cannot lock pairing for a kiosk with its valid code ------------------------


def test_a_valid_pairing_code_from_a_new_address_pairs_while_guessers_are_locked(
    app: FastAPI, session: Session, settings: Settings, unit: Unit
) -> None:
    counter = factories.counter(session, unit, code="H2-Q1")
    now = utcnow()
    for i in range(MAX_FAILURES_TOTAL):  # 100 wrong codes from 10 addresses, just now
        session.add(PairingAttempt(at=now - timedelta(seconds=i), client=f"198.51.100.{i % 10}", succeeded=False))
    session.flush()
    code, _ = create_pairing_code(session=session, counter_code=counter.code, settings=settings)
    guesser = TestClient(app, client=("198.51.100.3", 50000))
    assert guesser.post("/api/v1/kiosks/pair", json={"code": code}).status_code == 429
    kiosk = TestClient(app, client=("203.0.113.20", 50000))
    paired = kiosk.post("/api/v1/kiosks/pair", json={"code": code})
    assert paired.status_code == 201, paired.text
    assert paired.json()["counter"] == "H2-Q1"
    # A guesser's new address gets nothing either: its first wrong code already counts it among the guessers.
    newcomer = TestClient(app, client=("203.0.113.21", 50000))
    assert newcomer.post("/api/v1/kiosks/pair", json={"code": "AAAA-AAAA"}).status_code == 404
    assert newcomer.post("/api/v1/kiosks/pair", json={"code": "AAAA-AAAB"}).status_code == 429


# --- finding 7: no control characters in contract text; the CLI escapes what it shows -------------------------


def test_control_characters_are_refused_in_contract_text(client: TestClient, session: Session, unit: Unit) -> None:
    counter = factories.counter(session, unit, code="H2-Q2")
    _, token = factories.kiosk_device(session, counter)
    device = {"authorization": f"Bearer {token}"}
    for version in ("1.0\x1b[2J", "1.0\x9b31m", "1.0\r\nforged line", "1.0\x07"):
        response = client.post("/api/v1/kiosks/heartbeat", json={"backlog": 0, "app_version": version}, headers=device)
        assert response.status_code == 422, version
    assert client.post(
        "/api/v1/kiosks/heartbeat", json={"backlog": 0, "app_version": "1.2.3"}, headers=device
    ).is_success
    assert client.post("/api/v1/kiosks/pair", json={"code": "ABCD\x1bEFGH"}).status_code == 422
    visits_key = create_api_key(session=session, kind="visits", unit=unit)[1]
    bad_visit = {"counter": "H2-Q2", "field": "land", "dossier_code": "D-1\x1b]0;owned\x07"}
    response = client.post("/api/v1/visits", json=bad_visit, headers={"authorization": f"Bearer {visits_key}"})
    assert response.status_code == 422


def test_kiosk_list_escapes_control_characters(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    engine = make_engine(url)
    with Session(engine) as session:
        counter = factories.counter(session, factories.unit(session), code="H2-Q3")
        device, _ = factories.kiosk_device(session, counter)
        # Stored before this fix (or written around the API): the listing must still not obey it.
        device.app_version = "1.0\x1b]0;owned\x07\x1b[2J\x9b1m\tx"
        session.add(device)
        session.commit()
    engine.dispose()
    listed = run("kiosk-list", url=url)
    assert listed.returncode == 0, listed.stderr
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", listed.stdout)
    assert "1.0\\x1b]0;owned\\x07\\x1b[2J\\x9b1m\\x09x" in listed.stdout


# --- finding 10: the database file is created private ------------------------------------------------------------


def test_sqlite_database_and_its_wal_files_are_created_0600() -> None:
    path = Path(tempfile.mkdtemp(prefix="hailong-mode-")) / "var" / "hailong.db"
    old = os.umask(0o022)  # the usual umask, under which SQLite made 0644 files
    try:
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (a INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        files = [path, path.with_name("hailong.db-wal"), path.with_name("hailong.db-shm")]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        engine.dispose()
    finally:
        os.umask(old)
    assert modes == {f.name: 0o600 for f in files}


# --- finding 11: Secure cookie with https, relative language links, random demo tokens, every honeypot value ----


def test_cookies_are_secure_when_the_public_address_is_https(db_factory: DatabaseFactory) -> None:
    settings = make_settings(db_factory.new_url(), public_base_url="https://hailong.example.gov.vn")
    assert settings.environment == "test"
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        page = client.get("/login")
    cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith(LOGIN_CSRF_COOKIE))
    assert "Secure" in cookie  # the session cookie has the same flags (server/auth/routes.py `_cookie_flags`)


def test_language_links_do_not_come_from_the_host_header(client: TestClient) -> None:
    page = client.get("/login?next=/dashboard", headers={"host": "evil.example", **HTML})
    assert page.status_code == 200
    links = re.findall(r'<a href="([^"]*)" hreflang="(?:en|vi)"', page.text)
    assert links == ["/login?next=%2Fdashboard&amp;lang=en"]
    assert "evil.example" not in page.text
    # A path that starts with two slashes cannot become a link to another site.
    odd = client.get("//evil.example/login", headers=HTML)
    assert not re.search(r'href="//', odd.text)


def test_demo_visit_tokens_are_not_guessable(session: Session, settings: Settings) -> None:
    seed_demo(session=session, end_month=date(2026, 11, 1), months=1, tz=settings.tz)
    tokens = session.exec(select(Visit.token)).all()
    assert len(tokens) > 10
    assert not any(t.startswith("demo") for t in tokens)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{12}", t) for t in tokens)  # server.visits.service.new_token
    assert len(set(tokens)) == len(tokens)


def _phone_form(client: TestClient, token: str) -> dict[str, Any]:
    page = client.get(f"/r/{token}")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return {"csrf": match.group(1), "level": "4"}


def test_every_honeypot_value_is_checked(client: TestClient, session: Session, unit: Unit) -> None:
    counter: Counter = factories.counter(session, unit, code="H2-Q4")
    visit = vf.visit(session, counter)
    form = _phone_form(client, visit.token)
    body = f"csrf={form['csrf']}&level=4&website=&website=http%3A%2F%2Fspam.example"
    robot = client.post(
        f"/r/{visit.token}",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert robot.status_code == 400
    assert session.exec(select(Rating).where(Rating.visit_id == visit.id)).first() is None

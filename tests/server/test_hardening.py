"""Hardening: security headers on every page, no inline script or style in templates, phone pages that expose
nothing of the staff side, and no secret in any log record."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.auth.service import create_api_key
from server.auth.sessions import SESSION_COOKIE
from server.db import make_engine
from server.hardening import redact_path
from server.kiosks.service import create_pairing_code
from tests import factories, logins
from tests.conftest import make_settings
from tests.databases import DatabaseFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
#: Values for path parameters of page routes (a real one where it matters, anything otherwise).
PATH_VALUES = {"field_code": "land", "officer_code": "OFF1", "user_id": "1", "device_id": "1", "key_id": "1"}


def page_routes(app: FastAPI) -> list[str]:
    """Every GET route that answers HTML to a person (not the API, files, exports or the schema)."""
    paths = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        if getattr(context, "dependant", None) is None or path is None or "GET" not in (context.methods or set()):
            continue
        if path.startswith(("/api/", "/exports/", "/static")) or path in ("/healthz", "/openapi.json"):
            continue
        paths.append(path)
    return paths


def test_every_page_has_the_security_headers(client: TestClient, session: Session) -> None:
    counter = factories.counter(session, factories.unit(session, code="HDN"))
    visit = factories.counter_visit(session, counter)
    logins.login(client, logins.user(session, "admin"))
    paths = page_routes(client.app)  # type: ignore[arg-type]
    assert {"/", "/login", "/dashboard", "/admin", "/r/{token}", "/console"} <= set(paths)
    for template in paths:
        url = re.sub(r"\{(\w+)\}", lambda m: visit.token if m[1] == "token" else PATH_VALUES.get(m[1], "x"), template)
        response = client.get(url, headers={"Accept": "text/html"}, follow_redirects=False)
        assert response.status_code < 500, (url, response.status_code)
        csp = response.headers.get("content-security-policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        assert directives.get("script-src") == ["'self'"], (url, csp)
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, url
        assert directives.get("frame-ancestors") == ["'none'"], url
        assert response.headers.get("x-content-type-options") == "nosniff", url
        assert response.headers.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin"), url


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
STYLE_ATTR = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE | re.DOTALL)


def test_templates_have_no_inline_script_handlers_or_styles() -> None:
    offenders = []
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 20
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for name, pattern in (("inline <script>", INLINE_SCRIPT), ("on*= handler", HANDLER), ("style=", STYLE_ATTR)):
            offenders += [f"{path.relative_to(TEMPLATES)}: {name}: {m[0][:60]!r}" for m in pattern.finditer(text)]
    assert not offenders, "\n".join(offenders)


def test_the_scan_finds_what_it_looks_for() -> None:
    assert INLINE_SCRIPT.search("<script>alert(1)</script>") and not INLINE_SCRIPT.search('<script src="/a.js">')
    assert HANDLER.search('<button\n  onclick="x()">') and STYLE_ATTR.search('<p style="color:red">')
    assert not HANDLER.search('<a data-on="x" href="/">') and not STYLE_ATTR.search('<link rel="stylesheet">')


STAFF_WORDS = ("/admin", "/dashboard", "/login", "/console", "Quản trị", "Đăng nhập", "hx-", "csrf.js")


def test_phone_pages_expose_nothing_of_the_staff_side(client: TestClient, session: Session) -> None:
    counter = factories.counter(session, factories.unit(session, code="PHN"))
    visit = factories.counter_visit(session, counter)
    rated = factories.counter_visit(session, counter)
    form = client.get(f"/r/{visit.token}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert form.status_code == 200 and csrf
    done = client.post(f"/r/{visit.token}", data={"csrf": csrf[1], "level": "4"})
    assert done.status_code == 200 and "/thanks" in str(done.url)
    pages = [form, done, client.get("/r/unknown-token-1"), client.get(f"/r/{rated.token}?lang=en")]
    for page in pages:
        for word in STAFF_WORDS:
            assert word not in page.text, (page.url, word)
        cookies = page.headers.get_list("set-cookie")
        assert not [c for c in cookies if c.startswith((SESSION_COOKIE, "hl_login", "hl_console"))]


# --- secrets never logged -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(db_factory: DatabaseFactory) -> Iterator[tuple[str, FastAPI]]:
    """The app behind a real uvicorn (its access log included) on a fresh database."""
    app = create_app(make_settings(db_factory.new_url()))
    port = _free_port()
    # log_config=None: uvicorn leaves logging alone, so its records reach the test's log capture.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="debug"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(10)


def test_no_secret_reaches_any_log(served: tuple[str, FastAPI], caplog: pytest.LogCaptureFixture) -> None:
    base, app = served
    settings = app.state.settings
    engine = make_engine(settings.database_url)
    password = "Tr0ub4dor&3-secret-password"
    with Session(engine, expire_on_commit=False) as session:
        unit = factories.unit(session, code="LOG")
        counter = factories.counter(session, unit, code="LOGC1")
        pairing_code, _ = create_pairing_code(session=session, counter_code="LOGC1", settings=settings)
        _, visits_key = create_api_key(session=session, kind="visits", unit=unit)
        _, read_key = create_api_key(session=session, kind="read", unit=unit)
        logins.user(session, "manager", unit, username="logcheck", password=password)
        visit = factories.counter_visit(session, counter)
        session.commit()
    engine.dispose()

    for name in ("hailong", "uvicorn", "uvicorn.access", "uvicorn.error", "sqlalchemy", "sqlalchemy.engine"):
        caplog.set_level(logging.DEBUG, logger=name)
    with httpx.Client(base_url=base, timeout=30) as http:
        paired = http.post("/api/v1/kiosks/pair", json={"code": pairing_code})
        assert paired.status_code == 201, paired.text
        device_token = paired.json()["token"]
        device = {"Authorization": f"Bearer {device_token}"}
        assert http.post("/api/v1/kiosks/heartbeat", json={"backlog": 0, "app_version": "t"}, headers=device).is_success
        assert http.post("/api/v1/ratings", json={"ratings": []}, headers=device).status_code == 200
        created = http.post(
            "/api/v1/visits",
            json={"counter": "LOGC1", "field": "land"},
            headers={"Authorization": f"Bearer {visits_key}"},
        )
        assert created.status_code == 201, created.text
        new_visit = created.json()["token"]
        indices = http.get(
            "/api/v1/indices", params={"period": "2026-10"}, headers={"Authorization": f"Bearer {read_key}"}
        )
        assert indices.status_code == 200, indices.text
        assert (
            http.get(
                "/api/v1/indices", params={"period": "2026-10"}, headers={"Authorization": "Bearer nope"}
            ).status_code
            == 401
        )
        login_page = http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text)
        assert token
        wrong = http.post("/login", data={"username": "logcheck", "password": password + "x", "csrf_token": token[1]})
        assert wrong.status_code in (401, 422, 200)
        ok = http.post(
            "/login",
            data={"username": "logcheck", "password": password, "csrf_token": token[1]},
            follow_redirects=False,
        )
        assert ok.status_code == 303, ok.text
        session_id = http.cookies.get(SESSION_COOKIE)
        assert session_id
        assert http.get("/dashboard").status_code == 200
        assert http.get(f"/r/{visit.token}").status_code == 200
        assert http.get(f"/api/v1/visits/{new_visit}/qr.svg").status_code == 200

    secrets = {
        "password": password,
        "pairing code": pairing_code,
        "pairing code (bare)": pairing_code.replace("-", ""),
        "device token": device_token,
        "visits key": visits_key,
        "read key": read_key,
        "session id": session_id,
        "visit token": visit.token,
        "new visit token": new_visit,
    }
    records = caplog.records
    # The capture works: the access log, SQL statements and their parameters are all in it.
    assert any(r.name == "uvicorn.access" for r in records)
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)
    for record in records:
        text = record.getMessage() + repr(getattr(record, "args", ""))
        for what, secret in secrets.items():
            assert secret not in text, f"{what} in a log record of {record.name}: {text[:200]}"


def test_redaction_of_capability_paths() -> None:
    assert redact_path("/r/Xk3abc-_9QzZ") == "/r/…"
    assert redact_path("/r/Xk3abc/thanks?lang=en") == "/r/…/thanks?lang=en"
    assert redact_path("/api/v1/visits/Xk3abc/qr.png") == "/api/v1/visits/…/qr.png"
    assert redact_path("/api/v1/visits") == "/api/v1/visits" and redact_path("/dashboard") == "/dashboard"

"""The app shell: health, errors as JSON or pages, offline docs, security headers, settings."""

from __future__ import annotations

import gc
import re

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from server.app import create_app, create_app_from_env
from server.config import DEFAULT_SECRET, Settings
from tests.conftest import make_settings
from tests.databases import DatabaseFactory


def test_healthz_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_reports_unreachable_database() -> None:
    settings = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert "cannot reach the database" in response.json()["detail"]


def test_unknown_api_path_is_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_unknown_page_is_a_friendly_page_in_both_languages(client: TestClient) -> None:
    vi = client.get("/nothing-here", headers={"accept": "text/html"})
    assert vi.status_code == 404
    assert '<html lang="vi">' in vi.text and "Không tìm thấy trang" in vi.text
    en = client.get("/nothing-here?lang=en", headers={"accept": "text/html"})
    assert '<html lang="en">' in en.text and "Page not found" in en.text


def test_security_headers_on_pages(client: TestClient) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_docs_are_served_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"(src|href)=\"https?://", page.text)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset
    schema = client.get("/openapi.json").json()
    assert "/healthz" in schema["paths"]
    assert "Asia/Ho_Chi_Minh" in schema["info"]["description"]


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="HAILONG_SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET)
    with pytest.raises(ValidationError, match="HAILONG_SECRET_KEY"):
        Settings(environment="production", secret_key="short")
    ok = Settings(environment="production", secret_key="x" * 40, database_url="postgresql://u@h/db")
    assert ok.database_url == "postgresql+psycopg://u@h/db"


def test_server_workers_start_with_their_templates_compiled_and_connections_open(
    db_factory: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`create_app_from_env` (each `hailong serve` worker) compiles every template and, on PostgreSQL, opens its
    pool before serving (on SQLite only the connection that answered the start-up public page is kept); an
    unreachable database does not stop it from starting."""
    monkeypatch.setattr(gc, "freeze", lambda: None)  # the worker's start-up step, not for the test process
    url = db_factory.new_url()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HAILONG_DB_POOL_SIZE", "3")
    # The notification sender runs beside the requests and may hold a connection at the moment the pool is counted.
    monkeypatch.setenv("HAILONG_NOTIFY_INTERVAL_SECONDS", "0")
    app = create_app_from_env()
    env = app.state.templates.env
    assert {name for name in env.list_templates(extensions=["html"])} <= {t.name for t in env.cache.values()}
    with TestClient(app):
        expected = 1 if db_factory.backend == "sqlite" else 3
        assert app.state.engine.pool.checkedin() == expected
    if db_factory.backend == "postgresql":
        monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/unreachable")
        with TestClient(create_app_from_env()) as client:
            assert client.get("/healthz").status_code == 503


def test_the_start_page_links_to_the_login(client: TestClient) -> None:
    page = client.get("/")
    assert '<a href="/login">Đăng nhập</a>' in page.text
    assert client.get("/login", headers={"accept": "text/html"}).status_code == 200
    assert '<a href="/login">Log in</a>' in client.get("/?lang=en").text

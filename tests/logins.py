"""Test helpers for people who log in: make a user, log a TestClient in, get its CSRF token."""

from __future__ import annotations

import itertools
import re

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.auth.service import create_user
from server.auth.sessions import SESSION_COOKIE, csrf_token_for
from server.models import Officer, Unit, User

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)
_LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def user(
    session: Session,
    role: str = "manager",
    unit: Unit | None = None,
    *,
    username: str | None = None,
    officer: Officer | None = None,
    password: str = PASSWORD,
) -> User:
    """A user with a known password."""
    return create_user(
        session=session,
        username=username or f"{role}{next(_seq)}",
        password=password,
        role=role,
        unit=unit,
        officer=officer,
    )


def login_form_token(client: TestClient) -> str:
    """GET /login and return the login form's CSRF token (the page sets its cookie)."""
    page = client.get("/login")
    match = _LOGIN_TOKEN.search(page.text)
    assert match, page.text
    return match.group(1)


def post_login(client: TestClient, username: str, password: str = PASSWORD, next_url: str = "") -> httpx.Response:
    """Submit the login form as a browser would; returns the response (not followed)."""
    token = login_form_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_url},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )


def login(client: TestClient, account: User, password: str = PASSWORD) -> str:
    """Log `client` in as `account`; returns the session's CSRF token for later POSTs."""
    response = post_login(client, account.username, password)
    assert response.status_code == 303, response.text
    return csrf(client)


def csrf(client: TestClient) -> str:
    """The CSRF token of the client's current session."""
    secret = client.app.state.settings.secret_key  # type: ignore[attr-defined]
    return csrf_token_for(secret, client.cookies[SESSION_COOKIE])

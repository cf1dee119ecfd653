"""The administration forms are pydantic models: a form failing its model gets its own page again (422, the values
as sent, one message naming the field in the page's language), after the login and CSRF checks, never JSON or a 500."""

from __future__ import annotations

import re
from typing import Annotated, get_args, get_origin, get_type_hints

from bs4 import BeautifulSoup
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlmodel import Session, select

from server.admin import publication
from server.admin import routes as admin_routes
from server.admin.forms import AdminForm
from server.models import Unit
from tests.server.dashboard.world import World

HTML = {"accept": "text/html"}


def test_an_overlong_field_gets_the_form_again_with_a_vietnamese_message(
    client: TestClient, session: Session, csrf: str
) -> None:
    sent = {"csrf_token": csrf, "unit_code": "W-LONG", "name": "Xã " + "x" * 1000, "parent_code": "W-A"}
    page = client.post("/admin/units", data=sent, headers=HTML)
    assert page.status_code == 422
    soup = BeautifulSoup(page.text, "html.parser")
    assert "Tên: quá dài (tối đa 1000)." in soup.get_text()
    assert soup.select_one('form[action="/admin/units"] input[name="unit_code"]')["value"] == "W-LONG"  # type: ignore[index]
    assert session.exec(select(Unit).where(Unit.code == "W-LONG")).first() is None


def test_the_message_follows_the_page_language(client: TestClient, csrf: str) -> None:
    sent = {"csrf_token": csrf, "kind": "read", "unit_code": "W-A", "label": "x" * 300}
    page = client.post("/admin/apikeys?lang=en", data=sent, headers=HTML)
    assert page.status_code == 422
    assert "too long (at most 255)" in page.text and "quá dài" not in page.text


def test_a_password_is_never_sent_back(client: TestClient, csrf: str) -> None:
    secret = "bí-mật-" + "y" * 1100
    sent = {"csrf_token": csrf, "username": "dai", "role": "manager", "password": secret}
    page = client.post("/admin/users", data=sent, headers=HTML)
    assert page.status_code == 422 and "quá dài (tối đa 1024)" in page.text
    assert "bí-mật" not in page.text and 'value="dai"' in page.text


def test_the_csrf_check_comes_before_the_form(client: TestClient, csrf: str) -> None:
    page = client.post("/admin/units", data={"name": "x" * 5000}, headers=HTML)
    assert page.status_code == 403 and "Biểu mẫu đã hết hạn" in page.text


def _form_routes() -> list[tuple[str, type[BaseModel]]]:
    found: list[tuple[str, type[BaseModel]]] = []
    for route in [*admin_routes.router.routes, *publication.router.routes]:
        if isinstance(route, APIRoute) and "POST" in (route.methods or set()):
            for hint in get_type_hints(route.endpoint, include_extras=True).values():
                model = get_args(hint)[0] if get_origin(hint) is Annotated else hint
                if isinstance(model, type) and issubclass(model, AdminForm):
                    found.append((route.path, model))
    return found


def test_every_admin_form_refuses_overlong_input_with_a_page(client: TestClient, world: World, csrf: str) -> None:
    ids = {
        "unit_id": world.a.id,
        "code": world.counter_a1.code,
        "field_code": "land",
        "officer_code": world.officer_a1.code,
        "user_id": world.manager_a.id,
        "device_id": world.kiosk_a1.id,
        "key_id": world.key_a.id,
    }
    routes = _form_routes()
    assert len(routes) >= 15
    for path, model in routes:
        url = re.sub(r"\{([a-z_]+)\}", lambda m: str(ids[m[1]]), path)
        for name, info in model.model_fields.items():
            if info.annotation is not str:
                continue
            response = client.post(url, data={"csrf_token": csrf, name: "x" * 5000}, headers=HTML)
            assert response.status_code == 422, (url, name, response.status_code)
            assert response.headers["content-type"].startswith("text/html"), (url, name)
            assert "quá dài (tối đa" in response.text, (url, name)

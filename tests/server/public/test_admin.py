"""/admin/cong-khai: administrators choose what is public and the minimum sample; changes are audited and show on
the public pages at once (this worker's cache is replaced)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import AuditLog, PublicSetting, PublicUnit
from tests import logins
from tests.server.dashboard.world import World, build_world

HTML = {"accept": "text/html"}


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def post(client: TestClient, url: str, csrf: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": csrf, **data}, headers=HTML, follow_redirects=False)


def public_units(client: TestClient) -> list[str]:
    return [r["unit"] for r in client.get("/cong-khai/data.json", params={"period": "2026-10"}).json()["rows"]]


def test_only_administrators_see_the_page(client: TestClient, world: World) -> None:
    assert client.get("/admin/cong-khai", headers=HTML, follow_redirects=False).status_code in (302, 303)
    logins.login(client, world.manager_a)
    assert client.get("/admin/cong-khai", headers=HTML).status_code == 403


def test_withhold_then_inherit_a_subtree(client: TestClient, world: World, session: Session) -> None:
    csrf = logins.login(client, world.admin)
    page = client.get("/admin/cong-khai", headers=HTML)
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one('form[action="/admin/cong-khai/units"] input[name="csrf_token"]') is not None
    assert "Tỉnh thử nghiệm" in soup.get_text()  # the page opens on the province
    # The unit is chosen from the list (tree order), never typed (issue 21 item 19).
    choices = [o["value"] for o in soup.select('form[action="/admin/cong-khai/units"] select[name="unit_code"] option')]
    assert choices == ["", "W-ROOT", "W-A", "W-A1", "W-A2", "W-B", "W-B1"], choices
    assert soup.select_one('form[action="/admin/cong-khai/units"] input[name="unit_code"]') is None
    assert "W-B1" in public_units(client)  # read once: now in this worker's cache

    answer = post(client, "/admin/cong-khai/units", csrf, {"unit_code": "W-B", "choice": "withhold"})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/cong-khai?notice=unit-saved"
    setting = session.get(PublicUnit, world.b.id)
    assert setting is not None and setting.published is False and setting.changed_by == "w-admin"
    assert public_units(client) == ["W-ROOT", "W-A", "W-A1", "W-A2"]  # at once on this worker
    assert "Không công khai" in client.get("/admin/cong-khai?notice=unit-saved", headers=HTML).text

    assert post(client, "/admin/cong-khai/units", csrf, {"unit_code": "W-B", "choice": "inherit"}).status_code == 303
    assert session.get(PublicUnit, world.b.id) is None
    assert "W-B1" in public_units(client)
    actions = [a.detail for a in session.exec(select(AuditLog).where(AuditLog.action == "admin.public.unit")).all()]
    assert actions == ["withhold", "inherit"]


def test_bad_input_re_renders_the_form_with_its_error(client: TestClient, world: World, session: Session) -> None:
    csrf = logins.login(client, world.admin)
    unknown = post(client, "/admin/cong-khai/units", csrf, {"unit_code": "NOPE", "choice": "withhold"})
    assert unknown.status_code == 422
    assert "Không có đơn vị 'NOPE'" in BeautifulSoup(unknown.text, "html.parser").get_text()
    assert 'name="unit_code" required' in unknown.text  # the list again (an unknown code is not one of its options)
    posted = post(client, "/admin/cong-khai/units", csrf, {"unit_code": "W-B", "choice": "maybe"})
    assert '<option value="W-B" selected>' in posted.text  # the unit chosen stays chosen
    odd = post(client, "/admin/cong-khai/units", csrf, {"unit_code": "W-B", "choice": "maybe"})
    assert odd.status_code == 422 and "Hãy chọn" in odd.text
    low = post(client, "/admin/cong-khai/min-sample", csrf, {"min_sample": "5"})
    assert low.status_code == 422 and "Cỡ mẫu tối thiểu phải từ 30" in low.text
    words = post(client, "/admin/cong-khai/min-sample", csrf, {"min_sample": "ba mươi"})
    assert words.status_code == 422 and "số nguyên" in words.text
    assert session.get(PublicSetting, 1) is None
    no_csrf = client.post("/admin/cong-khai/min-sample", data={"min_sample": "40"}, headers=HTML)
    assert no_csrf.status_code == 403


def test_the_minimum_sample_is_set_and_reset(client: TestClient, world: World, session: Session) -> None:
    csrf = logins.login(client, world.admin)
    assert post(client, "/admin/cong-khai/min-sample", csrf, {"min_sample": "41"}).status_code == 303
    assert session.get(PublicSetting, 1).min_sample == 41  # type: ignore[union-attr]
    rows = client.get("/cong-khai/data.json", params={"period": "2026-10"}).json()
    assert rows["min_sample"] == 41
    assert post(client, "/admin/cong-khai/min-sample", csrf, {"min_sample": ""}).status_code == 303
    assert session.get(PublicSetting, 1).min_sample is None  # type: ignore[union-attr]
    assert client.get("/cong-khai/data.json", params={"period": "2026-10"}).json()["min_sample"] == 30
    audited = session.exec(select(AuditLog).where(AuditLog.action == "admin.public.min_sample")).all()
    assert [a.detail for a in audited] == ["41", "default"]

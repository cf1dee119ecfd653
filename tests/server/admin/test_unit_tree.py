"""Issue 21 item 19: the unit tree can be edited, moved and searched from the tree view; unit codes are chosen
from a list, never typed."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import AuditLog, Counter, Unit
from tests.server.admin.test_admin import HTML, post
from tests.server.dashboard.world import World


def _soup(client: TestClient, url: str) -> BeautifulSoup:
    response = client.get(url, headers=HTML)
    assert response.status_code == 200, url
    return BeautifulSoup(response.text, "html.parser")


def test_tree_links_every_unit_to_its_edit_form_and_searches(client: TestClient, world: World, csrf: str) -> None:
    soup = _soup(client, "/admin/units")
    links = {a["href"] for a in soup.select("ul.tree a")}
    assert {f"/admin/units/{u.id}" for u in (world.root, world.a, world.a1, world.a2, world.b, world.b1)} <= links
    found = _soup(client, "/admin/units?q=xã a1")  # any case, with its ancestors for context
    names = [s.get_text() for s in found.select("ul.tree strong")]
    assert names == ["Tỉnh thử nghiệm", "Khu vực A", "Xã A1"]
    assert [s.get_text() for s in found.select("ul.tree strong.match")] == ["Xã A1"]
    by_code = _soup(client, "/admin/units?q=W-B1")
    assert [s.get_text() for s in by_code.select("ul.tree strong.match")] == [world.b1.name]
    none = _soup(client, "/admin/units?q=nowhere")
    assert none.select("ul.tree") == [] and "Không có đơn vị nào khớp với “nowhere”." in none.get_text()


def test_edit_and_move_a_unit_with_its_subtree(client: TestClient, session: Session, world: World, csrf: str) -> None:
    form = _soup(client, f"/admin/units/{world.a.id}")
    parents = [o["value"] for o in form.select("#e-parent option")]
    assert world.root.code in parents and world.b.code in parents
    assert not {world.a.code, world.a1.code, world.a2.code} & set(parents)  # never under its own subtree
    assert form.select_one("#e-parent option[selected]")["value"] == world.root.code  # type: ignore[index]
    done = post(
        client,
        f"/admin/units/{world.a.id}",
        csrf,
        {"name": "Khu vực A (mới)", "level": "khu vực", "parent_code": world.b.code, "active": "1"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/units?notice=unit-saved"
    session.expire_all()
    a, a1, b = (session.get(Unit, u.id) for u in (world.a, world.a1, world.b))
    assert a is not None and a1 is not None and b is not None
    assert (a.name, a.level, a.parent_id) == ("Khu vực A (mới)", "khu vực", b.id)
    assert a1.path.startswith(b.path) and a.path.startswith(b.path)  # the subtree moved with it
    counter = session.exec(select(Counter).where(Counter.code == "W-A1-Q1")).one()
    assert counter.unit_id == a1.id
    actions = [r.action for r in session.exec(select(AuditLog).where(AuditLog.target == "W-A")).all()]
    assert "admin.unit.update" in actions and "admin.unit.move" in actions
    # Deactivate without moving: no move audited.
    assert (
        post(client, f"/admin/units/{world.a2.id}", csrf, {"name": "Xã A2", "parent_code": world.a.code}).status_code
        == 303
    )
    session.expire_all()
    assert session.get(Unit, world.a2.id).active is False  # type: ignore[union-attr]
    assert [r.action for r in session.exec(select(AuditLog).where(AuditLog.target == "W-A2")).all()] == [
        "admin.unit.update"
    ]


def test_bad_edits_are_friendly(client: TestClient, session: Session, world: World, csrf: str) -> None:
    cycle = post(client, f"/admin/units/{world.a.id}", csrf, {"name": "Khu vực A", "parent_code": world.a1.code})
    assert cycle.status_code == 422
    assert "Không thể chuyển đơn vị 'W-A' vào bên dưới chính nó" in BeautifulSoup(cycle.text, "html.parser").get_text()
    empty = post(client, f"/admin/units/{world.a.id}", csrf, {"name": " ", "parent_code": world.root.code})
    assert empty.status_code == 422 and "Tên đơn vị phải có 1–255 ký tự" in empty.text
    unknown = post(client, f"/admin/units/{world.a.id}", csrf, {"name": "A", "parent_code": "NOPE"})
    assert unknown.status_code in (404, 422)
    session.expire_all()
    assert session.get(Unit, world.a.id).parent_id == world.root.id  # type: ignore[union-attr]
    assert client.get("/admin/units/999999", headers=HTML).status_code == 404
    assert client.get("/admin/units/template.csv").status_code == 200  # not taken for a unit id


@pytest.mark.parametrize(
    ("url", "select_id", "field"),
    [
        ("/admin/units", "#u-parent", "parent_code"),
        ("/admin/officers", "#o-unit", "unit_code"),
        ("/admin/users", "#n-unit", "unit_code"),
        ("/admin/apikeys", "#k-unit", "unit_code"),
    ],
)
def test_unit_codes_are_chosen_from_a_list(
    client: TestClient, world: World, csrf: str, url: str, select_id: str, field: str
) -> None:
    soup = _soup(client, url)
    assert soup.select(f"input[name={field}]") == []
    select = soup.select_one(select_id)
    assert select is not None and select.name == "select" and select["name"] == field
    options = [o["value"] for o in select.select("option") if o["value"]]
    assert options[:3] == [world.root.code, world.a.code, world.a1.code]  # tree order
    assert {world.b.code, world.b1.code} <= set(options)
    label = soup.select_one(f"label[for={select_id[1:]}]")
    assert label is not None and label.get_text().strip()

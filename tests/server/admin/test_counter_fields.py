"""Choosing the fields a counter serves on the counters page: shown, saved, audited, bad input re-rendered."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import AuditLog, CounterField, ProcedureField
from tests import logins
from tests.server.admin.test_admin import HTML, post
from tests.server.dashboard.world import World, build_world


def test_an_admin_chooses_a_counters_fields(client: TestClient, session: Session) -> None:
    world: World = build_world(session)
    csrf = logins.login(client, world.admin)
    code = world.counter_a1.code
    page = client.get("/admin/counters", headers=HTML).text
    assert f'data-counter-fields="{code}">Tất cả lĩnh vực' in page and 'id="counter-fields"' not in page
    form = client.get(f"/admin/counters?edit={code}", headers=HTML).text
    assert 'id="counter-fields"' in form and form.count('name="fields"') == 14

    saved = post(client, f"/admin/counters/{code}/fields", csrf, {"fields": ["tax", "land"]})
    assert saved.status_code == 303 and "counter-fields-saved" in saved.headers["location"]
    rows = session.exec(select(CounterField).where(CounterField.counter_id == world.counter_a1.id)).all()
    codes = {session.get(ProcedureField, r.field_id).code for r in rows}  # type: ignore[union-attr]
    assert codes == {"land", "tax"}
    page = client.get("/admin/counters?notice=counter-fields-saved", headers=HTML).text
    assert "Đã lưu lĩnh vực của quầy." in page and f'data-counter-fields="{code}">Đất đai, Thuế' in page
    again = client.get(f"/admin/counters?edit={code}", headers=HTML).text
    assert again.count(" checked>") == 2
    log = session.exec(select(AuditLog).where(AuditLog.action == "admin.counter.fields")).all()
    assert [(a.target, a.detail) for a in log] == [(code, "land,tax")]

    bad = post(client, f"/admin/counters/{code}/fields", csrf, {"fields": ["tax", "astrology"]})
    assert bad.status_code == 422 and "astrology" in bad.text and 'id="counter-fields"' in bad.text
    assert len(session.exec(select(CounterField).where(CounterField.counter_id == world.counter_a1.id)).all()) == 2
    assert post(client, "/admin/counters/NOPE/fields", csrf, {"fields": ["tax"]}).status_code == 404
    assert post(client, f"/admin/counters/{code}/fields", "wrong", {"fields": ["tax"]}).status_code == 403

    cleared = post(client, f"/admin/counters/{code}/fields", csrf, {})  # none: every field again
    assert cleared.status_code == 303
    assert session.exec(select(CounterField).where(CounterField.counter_id == world.counter_a1.id)).all() == []

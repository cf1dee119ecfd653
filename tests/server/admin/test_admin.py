"""Administration pages: every change works, is audited, survives bad input with a re-rendered form (422)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from server.auth.service import hash_token
from server.auth.sessions import SESSION_COOKIE
from server.db import utcnow
from server.kiosks.service import normalise_code
from server.models import (
    ApiKey,
    AuditLog,
    Counter,
    FieldGroup,
    KioskDevice,
    LoginSession,
    Officer,
    PairingCode,
    ProcedureField,
    Target,
    TargetGroup,
    Unit,
    User,
)
from tests import logins
from tests.server.dashboard.world import World

HTML = {"accept": "text/html"}
PAGES = ["/admin", "/admin/units", "/admin/counters", "/admin/fields", "/admin/targets", "/admin/officers",
         "/admin/users", "/admin/kiosks", "/admin/apikeys", "/admin/audit"]  # fmt: skip


def post(client: TestClient, url: str, csrf: str, data: dict[str, object] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": csrf, **(data or {})}, headers=HTML, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def audited(session: Session, action: str) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_pages_for_admins_only(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    for url in PAGES:
        assert client.get(url, headers=HTML).status_code == 403, url
    logins.login(client, world.admin)
    for url in PAGES:
        response = client.get(url, headers=HTML)
        assert response.status_code == 200, url
        assert 'name="csrf-token"' in response.text


def test_every_admin_post_needs_the_csrf_token(client: TestClient, world: World, csrf: str) -> None:
    from tests.server.test_scoping import protected_cases

    posts = [c for c in protected_cases() if c.method == "POST" and c.path.startswith("/admin")]
    assert len(posts) >= 12
    for case in posts:
        path = re.sub(r"\{[a-z_]+\}", "1", case.path)
        response = client.post(path, data={"name": "x"}, headers=HTML, follow_redirects=False)
        assert response.status_code == 403, case.id
        assert "Biểu mẫu đã hết hạn" in response.text, case.id


def test_unit_tree_create_and_duplicate(client: TestClient, session: Session, world: World, csrf: str) -> None:
    tree = BeautifulSoup(client.get("/admin/units", headers=HTML).text, "html.parser")
    assert "Xã A1" in tree.select_one("ul.tree ul ul").get_text()  # type: ignore[union-attr]  # nested under A
    done = post(
        client, "/admin/units", csrf, {"unit_code": "W-A3", "name": "Xã A3", "parent_code": "W-A", "level": "xã"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/units?notice=unit-created"
    a3 = session.exec(select(Unit).where(Unit.code == "W-A3")).one()
    assert a3.parent_id == world.a.id and a3.path.startswith(world.a.path)
    assert "Đã thêm đơn vị." in client.get(done.headers["location"], headers=HTML).text
    assert audited(session, "admin.unit.create")[0].target == "W-A3"
    again = post(client, "/admin/units", csrf, {"unit_code": "W-A3", "name": "<b>Trùng</b>", "parent_code": "W-A"})
    assert again.status_code == 422
    soup = BeautifulSoup(again.text, "html.parser")
    # The service's English error, in Vietnamese on a Vietnamese page (and as it is on an English one).
    assert "Đơn vị 'W-A3' đã có" in soup.select_one("#form-error").get_text()  # type: ignore[union-attr]
    assert soup.select_one("#u-name")["value"] == "<b>Trùng</b>"  # type: ignore[index]  # kept, escaped
    bad_parent = post(client, "/admin/units", csrf, {"unit_code": "W-X", "name": "X", "parent_code": "NOPE"})
    assert bad_parent.status_code == 422 and "Không có đơn vị" in bad_parent.text
    client.cookies.set("lang", "en")
    english = post(client, "/admin/units", csrf, {"unit_code": "W-A3", "name": "Trùng", "parent_code": "W-A"})
    client.cookies.delete("lang")
    assert english.status_code == 422
    assert (
        "unit 'W-A3' exists already" in BeautifulSoup(english.text, "html.parser").select_one("#form-error").get_text()
    )  # type: ignore[union-attr]


def test_units_and_counters_import(client: TestClient, session: Session, world: World, csrf: str) -> None:
    units_csv = "code,name,parent_code,level\nW-C,Khu vực C,W-ROOT,khu vực\nW-C1,Xã C1,W-C,xã\n".encode()
    done = post(client, "/admin/units/import", csrf, files={"file": ("units.csv", units_csv, "text/csv")})
    assert done.status_code == 303
    assert session.exec(select(Unit).where(Unit.code == "W-C1")).one().path.startswith(world.root.path)
    counters_csv = "code,unit_code,name\nW-C1-Q1,W-C1,Quầy 1\n".encode()
    done = post(client, "/admin/counters/import", csrf, files={"file": ("c.csv", counters_csv, "text/csv")})
    assert done.status_code == 303
    assert session.exec(select(Counter).where(Counter.code == "W-C1-Q1")).one()
    broken = "code,name,parent_code,level\nW-D,Khu vực D,W-ROOT,\nW-D1,Xã D1,NOPE,\n".encode()
    rejected = post(client, "/admin/units/import", csrf, files={"file": ("u.csv", broken, "text/csv")})
    assert rejected.status_code == 422
    assert (
        "Dòng 3: parent_code 'NOPE' không phải đơn vị đã có" in BeautifulSoup(rejected.text, "html.parser").get_text()
    )
    assert session.exec(select(Unit).where(Unit.code == "W-D")).first() is None  # all or nothing
    not_utf8 = post(client, "/admin/counters/import", csrf, files={"file": ("c.csv", b"\xff\xfe", "text/csv")})
    assert not_utf8.status_code == 422
    assert len(audited(session, "admin.units.import")) == 1


def test_field_names_groups_and_active(client: TestClient, session: Session, csrf: str) -> None:
    data = {"name_vi": "Đất đai – nhà ở", "name_en": "Land and housing", "groups": ["lci", "health_education"]}
    assert post(client, "/admin/fields/land", csrf, data).status_code == 303
    land = session.exec(select(ProcedureField).where(ProcedureField.code == "land")).one()
    assert (land.name_vi, land.name_en, land.active) == ("Đất đai – nhà ở", "Land and housing", False)
    groups = session.exec(
        select(TargetGroup.code)
        .join(FieldGroup, col(FieldGroup.group_id) == TargetGroup.id)
        .where(FieldGroup.field_id == land.id)
    ).all()
    assert sorted(groups) == ["health_education", "lci"]
    bad = post(client, "/admin/fields/land", csrf, {"name_vi": "", "name_en": "x", "active": "1"})
    assert bad.status_code == 422 and "Tên tiếng Việt phải có 1–255 ký tự" in bad.text
    assert post(client, "/admin/fields/nope", csrf, {"name_vi": "x", "name_en": "y"}).status_code == 404
    assert audited(session, "admin.field.update")


def test_target_milestones(client: TestClient, session: Session, csrf: str) -> None:
    assert (
        post(
            client, "/admin/targets", csrf, {"group_code": "lci", "year_from": "2028", "threshold": "82,5"}
        ).status_code
        == 303
    )
    lci = session.exec(select(TargetGroup).where(TargetGroup.code == "lci")).one()
    row = session.exec(select(Target).where(Target.group_id == lci.id, Target.year_from == 2028)).one()
    assert row.threshold == pytest.approx(0.825)
    for threshold in ("abc", "120"):
        bad = post(client, "/admin/targets", csrf, {"group_code": "lci", "year_from": "2028", "threshold": threshold})
        assert bad.status_code == 422
    assert post(client, "/admin/targets/delete", csrf, {"group_code": "lci", "year_from": "2028"}).status_code == 303
    assert session.exec(select(Target).where(Target.group_id == lci.id, Target.year_from == 2028)).first() is None
    assert post(client, "/admin/targets/delete", csrf, {"group_code": "lci", "year_from": "1999"}).status_code == 422


def test_officers(client: TestClient, session: Session, world: World, csrf: str) -> None:
    ok = post(client, "/admin/officers", csrf, {"officer_code": "W-A1-CB9", "name": "Y Niê", "unit_code": "W-A1"})
    assert ok.status_code == 303
    officer = session.exec(select(Officer).where(Officer.code == "W-A1-CB9")).one()
    assert officer.unit_id == world.a1.id
    assert post(client, "/admin/officers/W-A1-CB9/active", csrf, {}).status_code == 303
    assert officer.active is False
    dup = post(client, "/admin/officers", csrf, {"officer_code": "W-A1-CB9", "name": "X", "unit_code": "W-A1"})
    assert dup.status_code == 422


def test_users_create_deactivate_and_reset_password(
    client: TestClient, session: Session, world: World, csrf: str
) -> None:
    form = {"username": "new-manager", "role": "manager", "unit_code": "W-A", "password": "a-long-password-1"}
    assert post(client, "/admin/users", csrf, form).status_code == 303
    created = session.exec(select(User).where(User.username == "new-manager")).one()
    assert created.password_hash.startswith("$argon2id$") and created.unit_id == world.a.id
    dup = post(client, "/admin/users", csrf, form)
    assert dup.status_code == 422 and "Tài khoản" in dup.text and "đã có" in dup.text
    short = post(client, "/admin/users", csrf, {**form, "username": "x2", "password": "short"})
    assert short.status_code == 422 and "Mật khẩu phải có ít nhất 10 ký tự" in short.text
    no_unit = post(client, "/admin/users", csrf, {**form, "username": "x3", "unit_code": ""})
    assert no_unit.status_code == 422

    victim = TestClient(client.app)
    logins.login(victim, world.manager_a)
    assert victim.get("/dashboard", headers=HTML).status_code == 200
    assert post(client, f"/admin/users/{world.manager_a.id}/active", csrf, {"confirm": "yes"}).status_code == 303
    assert world.manager_a.active is False
    assert victim.get("/dashboard", headers=HTML, follow_redirects=False).status_code == 303  # logged out
    assert post(client, f"/admin/users/{world.manager_a.id}/active", csrf, {"active": "1"}).status_code == 303

    logins.login(victim, world.manager_a)
    reset = post(client, f"/admin/users/{world.manager_a.id}/password", csrf, {"password": "brand-new-password"})
    assert reset.status_code == 303
    assert session.exec(select(LoginSession).where(LoginSession.user_id == world.manager_a.id)).first() is None
    assert logins.post_login(TestClient(client.app), world.manager_a.username, "brand-new-password").status_code == 303
    assert post(client, f"/admin/users/{world.manager_a.id}/password", csrf, {"password": "x"}).status_code == 422
    assert post(client, "/admin/users/999999/password", csrf, {"password": "brand-new-password"}).status_code == 404
    myself = post(client, f"/admin/users/{world.admin.id}/active", csrf, {"confirm": "yes"})
    assert myself.status_code == 422 and world.admin.active
    assert {a.action for a in session.exec(select(AuditLog)).all()} >= {
        "admin.user.create",
        "admin.user.active",
        "admin.user.password",
    }


def test_pairing_code_is_shown_once_and_stored_hashed(
    client: TestClient, session: Session, world: World, csrf: str
) -> None:
    response = post(client, "/admin/kiosks/pairing-codes", csrf, {"counter_code": "W-A1-Q1"})
    assert response.status_code == 201
    code = BeautifulSoup(response.text, "html.parser").select_one("#pairing-code").get_text().strip()  # type: ignore[union-attr]
    assert len(normalise_code(code)) >= 6 and normalise_code(code).isalnum()
    row = session.exec(select(PairingCode).where(PairingCode.counter_id == world.counter_a1.id)).one()
    assert row.code_hash == hash_token(normalise_code(code)) and normalise_code(code) not in row.code_hash
    assert timedelta(hours=23) < row.expires_at - utcnow() <= timedelta(hours=24)
    assert code not in client.get("/admin/kiosks", headers=HTML).text  # never shown again
    assert post(client, "/admin/kiosks/pairing-codes", csrf, {"counter_code": "NOPE"}).status_code == 422
    paired = client.post("/api/v1/kiosks/pair", json={"code": code.lower()})  # the kiosk accepts it as typed
    assert paired.status_code == 201 and paired.json()["counter"] == "W-A1-Q1"


def test_revoke_kiosk_and_list_status(client: TestClient, session: Session, world: World, csrf: str) -> None:
    page = client.get("/admin/kiosks", headers=HTML).text
    assert "W-A1-Q1" in page and "W-B1-Q1" in page
    assert post(client, f"/admin/kiosks/{world.kiosk_b.id}/revoke", csrf, {"confirm": "yes"}).status_code == 303
    assert session.get(KioskDevice, world.kiosk_b.id).revoked_at is not None  # type: ignore[union-attr]
    assert post(client, "/admin/kiosks/999999/revoke", csrf).status_code == 404


def test_the_kiosk_list_is_paged_live_first_and_searchable(
    client: TestClient, session: Session, world: World, csrf: str
) -> None:
    """Every re-pairing leaves a revoked device behind: the list of kiosks only grows, so it is paged like the
    counters (100 a page), live kiosks first."""
    for i in range(150):
        revoked = utcnow() - timedelta(days=i + 1)
        session.add(KioskDevice(counter_id=world.kiosk_b.counter_id, token_hash=f"old-{i}", revoked_at=revoked))
    session.flush()
    first = BeautifulSoup(client.get("/admin/kiosks", headers=HTML).text, "html.parser")
    rows = first.select("#kiosks-table tbody tr")
    assert len(rows) == 100 and "152" in first.select_one("#kiosks-table caption").get_text()  # type: ignore[union-attr]
    assert ["Đang dùng" in rows[i].get_text() for i in range(3)] == [True, True, False]  # the two live ones first
    assert first.select_one("a[rel=next]")["href"] == "/admin/kiosks?page=2"  # type: ignore[index]
    last = BeautifulSoup(client.get("/admin/kiosks?page=2", headers=HTML).text, "html.parser")
    assert len(last.select("#kiosks-table tbody tr")) == 52 and last.select_one("a[rel=next]") is None
    found = BeautifulSoup(client.get("/admin/kiosks?q=W-A1", headers=HTML).text, "html.parser")
    assert [th.get_text().split(" · ")[0] for th in found.select("#kiosks-table tbody th")] == ["W-A1-Q1"]
    assert "Không có màn hình nào khớp" in client.get("/admin/kiosks?q=NOPE", headers=HTML).text
    assert client.get("/admin/kiosks?page=0", headers=HTML).status_code == 422


def test_api_key_shown_once_works_and_revokes(client: TestClient, session: Session, world: World, csrf: str) -> None:
    response = post(client, "/admin/apikeys", csrf, {"kind": "read", "unit_code": "W-A", "label": "Sở Nội vụ"})
    assert response.status_code == 201
    key = BeautifulSoup(response.text, "html.parser").select_one("#new-api-key").get_text().strip()  # type: ignore[union-attr]
    reader = TestClient(client.app)
    auth = {"Authorization": f"Bearer {key}"}
    assert reader.get("/exports/monthly.csv?month=2026-10", headers=auth).status_code == 200
    row = session.exec(select(ApiKey).where(ApiKey.label == "Sở Nội vụ")).one()
    assert row.key_hash == hash_token(key) and key not in client.get("/admin/apikeys", headers=HTML).text
    assert post(client, f"/admin/apikeys/{row.id}/revoke", csrf, {"confirm": "yes"}).status_code == 303
    assert reader.get("/exports/monthly.csv?month=2026-10", headers=auth).status_code == 401
    assert post(client, "/admin/apikeys", csrf, {"kind": "write", "unit_code": "W-A"}).status_code == 422


def test_audit_log_is_paginated(client: TestClient, session: Session, world: World, csrf: str) -> None:
    for i in range(60):
        session.add(AuditLog(actor="seed", action="test.event", target=f"T{i:03d}", at=utcnow() - timedelta(days=1)))
    session.flush()
    first = BeautifulSoup(client.get("/admin/audit", headers=HTML).text, "html.parser")
    rows = first.select("#audit-table tbody tr")
    assert len(rows) == 50
    assert "login" in rows[0].get_text()  # newest first: the admin's own login
    assert first.select_one("a[rel=next]")["href"] == "/admin/audit?page=2"  # type: ignore[index]
    second = BeautifulSoup(client.get("/admin/audit?page=2", headers=HTML).text, "html.parser")
    total = session.exec(select(AuditLog)).all()
    assert len(second.select("#audit-table tbody tr")) == len(total) - 50
    assert second.select_one("a[rel=next]") is None
    assert client.get("/admin/audit?page=0", headers=HTML).status_code == 422
    assert SESSION_COOKIE in client.cookies


def test_item_17_revoke_and_deactivate_ask_first(client: TestClient, session: Session, world: World, csrf: str) -> None:
    """Issue 21 item 17: without `confirm=yes` the request shows a confirmation page and changes nothing."""
    key_id = world.key_a.id
    for url, check in (
        (f"/admin/kiosks/{world.kiosk_a1.id}/revoke", lambda: session.get(KioskDevice, world.kiosk_a1.id).revoked_at),  # type: ignore[union-attr]
        (f"/admin/apikeys/{key_id}/revoke", lambda: session.get(ApiKey, key_id).revoked_at),  # type: ignore[union-attr]
        (f"/admin/users/{world.manager_a.id}/active", lambda: not session.get(User, world.manager_a.id).active),  # type: ignore[union-attr]
    ):
        page = post(client, url, csrf)
        assert page.status_code == 200, url
        soup = BeautifulSoup(page.text, "html.parser")
        form = soup.select_one("form:has(input[name=confirm][value=yes])")
        assert form is not None and form["action"] == url
        assert soup.select_one("a.button.secondary")["href"].startswith("/admin/")  # type: ignore[index]
        session.expire_all()
        assert not check(), url
        assert post(client, url, csrf, {"confirm": "yes"}).status_code == 303
        session.expire_all()
        assert check(), url
    assert post(client, "/admin/kiosks/999999/revoke", csrf).status_code == 404
    assert post(client, "/admin/apikeys/999999/revoke", csrf).status_code == 404

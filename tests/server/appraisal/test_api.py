"""`GET /api/v1/appraisal`: read key or manager session, scoped to the caller's subtree, audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import AuditLog
from tests import logins
from tests.server.appraisal.data import build_ward
from tests.server.visits import factories as vf


def test_a_read_key_gets_the_appraisal(client: TestClient, session: Session) -> None:
    ward = build_ward(session)
    key = vf.api_key(session, ward.desk, kind="read")
    response = client.get(
        "/api/v1/appraisal", params={"period": "2026", "unit": "AP-DESK"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["period"], data["unit"], data["method"]) == ("2026", "AP-DESK", "indirect_standardisation")
    assert (data["overall"]["n"], data["overall"]["satisfied"]) == (200, 165)
    assert data["doubtful"] == {
        "n": 5,
        "reasons": {"rated_seconds_after_invite": 1, "registered_for_another_officer": 1, "after_hours_burst": 3},
    }
    officers = {o["key"]: o for o in data["officers"]}
    land = officers["AP-LAND"]
    assert (land["n"], land["satisfied"], land["status"]) == (40, 28, "as_expected")
    assert land["expected"] == pytest.approx(0.70) and land["rate"] == pytest.approx(0.70)
    assert land["difference_low"] < 0 < land["difference_high"]
    assert [(f["key"], f["n"], f["satisfied"], f["rate"]) for f in land["fields"]] == [("land", 40, 28, 0.7)]
    few = officers["AP-FEW"]
    assert (few["status"], few["rank"], few["doubtful"]["n"]) == ("insufficient_data", None, 3)
    assert data["rules"]["opening_weekdays"] == [1, 2, 3, 4, 5]
    assert data["rules"]["opening_time"] == "07:00:00" and data["rules"]["rapid_seconds"] == 5.0
    audit = session.exec(select(AuditLog).where(AuditLog.action == "appraisal.read")).one()
    assert (audit.target, audit.detail) == ("AP-DESK", "2026")


def test_scope_and_bad_input(client: TestClient, session: Session) -> None:
    ward = build_ward(session)
    other = vf.api_key(session, ward.desk, kind="read")
    auth = {"Authorization": f"Bearer {other}"}
    assert (
        client.get("/api/v1/appraisal", params={"period": "2026", "unit": "AP-ROOT"}, headers=auth).status_code == 403
    )
    assert client.get("/api/v1/appraisal", params={"period": "2026", "unit": "NOPE"}, headers=auth).status_code == 404
    bad = client.get("/api/v1/appraisal", params={"period": "26"}, headers=auth)
    assert bad.status_code == 422 and "not valid" in bad.json()["detail"]
    assert client.get("/api/v1/appraisal", params={"period": "2026"}).status_code == 401
    visits_key = vf.api_key(session, ward.desk, kind="visits")
    wrong = {"Authorization": f"Bearer {visits_key}"}
    assert client.get("/api/v1/appraisal", params={"period": "2026"}, headers=wrong).status_code == 401
    # An officer's session is not a reader: their own figures are on /dashboard/me.
    logins.login(client, ward.land_user)
    assert client.get("/api/v1/appraisal", params={"period": "2026"}).status_code == 403
    client.cookies.clear()
    logins.login(client, logins.user(session, "manager", ward.root))
    own = client.get("/api/v1/appraisal", params={"period": "2026-06"})  # default: the manager's unit
    assert own.status_code == 200 and own.json()["unit"] == "AP-ROOT"
    assert (
        own.json()["doubtful"]["n"] == 5 and own.json()["overall"]["n"] == 3
    )  # June: a visit rated after 60 s, a quiet evening pair

"""`GET /api/v1/indices` with a read key scoped to a unit's subtree."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.auth.service import create_api_key
from server.db import utcnow
from server.models import Unit
from tests import factories

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
ROW_KEYS = {"key", "label", "n", "satisfied", "rate", "ci_low", "ci_high", "target", "status", "misuse"}
ROW_KEYS |= {"levels", "reasons"}


@pytest.fixture
def tree(session: Session) -> dict[str, Unit]:
    units = factories.tree(session, "API-ROOT", "API-A", "API-A1", "API-B")
    for role, levels in (("a", [4, 4, 2]), ("a1", [3, 1]), ("b", [4])):
        counter = factories.counter(session, units[role])
        for level in levels:
            reasons = ("late",) if level < 3 else ()
            factories.rating(session, counter, level=level, at=datetime(2026, 10, 5, 9, tzinfo=HCM), reasons=reasons)
    return units


def key_for(session: Session, unit: Unit, kind: str = "read") -> dict[str, str]:
    _, key = create_api_key(session=session, kind=kind, unit=unit)
    return {"Authorization": f"Bearer {key}"}


def test_read_key_in_scope_gets_the_contract_shape(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    headers = key_for(session, tree["a"])
    response = client.get(
        "/api/v1/indices", params={"period": "2026-10", "unit": "API-A", "by": "unit"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["unit"], body["timezone"]) == ("2026-10", "API-A", "Asia/Ho_Chi_Minh")
    overall = body["overall"]
    assert overall.keys() >= ROW_KEYS
    assert (overall["key"], overall["n"], overall["satisfied"], overall["misuse"]) == ("API-A", 5, 3, 0)
    assert overall["rate"] == pytest.approx(0.6) and 0 < overall["ci_low"] < 0.6 < overall["ci_high"] < 1
    assert overall["levels"] == {"4": 2, "3": 1, "2": 1, "1": 1} and overall["reasons"] == {"late": 2}
    assert (overall["target"], overall["status"]) == (0.9, "insufficient_data")  # 5 < 30
    assert [(r["key"], r["n"]) for r in body["rows"]] == [("API-A1", 2), ("API-A", 3)]
    assert all(r.keys() >= ROW_KEYS for r in body["rows"])


def test_a_unit_below_and_the_default_unit(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    headers = key_for(session, tree["a"])
    below = client.get(
        "/api/v1/indices", params={"period": "2026-Q4", "unit": "API-A1", "by": "field"}, headers=headers
    )
    assert below.status_code == 200 and below.json()["overall"]["n"] == 2
    assert len(below.json()["rows"]) == 14
    default = client.get("/api/v1/indices", params={"period": "2026"}, headers=headers)
    assert default.status_code == 200
    assert (default.json()["unit"], default.json()["overall"]["n"], default.json()["rows"]) == ("API-A", 5, [])


@pytest.mark.parametrize("unit", ["API-B", "API-ROOT"])
def test_sibling_or_parent_is_403(client: TestClient, session: Session, tree: dict[str, Unit], unit: str) -> None:
    response = client.get(
        "/api/v1/indices", params={"period": "2026-10", "unit": unit}, headers=key_for(session, tree["a"])
    )
    assert response.status_code == 403
    assert response.json() == {"detail": f"unit {unit!r} is outside the units you may see"}


def test_unknown_unit_is_404(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    response = client.get(
        "/api/v1/indices", params={"period": "2026-10", "unit": "NOPE"}, headers=key_for(session, tree["a"])
    )
    assert response.status_code == 404 and response.json() == {"detail": "unknown unit 'NOPE'"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "2026-13"}, "period '2026-13' is not valid: use YYYY-MM, YYYY-Qn, YYYY"),
        ({"period": "last month"}, "period 'last month' is not valid"),
        ({}, "period: Field required"),
        ({"period": "2026-10", "by": "colour"}, "by: Input should be 'field', 'group', 'unit', 'counter', 'officer'"),
    ],
)
def test_bad_period_or_grouping_is_422(
    client: TestClient, session: Session, tree: dict[str, Unit], params: dict[str, str], message: str
) -> None:
    response = client.get("/api/v1/indices", params=params, headers=key_for(session, tree["a"]))
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_missing_or_invalid_keys_are_401(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    params = {"period": "2026-10", "unit": "API-A"}
    revoked_row, revoked = create_api_key(session=session, kind="read", unit=tree["a"])
    revoked_row.revoked_at = utcnow()
    session.flush()
    for headers in (
        {},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": f"Bearer {revoked}"},
        key_for(session, tree["a"], kind="visits"),
    ):
        response = client.get("/api/v1/indices", params=params, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["detail"] and response.headers["www-authenticate"] == "Bearer"
    # Without a key, even a malformed request is a 401: nothing about the data is said to strangers.
    assert client.get("/api/v1/indices", params={"period": "x", "by": "y"}).status_code == 401


def test_openapi_documents_parameters_and_time_zone(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/indices"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params.keys() == {"period", "unit", "by"} and params["period"]["required"] is True
    assert "Asia/Ho_Chi_Minh" in params["period"]["description"]
    assert "Asia/Ho_Chi_Minh" in operation["description"]
    assert {"401", "403", "404", "422"} <= operation["responses"].keys()
    assert operation["security"] == [{"ReadKey": []}]
    assert "Asia/Ho_Chi_Minh" in schema["info"]["description"]


def test_manager_session_reads_its_own_subtree_only(
    client: TestClient, session: Session, tree: dict[str, Unit]
) -> None:
    from tests import logins

    logins.login(client, logins.user(session, "manager", tree["a"]))
    own = client.get("/api/v1/indices", params={"period": "2026-10", "by": "unit"})
    assert own.status_code == 200 and own.json()["unit"] == "API-A"
    assert own.json()["overall"]["n"] == 5
    assert client.get("/api/v1/indices", params={"period": "2026-10", "unit": "API-A1"}).json()["overall"]["n"] == 2
    sibling = client.get("/api/v1/indices", params={"period": "2026-10", "unit": "API-B"})
    assert sibling.status_code == 403 and "outside" in sibling.json()["detail"]
    officer = logins.user(session, "officer", tree["a"])
    client.cookies.clear()
    logins.login(client, officer)
    assert client.get("/api/v1/indices", params={"period": "2026-10"}).status_code == 403

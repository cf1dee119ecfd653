"""Driving the public API as the one-stop system and citizens do: dossiers, visits, phone ratings."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import HCM


def at(day: str, hour: int = 9) -> datetime:
    """A local time in Asia/Ho_Chi_Minh."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=HCM)


def dossier(code: str, unit: str, **overrides: Any) -> dict[str, Any]:
    """A dossier item as the one-stop system sends it (received 1 Oct 2026, due 15 Oct)."""
    item: dict[str, Any] = {
        "code": code,
        "unit": unit,
        "field": "land",
        "received_at": at("2026-10-01").isoformat(),
        "due_at": at("2026-10-15", 17).isoformat(),
    }
    item.update({k: v.isoformat() if isinstance(v, datetime) else v for k, v in overrides.items()})
    return item


def completed(code: str, unit: str, *, day: str = "2026-10-10", late: bool = False, **extra: Any) -> dict[str, Any]:
    """A dossier completed on `day` (or after its due date when `late`)."""
    done = at("2026-10-20") if late else at(day)
    return dossier(code, unit, completed_at=done, status="completed", **extra)


def post_dossiers(client: TestClient, key: str, items: list[dict[str, Any]]) -> Any:
    return client.post("/api/v1/dossiers", json={"dossiers": items}, headers={"Authorization": f"Bearer {key}"})


def visit(client: TestClient, key: str, counter: str, dossier_code: str | None) -> str:
    """Register a visit through the API; its token."""
    body = {"counter": counter, "field": "land", "dossier_code": dossier_code}
    response = client.post("/api/v1/visits", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def rate_on_phone(client: TestClient, token: str, level: int) -> None:
    """A citizen rates the visit on the phone page."""
    form = client.get(f"/r/{token}")
    assert form.status_code == 200, form.text
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match
    response = client.post(f"/r/{token}", data={"csrf": match.group(1), "level": str(level)}, follow_redirects=False)
    assert response.status_code == 303, response.text


def petition_item(unit: str, *, answered: datetime | str | None, **extra: Any) -> dict[str, Any]:
    """A petition for `POST /api/v1/petitions`, received on Monday 5 October 2026 (due after 15 working days, at the
    end of Monday 26 October) unless `received_at` says otherwise."""
    item: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "unit": unit,
        "category": "tthc",
        "dossier_code": None,
        "received_at": at("2026-10-05"),
        "content": "Hồ sơ của tôi bị chậm",
        "answered_at": answered,
        "reaction": None,
        "reopened": False,
    }
    item.update(extra)
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in item.items()}


def post_petitions(client: TestClient, key: str, items: list[dict[str, Any]]) -> Any:
    response = client.post("/api/v1/petitions", json={"petitions": items}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"]} == {"created"}, response.text
    return response

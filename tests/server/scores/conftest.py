"""Shared data of the QĐ 766 dashboard and export tests, built through the public API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.auth.service import create_api_key
from server.models import Unit
from tests import factories
from tests.server.dossiers.helpers import (
    at,
    completed,
    petition_item,
    post_dossiers,
    post_petitions,
    rate_on_phone,
    visit,
)


@pytest.fixture
def province(client: TestClient, session: Session) -> dict[str, Unit]:
    """DLK with two wards: BMT (10 dossiers, 2 late, 1 disliked, one petition answered late) and KRP (4, all well)."""
    root = factories.unit(session, code="DLK", name="Tỉnh Đắk Lắk")
    bmt = factories.unit(session, root, code="BMT", name="Phường Buôn Ma Thuột")
    krp = factories.unit(session, root, code="KRP", name="Xã Krông Pắc")
    key = create_api_key(session=session, kind="visits", unit=root)[1]
    items = [completed(f"BMT-{i}", "BMT", late=i < 2, field="construction" if i < 2 else "land") for i in range(10)]
    items += [completed(f"KRP-{i}", "KRP") for i in range(4)]
    assert post_dossiers(client, key, items).status_code == 200
    counter = factories.counter(session, bmt, code="BMT-Q1")
    rate_on_phone(client, visit(client, key, counter.code, "BMT-5"), level=1)
    post_petitions(client, key, [petition_item("BMT", answered=at("2026-10-28"))])  # after its due date
    return {"root": root, "bmt": bmt, "krp": krp}

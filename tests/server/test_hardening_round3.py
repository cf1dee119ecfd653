"""Issue 19, third round of the audit: download names of non-ASCII unit codes (F5) and control characters in
dossier codes (F7); each test names its finding. (F1: test_write_lock.py; issue 21 items 15 and 20:
appraisal/test_export.py and admin/test_audit_log.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.auth.service import create_api_key
from server.models import Unit
from tests import factories


@pytest.fixture
def dl(session: Session) -> Unit:
    """A top-level unit (public by default) whose code is not ASCII."""
    return factories.unit(session, code="ĐL", name="Đắk Lắk")


def _ascii_download(response: Any, name: str, full: str) -> None:
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.isascii()
    assert f'filename="{name}"' in disposition
    assert f"filename*=UTF-8''{full}" in disposition  # RFC 5987: the code itself, for browsers that read it


def test_the_appraisal_file_of_a_unit_coded_in_vietnamese_is_a_download(
    client: TestClient, session: Session, dl: Unit
) -> None:
    """F5: `danh-gia-can-bo_{unit}_…` carried the raw code; Starlette cannot encode `Đ` in a header (a 500)."""
    key = create_api_key(session=session, kind="read", unit=dl)[1]
    auth = {"authorization": f"Bearer {key}"}
    for fmt in ("xlsx", "pdf"):
        response = client.get(f"/exports/appraisal.{fmt}", params={"period": "2026", "unit": "ĐL"}, headers=auth)
        _ascii_download(response, f"danh-gia-can-bo_DL_2026_vi.{fmt}", f"danh-gia-can-bo_%C4%90L_2026_vi.{fmt}")


def test_the_public_csv_of_a_unit_coded_in_vietnamese_is_a_download(client: TestClient, dl: Unit) -> None:
    """F5: `cong-khai-{code}-….csv` carried the raw code: a 500 for anyone, without a login."""
    response = client.get("/cong-khai/data.csv", params={"unit": "ĐL", "period": "2026-10"})
    _ascii_download(response, "cong-khai-DL-2026-10.csv", "cong-khai-%C4%90L-2026-10.csv")
    assert response.headers["content-disposition"].startswith("inline;")


def test_the_monthly_export_of_a_unit_coded_in_vietnamese_names_it_in_both_forms(
    client: TestClient, session: Session, dl: Unit
) -> None:
    """F5: the monthly export shares the helper (it was ASCII already, `Đ` became `-`; now `D`, and `filename*`)."""
    key = create_api_key(session=session, kind="read", unit=dl)[1]
    response = client.get("/exports/monthly.csv?period=2026-10", headers={"authorization": f"Bearer {key}"})
    _ascii_download(response, "hai-long_DL_2026-10.csv", "hai-long_%C4%90L_2026-10.csv")

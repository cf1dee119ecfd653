"""Issue 19, third round of the audit: download names of non-ASCII unit codes (F5) and control characters in
dossier codes (F7); each test names its finding. (F1: test_write_lock.py; issue 21 items 15 and 20:
appraisal/test_export.py and admin/test_audit_log.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.auth.service import create_api_key
from server.models import Counter, Dossier, Officer, Unit, Visit
from tests import factories, logins
from tests.server.dossiers.helpers import dossier, post_dossiers

HTML = {"accept": "text/html"}


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


# --- F7: no control characters in dossier codes ------------------------------------------------------------------

CONTROLLED = "D-1\x1b]0;x\x07"


def test_dossier_codes_with_control_characters_are_invalid(client: TestClient, session: Session) -> None:
    """F7: `POST /api/v1/dossiers` took codes, units, fields and procedure codes with terminal escapes; each such
    item is now `invalid` with a clear reason (the batch's other items are still written)."""
    unit = factories.unit(session, code="F7-U")
    key = create_api_key(session=session, kind="visits", unit=unit)[1]
    items = [
        dossier(CONTROLLED, "F7-U"),
        dossier("F7-2", "F7-U\x07"),
        dossier("F7-3", "F7-U", field="land\x1b[2J"),
        dossier("F7-4", "F7-U", procedure_code="1.004\x9b227"),
        dossier("F7-OK", "F7-U"),
    ]
    response = post_dossiers(client, key, items)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["invalid"] * 4 + ["created"]
    for result, where in zip(results, ("code", "unit", "field", "procedure_code"), strict=False):
        assert (
            result["detail"] == f"{where}: must not contain control characters (such as ESC, BEL, tab or a line break)"
        )
    assert [d.code for d in session.exec(select(Dossier)).all()] == ["F7-OK"]


def test_the_console_form_refuses_a_dossier_code_with_control_characters(client: TestClient, session: Session) -> None:
    """F7: the counter console's form had only a length limit on `dossier_code` (and its other codes): 422 with
    a clear message, and no visit."""
    unit = factories.unit(session)
    counter: Counter = factories.counter(session, unit, code="F7-Q1")
    officer: Officer = factories.officer(session, unit)
    csrf = logins.login(client, logins.user(session, "officer", unit, officer=officer))
    form = {"csrf_token": csrf, "counter": counter.code, "field": "land", "dossier_code": CONTROLLED}
    response = client.post("/console/visits", data=form, headers=HTML)
    assert response.status_code == 422
    assert "dossier_code: must not contain control characters" in response.text
    api = client.post("/console/visits", data=form, headers={"accept": "application/json"})
    assert api.status_code == 422 and "control characters" in api.json()["detail"]
    assert session.exec(select(Visit)).all() == []
    form["dossier_code"] = "000.00.00.H12-261005-0001"
    assert client.post("/console/visits", data=form, headers=HTML, follow_redirects=False).status_code == 303
    assert session.exec(select(Visit.dossier_code)).all() == ["000.00.00.H12-261005-0001"]

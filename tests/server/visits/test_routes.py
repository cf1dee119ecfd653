"""The visits API: registering visits with an integration key or a counter user's session, and their QR codes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, select

from server.models import AuditLog, Visit
from server.visits import qr
from tests import factories, logins
from tests.server.visits import factories as vf


def _setup(session: Session) -> tuple[object, object, str]:
    root = factories.unit(session)
    child = factories.unit(session, parent=root)
    return root, child, vf.api_key(session, root)


def test_create_visit_with_an_integration_key(client: TestClient, session: Session) -> None:
    root = factories.unit(session)
    desk = factories.unit(session, parent=root)
    counter = factories.counter(session, desk, code="C01-T")
    officer = factories.officer(session, desk, code="OFF-T1")
    key = vf.api_key(session, root)
    body = {
        "counter": "C01-T",
        "field": "land",
        "procedure_code": "1.004227",
        "dossier_code": "000.00.00.H12-261005-0001",
        "officer": "OFF-T1",
    }
    before = datetime.now(UTC)
    response = client.post("/api/v1/visits", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text
    data = response.json()
    token = data["token"]
    assert 12 <= len(token) <= 16 and all(c.isalnum() or c in "-_" for c in token)
    assert data["rating_url"] == f"http://testserver/r/{token}"
    assert data["qr_png_url"] == f"/api/v1/visits/{token}/qr.png"
    assert data["qr_svg_url"] == f"/api/v1/visits/{token}/qr.svg"
    expires = datetime.fromisoformat(data["expires_at"])
    assert expires.utcoffset() == timedelta(hours=7)  # reported in the reporting time zone
    assert before + timedelta(days=30) - timedelta(minutes=1) < expires < datetime.now(UTC) + timedelta(days=30)
    row = session.exec(select(Visit).where(Visit.token == token)).one()
    assert (row.counter_id, row.field_id, row.officer_id) == (
        counter.id,
        factories.field(session, "land").id,
        officer.id,
    )
    assert (row.procedure_code, row.dossier_code, row.rated_at) == ("1.004227", "000.00.00.H12-261005-0001", None)
    assert session.exec(select(AuditLog).where(AuditLog.action == "visit.create")).first() is not None


def test_tokens_are_random_and_distinct(client: TestClient, session: Session) -> None:
    root = factories.unit(session)
    factories.counter(session, root, code="C-RND")
    key = vf.api_key(session, root)
    tokens = {
        client.post(
            "/api/v1/visits", json={"counter": "C-RND", "field": "tax"}, headers={"Authorization": f"Bearer {key}"}
        ).json()["token"]
        for _ in range(20)
    }
    assert len(tokens) == 20


def test_unknown_names_are_422_with_a_message(client: TestClient, session: Session) -> None:
    root = factories.unit(session)
    factories.counter(session, root, code="C-422")
    auth = {"Authorization": f"Bearer {vf.api_key(session, root)}"}
    cases = [
        ({"counter": "NOPE", "field": "land"}, "unknown counter 'NOPE'"),
        ({"counter": "C-422", "field": "astrology"}, "unknown field 'astrology'"),
        ({"counter": "C-422", "field": "land", "officer": "OFF-NONE"}, "unknown officer 'OFF-NONE'"),
    ]
    for body, message in cases:
        response = client.post("/api/v1/visits", json=body, headers=auth)
        assert response.status_code == 422
        assert response.json() == {"detail": message}
    malformed = client.post("/api/v1/visits", json={"field": "land"}, headers=auth)
    assert malformed.status_code == 422 and "counter" in malformed.json()["detail"]
    assert session.exec(select(Visit)).all() == []


def test_counter_outside_the_keys_subtree_is_403(client: TestClient, session: Session) -> None:
    root = factories.unit(session)
    left = factories.unit(session, parent=root)
    right = factories.unit(session, parent=root)
    factories.counter(session, right, code="C-RIGHT")
    factories.officer(session, right, code="OFF-RIGHT")
    factories.counter(session, left, code="C-LEFT")
    left_key = {"Authorization": f"Bearer {vf.api_key(session, left)}"}
    response = client.post("/api/v1/visits", json={"counter": "C-RIGHT", "field": "land"}, headers=left_key)
    assert response.status_code == 403 and "outside" in response.json()["detail"]
    # An officer of another subtree cannot be named either.
    foreign = client.post(
        "/api/v1/visits", json={"counter": "C-LEFT", "field": "land", "officer": "OFF-RIGHT"}, headers=left_key
    )
    assert foreign.status_code == 422 and "OFF-RIGHT" in foreign.json()["detail"]


def test_inactive_counter_and_field_are_refused(client: TestClient, session: Session) -> None:
    root = factories.unit(session)
    counter = factories.counter(session, root, code="C-OFF")
    auth = {"Authorization": f"Bearer {vf.api_key(session, root)}"}
    counter.active = False
    session.flush()
    assert client.post("/api/v1/visits", json={"counter": "C-OFF", "field": "land"}, headers=auth).json() == {
        "detail": "counter 'C-OFF' is inactive"
    }


def test_credentials_are_required_and_checked(client: TestClient, session: Session) -> None:
    root = factories.unit(session)
    factories.counter(session, root, code="C-AUTH")
    body = {"counter": "C-AUTH", "field": "land"}
    assert client.post("/api/v1/visits", json=body).status_code == 401
    assert client.post("/api/v1/visits", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    read_key = vf.api_key(session, root, kind="read")
    assert client.post("/api/v1/visits", json=body, headers={"Authorization": f"Bearer {read_key}"}).status_code == 401


def test_a_counter_session_may_register_visits_with_its_csrf_token(client: TestClient, session: Session) -> None:
    desk = factories.unit(session)
    factories.counter(session, desk, code="C-CON")
    officer = factories.officer(session, desk)
    session_csrf = logins.login(client, logins.user(session, "officer", desk, officer=officer))
    body = {"counter": "C-CON", "field": "justice"}
    assert client.post("/api/v1/visits", json=body).status_code == 403  # no CSRF header
    assert client.post("/api/v1/visits", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    response = client.post("/api/v1/visits", json=body, headers={"X-CSRF-Token": session_csrf})
    assert response.status_code == 201
    row = session.exec(select(Visit).where(Visit.token == response.json()["token"])).one()
    assert row.officer_id == officer.id  # the logged-in officer served


def test_a_session_registers_visits_only_within_its_unit(client: TestClient, session: Session) -> None:
    mine, theirs = factories.unit(session), factories.unit(session)
    factories.counter(session, theirs, code="C-THEIRS")
    body = {"counter": "C-THEIRS", "field": "land"}
    csrf = logins.login(client, logins.user(session, "officer", mine))
    response = client.post("/api/v1/visits", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403 and "outside unit" in response.json()["detail"]
    # An account without a unit may not register visits at all.
    client.cookies.clear()
    csrf = logins.login(client, logins.user(session, "admin", None))
    response = client.post("/api/v1/visits", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403 and "no unit" in response.json()["detail"]
    assert session.exec(select(Visit)).all() == []


def _decode(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return str(results[0].text)


def test_qr_png_decodes_to_the_rating_link(client: TestClient, session: Session) -> None:
    root = factories.unit(session)
    counter = factories.counter(session, root)
    visit = vf.visit(session, counter)
    response = client.get(f"/api/v1/visits/{visit.token}/qr.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "private, max-age=86400"
    assert _decode(response.content) == f"http://testserver/r/{visit.token}"
    image = Image.open(io.BytesIO(response.content))
    modules = image.width // qr.PNG_MODULE_PIXELS
    assert modules == 4 * 2 + 17 + 4 * qr.qr_version(f"http://testserver/r/{visit.token}")  # quiet zone kept
    # The link opens the rating form.
    assert client.get(f"/r/{visit.token}").status_code == 200
    # Conditional requests are answered without a body.
    again = client.get(f"/api/v1/visits/{visit.token}/qr.png", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_qr_uses_error_correction_q_and_fits_a_receipt() -> None:
    # A typical link needs version 4 at level Q; even a long host name stays printable at ~1 mm per module
    # in the 44 mm the 80 mm slip gives the code.
    assert qr.ERROR_CORRECTION == qr.qrcode.constants.ERROR_CORRECT_Q
    assert qr.qr_version("https://hailong.daklak.gov.vn/r/" + "A" * 12) == 4
    url = "https://hailong.dichvucong.daklak.gov.vn/r/" + "A" * 12
    assert 44 / (17 + 4 * qr.qr_version(url) + 2 * qr.QUIET_ZONE) >= 0.9
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.qr_png(url))))
    assert results[0].text == url and results[0].ec_level == "Q"


def test_qr_svg_is_served_as_svg(client: TestClient, session: Session) -> None:
    # Decoding the SVG as rendered by Chromium is in tests/browser/test_phone.py.
    visit = vf.visit(session, factories.counter(session, factories.unit(session)))
    response = client.get(f"/api/v1/visits/{visit.token}/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content.startswith(b"<?xml") and b"<svg" in response.content and b"<script" not in response.content


def test_qr_of_unknown_or_expired_tokens(client: TestClient, session: Session) -> None:
    visit = vf.visit(session, factories.counter(session, factories.unit(session)), expires_in=timedelta(seconds=-1))
    assert client.get("/api/v1/visits/doesnotexist/qr.png").status_code == 404
    assert client.get("/api/v1/visits/doesnotexist/qr.svg").json() == {"detail": "unknown visit token"}
    assert client.get(f"/api/v1/visits/{visit.token}/qr.svg").status_code == 410

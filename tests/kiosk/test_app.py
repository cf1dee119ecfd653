"""The kiosk's screens and taps over HTTP (no browser): what each screen offers, what a tap stores."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kiosk import KIOSK_DIR
from kiosk.i18n import english
from kiosk.outbox import Outbox
from server.contracts import VisitInfo
from tests.kiosk.conftest import kiosk_client, kiosk_settings, tap

HX = {"HX-Request": "true"}


@pytest.fixture
def outbox_and_client(tmp_path: Path) -> Iterator[tuple[Outbox, TestClient]]:
    """A kiosk paired (as far as it knows) with counter C1, its server unreachable."""
    settings = kiosk_settings(tmp_path, "http://127.0.0.1:9")
    outbox = Outbox(settings.outbox_path)
    outbox.put({"token": "t", "counter": "C1", "unit": "U1", "counter_name": "Quầy số 1", "unit_name": "Xã Ea Kar"})
    with kiosk_client(settings) as client:
        yield outbox, client
    outbox.close()


def test_idle_screen_invites_and_names_the_place(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    page = client.get("/")
    assert page.status_code == 200 and '<html lang="vi">' in page.text
    assert "Mời Ông/Bà đánh giá mức độ hài lòng" in page.text
    assert "Xã Ea Kar" in page.text and "Quầy số 1" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script"
    assert " style=" not in page.text and "onclick" not in page.text
    english = client.get("/screen/idle?set_lang=en", headers=HX)
    assert 'lang="en"' in english.text and "Please tell us how satisfied you are" in english.text


def test_fields_then_faces_most_positive_first(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    fields = client.get("/screen/fields", headers=HX).text
    assert len(re.findall(r'data-field="', fields)) == 14
    assert "<html" not in fields  # a partial for htmx
    faces = client.get("/screen/faces?field=tax", headers=HX).text
    assert re.findall(r'data-level="(\d)"', faces) == ["4", "3", "2", "1"]
    assert re.findall(r'class="face-label">([^<]+)<', faces) == [
        "Rất hài lòng",
        "Hài lòng",
        "Bình thường",
        "Không hài lòng",
    ]
    assert faces.count('<svg class="face-svg"') == 4 and "Thuế" in faces
    # Satisfied faces store at once; the others ask why first.
    assert faces.count('hx-post="/ratings"') == 2 and faces.count('hx-get="/screen/reasons"') == 2
    assert client.get("/screen/faces?field=nonsense", headers=HX).text.count('data-field="') == 14


def test_dissatisfied_reasons_and_skip(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    outbox, client = outbox_and_client
    reasons = client.get("/screen/reasons?field=land&level=1&rid=" + str(uuid.uuid4()), headers=HX).text
    assert len(re.findall(r'name="reasons" value="', reasons)) == 8
    assert "Gửi đánh giá" in reasons and "Bỏ qua" in reasons
    chosen = tap(client, level=1, reasons=("late", "attitude", "not-a-reason"))
    skipped = str(uuid.uuid4())
    response = client.post(
        "/ratings", data={"rid": skipped, "level": 2, "field": "land", "skip": "1", "reasons": ["late"]}, headers=HX
    )
    assert 'data-screen="thanks"' in response.text
    items = {i["id"]: i for i in outbox.pending(counter="C1", limit=10)}
    assert items[chosen]["reasons"] == ["attitude", "late"]
    assert items[skipped]["reasons"] == []
    # A satisfied level never carries reasons.
    happy = tap(client, level=4, reasons=("late",))
    assert {i["id"]: i for i in outbox.pending(counter="C1", limit=10)}[happy]["reasons"] == []


def test_a_double_tap_stores_one_rating(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    outbox, client = outbox_and_client
    rid = tap(client)
    tap(client, rid=rid)
    assert outbox.counts(counter="C1").pending == 1


def test_thanks_counts_down(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    thanks = client.post("/ratings", data={"rid": str(uuid.uuid4()), "level": 3, "field": "land"}, headers=HX).text
    assert "Cảm ơn Ông/Bà đã đánh giá!" in thanks
    assert re.search(r"data-countdown>5<", thanks) and 'hx-trigger="load delay:5s"' in thanks


def test_nonsense_taps_are_refused(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    outbox, client = outbox_and_client
    for data in (
        {"rid": str(uuid.uuid4()), "level": 9, "field": "land"},
        {"rid": str(uuid.uuid4()), "level": 4, "field": "astrology"},
        {"rid": "not-a-uuid", "level": 4, "field": "land"},
    ):
        response = client.post("/ratings", data=data, headers=HX)
        assert 'data-screen="thanks"' not in response.text
    assert outbox.counts(counter="C1").pending == 0


def test_unpaired_kiosk_is_out_of_service(tmp_path: Path) -> None:
    with kiosk_client(kiosk_settings(tmp_path, "http://127.0.0.1:9")) as client:
        page = client.get("/").text
        assert "Tạm ngừng phục vụ" in page and "chưa được ghép nối" in page
        refused = client.post("/ratings", data={"rid": str(uuid.uuid4()), "level": 4, "field": "land"}, headers=HX)
        assert 'data-screen="thanks"' not in refused.text
        assert client.get("/screen/fields", headers=HX).text.count("data-field=") == 0


def test_staff_screen_needs_the_pin_and_locks(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    assert "Nhập mã PIN" in client.get("/staff", headers=HX).text
    assert "Mã PIN không đúng" in client.post("/staff/login", data={"pin": "9999"}, headers=HX).text
    assert "Nhập mã PIN" in client.post("/staff/pair", data={"code": "ABCD-EFGH"}, headers=HX).text
    status = client.post("/staff/login", data={"pin": "1234"}, headers=HX)
    assert "Trạng thái máy" in status.text and 'data-fact="pending">0<' in status.text
    assert "Trạng thái máy" in client.get("/staff", headers=HX).text  # the session cookie holds
    client.cookies.clear()
    for _ in range(5):
        client.post("/staff/login", data={"pin": "0000"}, headers=HX)
    locked = client.post("/staff/login", data={"pin": "1234"}, headers=HX)
    assert "thử lại sau 5 phút" in locked.text


def test_staff_pairing_reports_an_unreachable_server(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    client.post("/staff/login", data={"pin": "1234"}, headers=HX)
    answer = client.post("/staff/pair", data={"code": "ABCD-EFGH"}, headers=HX).text
    assert "Không kết nối được máy chủ" in answer


def test_every_screen_string_has_an_english_entry() -> None:
    catalog = english()
    used: set[str] = set()
    for path in (KIOSK_DIR / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert text.lstrip().startswith("{# Required context"), path
        used |= set(re.findall(r"""_\(\s*"([^"]+)"\s*[,)]""", text))
        used |= set(re.findall(r"""_\(\s*'([^']+)'\s*[,)]""", text))
    for path in KIOSK_DIR.glob("*.py"):
        used |= set(re.findall(r"""translate\(\s*"([^"]+)"\s*,""", path.read_text(encoding="utf-8")))
        used |= set(re.findall(r"""message="([^"]+)\"""", path.read_text(encoding="utf-8")))
    assert len(used) > 40
    assert sorted(used - set(catalog)) == []
    assert sorted(set(catalog) - used) == []  # no stale entries either


def test_vendored_copies_match_the_servers() -> None:
    server_static = KIOSK_DIR.parent / "server" / "static"
    pairs = [("vendor/htmx-2.0.11.min.js", "vendor/htmx-2.0.11.min.js"), ("css/fonts.css", "css/fonts.css")]
    pairs += [(f"fonts/{p.name}", f"fonts/{p.name}") for p in (server_static / "fonts").iterdir()]
    for mine, theirs in pairs:
        assert (KIOSK_DIR / "static" / mine).read_bytes() == (server_static / theirs).read_bytes(), mine


def test_a_visit_is_offered_once_even_with_a_field_the_kiosk_does_not_know(
    outbox_and_client: tuple[Outbox, TestClient],
) -> None:
    outbox, client = outbox_and_client
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    runtime.offered_visit = VisitInfo(token="V1", field="brand_new", created_at=now, expires_at=now + timedelta(days=1))
    offered = client.get("/poll", headers=HX)
    assert offered.status_code == 200 and 'data-chosen-field="brand_new"' in offered.text
    assert 'name="visit" value="V1"' in offered.text
    runtime.offered_visit = VisitInfo(token="V1", field="brand_new", created_at=now, expires_at=now + timedelta(days=1))
    assert client.get("/poll", headers=HX).status_code == 204  # shown once: an abandoned visit does not return
    assert outbox.visit_seen("V1")
    rid = tap(client, level=3, field_code="brand_new", visit="V1")
    assert {i["id"]: i for i in outbox.pending(counter="C1", limit=10)}[rid]["visit_token"] == "V1"

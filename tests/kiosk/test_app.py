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
from tests.kiosk.conftest import SeededLists, kiosk_client, kiosk_settings, own_screen, tap

HX = {"HX-Request": "true"}


@pytest.fixture
def outbox_and_client(tmp_path: Path, seeded_lists: SeededLists) -> Iterator[tuple[Outbox, TestClient]]:
    """A kiosk paired (as far as it knows) with counter C1, holding the lists of a newly migrated central store;
    its server unreachable."""
    settings = kiosk_settings(tmp_path, "http://127.0.0.1:9")
    outbox = Outbox(settings.outbox_path)
    outbox.put({"token": "t", "counter": "C1", "unit": "U1", "counter_name": "Quầy số 1", "unit_name": "Xã Ea Kar"})
    outbox.put({"config": seeded_lists.config().model_dump_json()})
    with kiosk_client(settings) as client:
        yield outbox, client
    outbox.close()


def test_idle_screen_shows_the_faces_first_and_names_the_place(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    page = client.get("/")
    assert page.status_code == 200 and '<html lang="vi">' in page.text
    assert 'data-screen="idle"' in page.text and "Ông/Bà có hài lòng" in page.text
    assert "Xã Ea Kar" in page.text and "Quầy số 1" in page.text
    # One tap on a face: at a counter serving every field, the field is asked next.
    assert re.findall(r'data-level="(\d)"', page.text) == ["4", "3", "2", "1"]
    assert page.text.count('hx-get="/screen/fields"') == 4
    assert "data-idle-reset" not in page.text  # in Vietnamese the faces simply wait
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script"
    assert " style=" not in page.text and "onclick" not in page.text
    english = client.get("/screen/idle?set_lang=en", headers=HX)
    assert 'lang="en"' in english.text and "Are you satisfied with how your matter was handled today?" in english.text
    assert 'data-idle-reset="30' in english.text  # English goes back to Vietnamese for the next citizen


def test_a_face_then_the_field_then_faces_most_positive_first(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    assert 'data-screen="idle"' in client.get("/screen/fields", headers=HX).text  # no face chosen: the faces
    fields = client.get(f"/screen/fields?level=4&rid={uuid.uuid4()}", headers=HX).text
    assert len(re.findall(r'data-field="', fields)) == 14
    assert "<html" not in fields  # a partial for htmx
    assert fields.count('hx-post="/ratings"') == 14  # satisfied: the tile stores the rating
    unhappy = client.get(f"/screen/fields?level=1&rid={uuid.uuid4()}", headers=HX).text
    assert unhappy.count('hx-get="/screen/reasons"') == 14 and 'name="level" value="1"' in unhappy
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
    assert 'data-screen="idle"' in client.get("/screen/faces?field=nonsense", headers=HX).text


def test_dissatisfied_reasons_and_skip(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    outbox, client = outbox_and_client
    reasons = client.get("/screen/reasons?field=land&level=1&rid=" + str(uuid.uuid4()), headers=HX).text
    assert len(re.findall(r'name="reasons" value="', reasons)) == 8
    assert "Gửi đánh giá" in reasons and "Bỏ qua" in reasons
    chosen = tap(client, level=1, reasons=("late", "attitude", "not-a-reason"))
    skipped = str(uuid.uuid4())
    response = client.post(
        "/ratings",
        data={"rid": skipped, "level": 2, "field": "land", "skip": "1", "reasons": ["late"]},
        headers=own_screen(client),
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
    thanks = client.post(
        "/ratings", data={"rid": str(uuid.uuid4()), "level": 3, "field": "land"}, headers=own_screen(client)
    ).text
    assert "Cảm ơn Ông/Bà đã đánh giá!" in thanks
    assert re.search(r"data-countdown>5<", thanks) and 'hx-trigger="load delay:5s"' in thanks


def test_nonsense_taps_are_refused(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    outbox, client = outbox_and_client
    for data in (
        {"rid": str(uuid.uuid4()), "level": 9, "field": "land"},
        {"rid": str(uuid.uuid4()), "level": 4, "field": "astrology"},
        {"rid": "not-a-uuid", "level": 4, "field": "land"},
    ):
        response = client.post("/ratings", data=data, headers=own_screen(client))
        assert 'data-screen="thanks"' not in response.text
    assert outbox.counts(counter="C1").pending == 0


def test_unpaired_kiosk_is_out_of_service(tmp_path: Path) -> None:
    with kiosk_client(kiosk_settings(tmp_path, "http://127.0.0.1:9")) as client:
        page = client.get("/").text
        assert "Tạm ngừng phục vụ" in page and "chưa được ghép nối" in page
        refused = client.post(
            "/ratings", data={"rid": str(uuid.uuid4()), "level": 4, "field": "land"}, headers=own_screen(client)
        )
        assert 'data-screen="thanks"' not in refused.text
        assert client.get("/screen/fields?level=4", headers=HX).text.count("data-field=") == 0


def test_a_kiosk_without_the_servers_lists_says_it_is_connecting(tmp_path: Path, seeded_lists: SeededLists) -> None:
    """Paired by an older server (its answer carries no lists) and not heard from since: no faces and no taps until
    the first heartbeat brings the lists, then the faces without anyone touching the screen."""
    settings = kiosk_settings(tmp_path, "http://127.0.0.1:9")
    outbox = Outbox(settings.outbox_path)
    outbox.put({"token": "t", "counter": "C1", "unit": "U1", "counter_name": "Quầy số 1", "unit_name": "Xã Ea Kar"})
    with kiosk_client(settings) as client:
        page = client.get("/").text
        assert 'data-screen="connecting"' in page and "Đang kết nối…" in page and "data-level=" not in page
        assert 'hx-get="/screen/idle?set_lang=vi" hx-trigger="every 5.0s"' in page  # it asks again by itself
        english = client.get("/screen/idle?set_lang=en", headers=HX).text
        assert 'data-screen="connecting"' in english and "receiving its lists" in english
        for path in ("/screen/fields?level=4", "/screen/faces?field=land", "/screen/reasons?field=land&level=1"):
            assert 'data-screen="connecting"' in client.get(path, headers=HX).text, path
        refused = client.post(
            "/ratings", data={"rid": str(uuid.uuid4()), "level": 4, "field": "land"}, headers=own_screen(client)
        )
        assert 'data-screen="connecting"' in refused.text
        now = datetime.now(UTC)
        client.app.state.runtime.offered_visit = VisitInfo(  # type: ignore[attr-defined]
            token="V9", field="land", created_at=now, expires_at=now + timedelta(days=1)
        )
        assert client.get("/poll", headers=HX).status_code == 204
        assert not outbox.visit_seen("V9")  # still to offer once the faces can show
        assert outbox.counts(counter="C1").pending == 0
        client.app.state.runtime.store_config(seeded_lists.config())  # type: ignore[attr-defined]  # the heartbeat
        idle = client.get("/screen/idle?set_lang=vi", headers=HX).text
        assert 'data-screen="idle"' in idle and re.findall(r'data-level="(\d)"', idle) == ["4", "3", "2", "1"]
        tap(client, level=4)
    outbox.close()


def test_staff_screen_needs_the_pin_and_locks(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    assert "Nhập mã PIN" in client.get("/staff", headers=HX).text
    assert "Mã PIN không đúng" in client.post("/staff/login", data={"pin": "9999"}, headers=own_screen(client)).text
    assert "Nhập mã PIN" in client.post("/staff/pair", data={"code": "ABCD-EFGH"}, headers=own_screen(client)).text
    status = client.post("/staff/login", data={"pin": "1234"}, headers=own_screen(client))
    assert "Trạng thái máy" in status.text and 'data-fact="pending">0<' in status.text
    assert "Trạng thái máy" in client.get("/staff", headers=HX).text  # the session cookie holds
    client.cookies.clear()
    for _ in range(4):
        assert "Mã PIN không đúng" in client.post("/staff/login", data={"pin": "0000"}, headers=own_screen(client)).text
    fifth = client.post(
        "/staff/login", data={"pin": "0000"}, headers=own_screen(client)
    )  # the fifth wrong PIN locks at once
    assert "bàn phím tạm khoá" in fifth.text
    locked = client.post(
        "/staff/login", data={"pin": "1234"}, headers=own_screen(client)
    )  # even the right PIN, for a while
    assert "bàn phím tạm khoá" in locked.text and "Trạng thái máy" not in locked.text


def test_staff_pairing_reports_an_unreachable_server(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    _, client = outbox_and_client
    client.post("/staff/login", data={"pin": "1234"}, headers=own_screen(client))
    answer = client.post("/staff/pair", data={"code": "ABCD-EFGH"}, headers=own_screen(client)).text
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
        used |= set(re.findall(r"""locked = "([^"]+)\"""", path.read_text(encoding="utf-8")))
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


def _configure(client: TestClient, lists: SeededLists, counter_fields: list[str] | None) -> None:
    """The configuration a heartbeat would bring: the store's lists, and the counter's fields."""
    client.app.state.runtime.store_config(lists.config(counter_fields))  # type: ignore[attr-defined]


def test_a_one_field_counter_never_asks_for_the_field(
    outbox_and_client: tuple[Outbox, TestClient], seeded_lists: SeededLists
) -> None:
    outbox, client = outbox_and_client
    _configure(client, seeded_lists, ["tax"])
    idle = client.get("/", headers=HX).text
    assert 'name="field" value="tax"' in idle and 'hx-get="/screen/fields"' not in idle
    assert idle.count('hx-post="/ratings"') == 2 and idle.count('hx-get="/screen/reasons"') == 2
    # The face's tap as the screen sends it (the hidden field included): stored at once with the counter's field.
    rid = tap(client, level=4, field_code="tax")
    assert {i["id"]: i for i in outbox.pending(counter="C1", limit=10)}[rid]["field"] == "tax"
    reasons = client.get(f"/screen/reasons?level=1&rid={uuid.uuid4()}", headers=HX).text
    assert 'data-screen="reasons"' in reasons and 'name="field" value="tax"' in reasons


def test_a_several_field_counter_lists_its_fields_most_frequent_first(
    outbox_and_client: tuple[Outbox, TestClient], seeded_lists: SeededLists
) -> None:
    _, client = outbox_and_client
    _configure(client, seeded_lists, ["justice", "land", "certification"])
    idle = client.get("/", headers=HX).text
    assert idle.count('hx-get="/screen/fields"') == 4
    fields = client.get(f"/screen/fields?level=3&rid={uuid.uuid4()}", headers=HX).text
    assert re.findall(r'data-field="([a-z_]+)"', fields) == ["justice", "land", "certification"]
    assert "screen-fields--few" in fields  # few fields: larger tiles and icons
    _configure(client, seeded_lists, None)  # a server that does not send the list yet: every field, in display order
    every = client.get(f"/screen/fields?level=3&rid={uuid.uuid4()}", headers=HX).text
    assert len(re.findall(r'data-field="', every)) == 14


def test_a_visit_closed_elsewhere_is_never_thanked_for(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    outbox, client = outbox_and_client
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert client.get("/visit-check?visit=V2", headers=HX).status_code == 204  # open as far as the kiosk knows
    assert runtime.shown_visit == "V2"  # the watcher reports it as shown to the console
    runtime._visit_answer("V2", "rated")  # what the server answers once the citizen rated by phone
    closed = client.get("/visit-check?visit=V2", headers=HX)
    assert closed.status_code == 200 and 'data-visit-state="rated"' in closed.text
    assert "Lượt này đã được đánh giá" in closed.text and "Cảm ơn Ông/Bà đã đánh giá!" not in closed.text
    answer = client.post(
        "/ratings",
        data={"rid": str(uuid.uuid4()), "level": 4, "field": "land", "visit": "V2"},
        headers=own_screen(client),
    ).text
    assert 'data-visit-state="rated"' in answer and 'data-screen="thanks"' not in answer
    assert outbox.counts(counter="C1").pending == 0
    runtime._visit_answer("V3", "cancelled")
    assert "Cán bộ đã huỷ lời mời đánh giá" in client.get("/screen/faces?field=land&visit=V3", headers=HX).text


def test_a_visit_can_be_declined_on_the_kiosk(outbox_and_client: tuple[Outbox, TestClient]) -> None:
    outbox, client = outbox_and_client
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    runtime.offered_visit = VisitInfo(token="V4", field="land", created_at=now, expires_at=now + timedelta(days=1))
    faces = client.get("/poll", headers=HX).text
    assert "data-decline" in faces and "Bỏ qua" in faces and 'hx-post="/visits/decline"' in faces
    assert 'hx-get="/visit-check"' in faces  # the screen watches whether the visit closes elsewhere
    idle = client.post("/visits/decline", data={"visit": "V4", "lang": "en"}, headers=own_screen(client)).text
    assert 'data-screen="idle"' in idle and 'lang="vi"' in idle  # the next citizen starts in Vietnamese
    assert runtime.declined_visits == ["V4"] and outbox.visit_seen("V4")
    assert outbox.counts(counter="C1").pending == 0


def test_only_refusals_an_administrator_can_fix_are_offered_again(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    now = datetime.now(UTC).isoformat()
    base = {"level": 4, "field": "land", "reasons": [], "rated_at": now}
    ids = {name: str(uuid.uuid4()) for name in ("field", "phone", "expired", "clash")}
    outbox.add({**base, "id": ids["field"], "field": "astrology"}, counter="C1")
    outbox.add({**base, "id": ids["phone"], "visit_token": "V1"}, counter="C1")
    outbox.add({**base, "id": ids["expired"], "visit_token": "V2"}, counter="C1")
    outbox.add({**base, "id": ids["clash"]}, counter="C1")
    outbox.settle(
        [
            (ids["field"], "invalid", "unknown field 'astrology'"),
            (ids["phone"], "conflict", "the visit has already been rated"),
            (ids["expired"], "invalid", "the visit had expired when this rating was made"),
            (ids["clash"], "conflict", "a different rating is stored under this id; it was kept as it was"),
        ]
    )
    retry = {d.id: d.retryable for d in outbox.dead_letters()}
    assert retry == {ids["field"]: True, ids["phone"]: False, ids["expired"]: False, ids["clash"]: False}
    assert outbox.retryable_dead() == 1
    assert outbox.requeue_dead() == 1
    assert outbox.states(ids.values()) == {
        ids["field"]: "pending",
        ids["phone"]: "dead",
        ids["expired"]: "dead",
        ids["clash"]: "dead",
    }
    outbox.close()


def test_every_reason_has_its_own_pictogram(
    outbox_and_client: tuple[Outbox, TestClient], seeded_lists: SeededLists
) -> None:
    """Low-literacy citizens: one clear pictogram per reason, the words beneath it."""
    from kiosk.icons import reason_icon

    reasons = seeded_lists.reasons
    drawings = {r.code: str(reason_icon(r.code)) for r in reasons}
    assert len(drawings) == 8 and len(set(drawings.values())) == len(reasons)  # no two reasons share a drawing
    assert str(reason_icon("added_later")) == drawings["other"]  # a reason added later still gets one
    _, client = outbox_and_client
    page = client.get(f"/screen/reasons?field=land&level=1&rid={uuid.uuid4()}", headers=HX).text
    tiles = re.findall(r'<label class="tile reason-tile".*?</label>', page, flags=re.S)
    assert len(tiles) == len(reasons)
    for tile in tiles:  # the pictogram, then the words
        assert tile.index('class="reason-icon"') < tile.index('class="tile-label"')

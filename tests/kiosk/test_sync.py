"""Forwarding to a real central server: offline days, exactly-once delivery, dead letters, revocation, portals."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from kiosk.central import Central
from kiosk.config import KioskSettings
from kiosk.outbox import Outbox
from kiosk.runtime import Runtime
from server.contracts import PairResponse
from tests.browser.conftest import serve
from tests.databases import DatabaseFactory
from tests.kiosk.conftest import (
    CentralServer,
    SeededLists,
    central_server,
    eventually,
    kiosk_client,
    kiosk_settings,
    own_screen,
    pair_kiosk,
    read_seeded_lists,
    tap,
)


def test_offline_200_taps_then_all_arrive_exactly_once(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url()) as central:
        settings = kiosk_settings(tmp_path, central.url)
        pair_kiosk(settings, central)
        central.stop()  # the commune's network is down
        with kiosk_client(settings) as client:
            tapped = [
                tap(client, level=1 + i % 4, reasons=("late",) if i % 4 == 0 else (), field_code="land")
                for i in range(200)
            ]
            assert client.get("/healthz").json()["pending"] == 200
            indicator = client.get("/indicator").text
            assert "Mất kết nối từ" in indicator
            assert central.query("SELECT count(*) FROM rating")[0][0] == 0

            central.start()  # back up: the forwarder's next retry delivers everything
            eventually(lambda: client.get("/healthz").json()["pending"] == 0, what="delivery of the backlog")
            assert client.get("/healthz").json()["sent"] == 200
            eventually(lambda: "Đã đồng bộ" in client.get("/indicator").text, what="the synced indicator")
    stored = central.rating_ids()
    assert sorted(stored) == sorted(tapped)
    assert Tally(stored).most_common(1)[0][1] == 1
    assert central.query("SELECT count(*) FROM rating_reason")[0][0] == 50


def test_conflict_and_invalid_become_visible_dead_letters(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url()) as central:
        settings = kiosk_settings(tmp_path, central.url)
        pair_kiosk(settings, central)
        outbox = Outbox(settings.outbox_path)
        counter = outbox.get("counter") or ""
        now = datetime.now(UTC)
        good = {"id": str(uuid.uuid4()), "level": 4, "field": "land", "reasons": [], "rated_at": now.isoformat()}
        outbox.add(good, counter=counter)
        outbox.add({**good, "id": str(uuid.uuid4()), "field": "astrology"}, counter=counter)
        with kiosk_client(settings) as client:
            eventually(lambda: client.get("/healthz").json()["pending"] == 0, what="delivery")
            # The same id again with other content (a kiosk restored from an old backup, say).
            outbox.add({**good, "id": str(uuid.uuid4())}, counter=counter)
            clash = {**good, "level": 1}
            outbox._conn.execute(
                "UPDATE rating SET state='pending', payload=? WHERE id=?", (json.dumps(clash), good["id"])
            )
            client.app.state.runtime.wake_forwarder()  # type: ignore[attr-defined]
            eventually(lambda: client.get("/healthz").json()["pending"] == 0, what="second delivery")
            health = client.get("/healthz").json()
            assert (health["sent"], health["dead"]) == (1, 2)
            dead = {d.status: d for d in outbox.dead_letters()}
            assert set(dead) == {"conflict", "invalid"} and "astrology" in dead["invalid"].detail
            # The staff screen lists them.
            pin = client.post("/staff/login", data={"pin": "1234"}, headers=own_screen(client))
            assert 'data-fact="dead">2<' in pin.text and "astrology" in pin.text
            assert 'data-retry="1"' in pin.text and 'data-retry="0"' in pin.text  # the conflict cannot be helped
        levels = {str(uuid.UUID(str(i))): lv for i, lv in central.query("SELECT id, level FROM rating")}
        assert levels[good["id"]] == 4 and len(levels) == 2  # the stored rating was kept as it was
        outbox.close()


def test_revoked_kiosk_is_out_of_service_and_keeps_its_ratings(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url()) as central:
        settings = kiosk_settings(tmp_path, central.url)
        pair_kiosk(settings, central)
        with kiosk_client(settings) as client:
            central.stop()
            kept = tap(client)
            central.execute("UPDATE kiosk_device SET revoked_at = :at", at=datetime.now(UTC))
            central.start()
            page = eventually(
                lambda: (lambda t: t if "Tạm ngừng phục vụ" in t else "")(client.get("/").text), what="out of service"
            )
            assert "Vui lòng báo quản trị viên" in page
            assert client.get("/?set_lang=en").text.count("Out of service") == 1
            refused = client.post(
                "/ratings", data={"rid": str(uuid.uuid4()), "level": 4, "field": "land"}, headers=own_screen(client)
            )
            assert "Tạm ngừng phục vụ" in refused.text and 'data-screen="thanks"' not in refused.text
            health = client.get("/healthz").json()
            assert health["revoked"] is True and health["pending"] == 1
            assert Outbox(settings.outbox_path).states([kept]) == {kept: "pending"}

            # Pairing again (set-up screen) puts it back in service and delivers what it kept.
            client.post("/staff/login", data={"pin": "1234"}, headers=own_screen(client))
            paired = client.post("/staff/pair", data={"code": central.pairing_code()}, headers=own_screen(client))
            assert "Đã ghép nối" in paired.text
            eventually(lambda: client.get("/healthz").json()["pending"] == 0, what="delivery after re-pairing")
            assert 'data-screen="idle"' in client.get("/").text
        assert central.rating_ids() == [kept]


def _portal(answer: Response) -> Starlette:
    """A captive portal or misbehaving proxy: answers every request the same way."""

    async def anything(request: Request) -> Response:
        await request.body()
        return answer

    return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])


def test_a_bare_200_acknowledges_nothing(tmp_path: Path, seeded_lists: SeededLists) -> None:
    portal_pages: list[Response] = [
        HTMLResponse("<html><body>Welcome to the commune Wi-Fi</body></html>"),
        JSONResponse({"ok": True}),
        JSONResponse({"results": []}),
        JSONResponse({"results": [{"id": str(uuid.uuid4()), "status": "created"}]}),
    ]
    for i, page in enumerate(portal_pages):
        with serve(_portal(page)) as url:
            settings = kiosk_settings(tmp_path / str(i), url)
            outbox = Outbox(settings.outbox_path)
            outbox.put({"token": "t", "counter": "C1", "unit": "U1", "config": seeded_lists.config().model_dump_json()})
            outbox.close()
            with kiosk_client(settings) as client:
                rid = tap(client)
                eventually(lambda: client.app.state.runtime.sync.online is False, what="noticing the bad answer")  # type: ignore[attr-defined]
                assert client.get("/healthz").json()["pending"] == 1
                assert Outbox(settings.outbox_path).states([rid]) == {rid: "pending"}


def test_a_smaller_server_limit_splits_batches(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url(), max_batch=7) as central:
        settings = kiosk_settings(tmp_path, central.url)
        pair_kiosk(settings, central)
        central.stop()
        with kiosk_client(settings) as client:
            tapped = [tap(client) for _ in range(30)]
            central.start()
            eventually(lambda: client.get("/healthz").json()["pending"] == 0, what="delivery in smaller batches")
            assert client.app.state.runtime.batch_size <= 7  # type: ignore[attr-defined]
        assert sorted(central.rating_ids()) == sorted(tapped)


def test_heartbeat_reports_backlog_and_brings_configuration(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url()) as central:
        central.execute("UPDATE field SET name_vi = 'Đất đai (đã sửa)' WHERE code = 'land'")
        central.execute("UPDATE field SET active = false WHERE code = 'customs'")
        settings = kiosk_settings(tmp_path, central.url, heartbeat_seconds=0.2)
        pair_kiosk(settings, central)
        with kiosk_client(settings) as client:
            page = eventually(
                lambda: (lambda t: t if "Đất đai (đã sửa)" in t else "")(client.get("/screen/fields?level=4").text),
                what="configuration from the heartbeat",
            )
            assert 'data-field="customs"' not in page
            eventually(lambda: central.query("SELECT app_version FROM kiosk_device")[0][0] == "0.1.0", what="report")
            assert central.query("SELECT last_seen_at IS NOT NULL, backlog FROM kiosk_device")[0] == (True, 0)


def test_taps_do_not_wait_for_a_hanging_server(tmp_path: Path, seeded_lists: SeededLists) -> None:
    """A server that accepts connections but never answers: taps still thank at once and are kept."""
    release = threading.Event()

    async def hang(request: Request) -> Response:
        import anyio

        while not release.is_set():
            await anyio.sleep(0.05)
        return Response(status_code=503)

    app = Starlette(routes=[Route("/{path:path}", hang, methods=["GET", "POST"])])
    with serve(app) as url:
        settings = kiosk_settings(tmp_path, url, request_timeout_seconds=60)
        outbox = Outbox(settings.outbox_path)
        outbox.put({"token": "t", "counter": "C1", "unit": "U1", "config": seeded_lists.config().model_dump_json()})
        outbox.close()
        try:
            with kiosk_client(settings) as client:
                tapped = [tap(client) for _ in range(5)]
                assert client.get("/healthz").json()["pending"] == 5
                assert set(Outbox(settings.outbox_path).states(tapped).values()) == {"pending"}
        finally:
            release.set()


def test_rated_at_is_the_face_press(tmp_path: Path, seeded_lists: SeededLists) -> None:
    settings = kiosk_settings(tmp_path, "http://127.0.0.1:9")
    outbox = Outbox(settings.outbox_path)
    outbox.put({"token": "t", "counter": "C1", "unit": "U1", "config": seeded_lists.config().model_dump_json()})
    with kiosk_client(settings) as client:
        pressed = (datetime.now(settings.tz) - timedelta(seconds=20)).isoformat()
        rid = str(uuid.uuid4())
        data = {"rid": rid, "level": 2, "field": "tax", "at": pressed, "reasons": ["fees"]}
        client.post("/ratings", data=data, headers=own_screen(client))
        item = outbox.pending(counter="C1", limit=10)[0]
    assert item["rated_at"] == pressed and item["reasons"] == ["fees"] and item["level"] == 2
    outbox.close()


def _pair_answer(settings: KioskSettings, central: CentralServer) -> PairResponse:
    """What the central server answers a kiosk typing a fresh pairing code (through the real endpoint)."""
    client = Central(settings.server_url)

    async def exchange() -> PairResponse:
        try:
            return await client.pair(central.pairing_code())
        finally:
            await client.aclose()

    # In a thread of its own: Playwright's sync API (browser tests earlier in the run) keeps a loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, exchange()).result()


def test_the_pairing_answer_brings_the_stores_lists(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    """A kiosk has no lists of its own: the pairing answer carries the store's current ones, so the faces show at
    once, before any heartbeat, even when the server is gone right after pairing."""
    with central_server(db_factory.new_url()) as central:
        central.execute("UPDATE field SET name_vi = 'Đất đai (đã sửa)' WHERE code = 'land'")
        central.execute("UPDATE reason SET active = false WHERE code = 'fees'")
        settings = kiosk_settings(tmp_path, central.url)
        pair_kiosk(settings, central)  # the runtime is not started: no heartbeat
        central.stop()
        store = read_seeded_lists(central.db_url)
    rt = Runtime.open(settings)
    choices = rt.choices()
    rt.outbox.close()
    assert choices is not None
    assert (choices.fields, choices.reasons, choices.levels) == (store.fields, store.reasons, store.levels)
    assert choices.field("land") is not None and choices.field("land").name_vi == "Đất đai (đã sửa)"  # type: ignore[union-attr]
    assert "fees" not in {r.code for r in choices.reasons} and [lv.level for lv in choices.levels] == [4, 3, 2, 1]
    with kiosk_client(settings) as client:
        idle = client.get("/").text
        assert 'data-screen="idle"' in idle and re.findall(r'data-level="(\d)"', idle) == ["4", "3", "2", "1"]
        assert "Đất đai (đã sửa)" in client.get(f"/screen/fields?level=4&rid={uuid.uuid4()}").text
        tap(client, level=1, reasons=("late",))


def test_after_an_older_servers_pairing_answer_the_first_heartbeat_brings_the_lists(
    db_factory: DatabaseFactory, tmp_path: Path
) -> None:
    """An older server answers the pairing without `config`: the kiosk says it is connecting (no faces, no taps)
    until its first heartbeat brings the lists, then shows the faces by itself."""
    with central_server(db_factory.new_url()) as central:
        settings = kiosk_settings(tmp_path, central.url, heartbeat_seconds=0.2)
        answer = _pair_answer(settings, central)
        assert answer.config is not None
        older = PairResponse.model_validate_json(answer.model_dump_json(exclude={"config"}))  # as an older server
        assert older.config is None and older.token == answer.token
        rt = Runtime.open(settings)
        rt.store_pairing(older)
        rt.outbox.close()
        central.stop()
        with kiosk_client(settings) as client:
            page = client.get("/").text
            assert 'data-screen="connecting"' in page and "data-level=" not in page
            tapped = {"rid": str(uuid.uuid4()), "level": 4, "field": "land"}
            refused = client.post("/ratings", data=tapped, headers=own_screen(client))
            assert 'data-screen="connecting"' in refused.text and client.get("/healthz").json()["pending"] == 0
            central.start()
            eventually(lambda: 'data-screen="idle"' in client.get("/screen/idle").text, what="the lists by heartbeat")
            rid = tap(client)
            eventually(lambda: client.get("/healthz").json()["sent"] == 1, what="delivery")
        assert central.rating_ids() == [rid]

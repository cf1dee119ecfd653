"""Issue 19, the kiosk's findings: 8 (only its own screens may add ratings, and the kiosk stamps their time) and 10
(the outbox, which holds the device token, is created readable by its owner only)."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kiosk.app import SCREEN_HEADER
from kiosk.config import KioskSettings
from kiosk.outbox import Outbox
from tests.kiosk.conftest import SeededLists, kiosk_client, kiosk_settings, own_screen

HX = {"HX-Request": "true"}


@pytest.fixture
def kiosk(tmp_path: Path, seeded_lists: SeededLists) -> Iterator[tuple[Outbox, TestClient, KioskSettings]]:
    settings = kiosk_settings(tmp_path, "http://127.0.0.1:9")
    outbox = Outbox(settings.outbox_path)
    outbox.put({"token": "t", "counter": "C1", "unit": "U1", "config": seeded_lists.config().model_dump_json()})
    with kiosk_client(settings) as client:
        yield outbox, client, settings
    outbox.close()


def _rate(client: TestClient, headers: dict[str, str], **extra: str) -> tuple[str, int]:
    rid = str(uuid.uuid4())
    response = client.post("/ratings", data={"rid": rid, "level": "4", "field": "land", **extra}, headers=headers)
    return rid, response.status_code


def test_ratings_from_other_pages_or_clients_are_refused(kiosk: tuple[Outbox, TestClient, KioskSettings]) -> None:
    """Finding 8: a page in the kiosk's browser (another origin, a rebound DNS name) or a plain loopback client,
    even when it carries the screen token."""
    outbox, client, settings = kiosk
    screen = own_screen(client)
    refused = [
        {},  # not the kiosk's htmx screen (curl, a script on the loopback, a plain HTML form elsewhere)
        {SCREEN_HEADER: screen[SCREEN_HEADER]},
        {**screen, "Origin": "http://evil.example"},
        {**screen, "Origin": "null"},
        {**screen, "Sec-Fetch-Site": "cross-site"},
        {**screen, "Host": "rebound.evil.example:8001", "Origin": "http://rebound.evil.example:8001"},
    ]
    for headers in refused:
        _, status = _rate(client, headers)
        assert status == 403, headers
    assert outbox.counts(counter="C1").pending == 0
    own = f"http://127.0.0.1:{settings.port}"
    for headers in (
        screen,
        {**screen, "Host": f"127.0.0.1:{settings.port}", "Origin": own, "Sec-Fetch-Site": "same-origin"},
    ):
        _, status = _rate(client, headers)
        assert status == 200, headers
    assert outbox.counts(counter="C1").pending == 2


def test_a_loopback_client_without_the_screen_token_changes_nothing(
    kiosk: tuple[Outbox, TestClient, KioskSettings],
) -> None:
    """Issue 19 finding 8: `curl -H 'HX-Request: true' http://127.0.0.1:…/ratings` (no Origin, as any process on
    the kiosk machine can send) is refused with a clear message and stores nothing; so are a wrong or foreign token,
    "Bỏ qua" and the staff screens' POSTs. Only this run's token, from the kiosk's own page, is accepted."""
    outbox, client, _ = kiosk
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    wrong = [HX, {**HX, SCREEN_HEADER: ""}, {**HX, SCREEN_HEADER: "guess"}, {**HX, SCREEN_HEADER: "đoán".encode()}]
    for headers in wrong:
        response = client.post(
            "/ratings", data={"rid": str(uuid.uuid4()), "level": "4", "field": "land"}, headers=headers
        )
        assert response.status_code == 403, headers
        assert (
            "chỉ màn hình của chính máy đánh giá này" in response.text
            and "only this kiosk's own screens" in response.text
        )
        # A page of the kiosk's from before a restart (old token or none) reloads itself to get the new one.
        assert response.headers.get("HX-Refresh") == "true"
        for path, data in (("/visits/decline", {"visit": "V1"}), ("/staff/login", {"pin": "1234"})):
            refused = client.post(path, data=data, headers=headers)
            assert refused.status_code == 403 and "set-cookie" not in refused.headers, (path, headers)
    assert outbox.counts(counter="C1").pending == 0
    assert runtime.declined_visits == [] and not outbox.visit_seen("V1")
    assert (
        client.post("/ratings", data={"rid": str(uuid.uuid4()), "level": "4"}, headers={}).headers.get("HX-Refresh")
        is None
    )  # not one of the kiosk's pages: nothing to reload
    # Another run of the kiosk app (a restart) has a token of its own: the old one no longer works.
    with kiosk_client(kiosk_settings(runtime.settings.data_dir, "http://127.0.0.1:9")) as other:
        assert own_screen(other)[SCREEN_HEADER] != own_screen(client)[SCREEN_HEADER]
    _, status = _rate(client, own_screen(client))
    assert status == 200 and outbox.counts(counter="C1").pending == 1


def test_the_kiosk_stamps_the_time(kiosk: tuple[Outbox, TestClient, KioskSettings]) -> None:
    """Finding 8: a form's `at` counts only within the reasons screen's life; otherwise the kiosk's clock."""
    outbox, client, settings = kiosk
    now = datetime.now(settings.tz)
    backdated = (now - timedelta(seconds=settings.idle_reset_seconds + 60)).isoformat()
    future = (now + timedelta(minutes=5)).isoformat()
    pressed = (now - timedelta(seconds=10)).isoformat()
    ids = {
        name: _rate(client, own_screen(client), at=at)[0]
        for name, at in [("old", backdated), ("future", future), ("ok", pressed)]
    }
    stored = {item["id"]: item["rated_at"] for item in outbox.pending(counter="C1", limit=10)}
    after = datetime.now(settings.tz)
    for name in ("old", "future"):
        at = datetime.fromisoformat(stored[ids[name]])
        assert now - timedelta(seconds=1) <= at <= after, (name, at)
    assert stored[ids["ok"]] == pressed


def test_the_outbox_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Finding 10: the outbox holds the device token; it and its WAL files were 0644."""
    old = os.umask(0o022)
    try:
        outbox = Outbox(tmp_path / "kiosk" / "outbox.db")
        outbox.put({"token": "secret-device-token", "counter": "C1", "unit": "U1"})
        files = [tmp_path / "kiosk" / name for name in ("outbox.db", "outbox.db-wal", "outbox.db-shm")]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        outbox.close()
    finally:
        os.umask(old)
    assert modes == {f.name: 0o600 for f in files}

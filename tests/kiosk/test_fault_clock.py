"""Fault injection: kiosks whose clock is wrong, end to end with real kiosk processes.

A kiosk runs with `HAILONG_KIOSK_CLOCK_OFFSET_SECONDS` (its clock −2 hours, or +10 minutes); it stamps ratings and
batches (`sent_at`) with that wrong clock. The server must file the ratings under the corrected time, record the
device's offset and flag it for the administrator (beyond 5 minutes). A kiosk with a correct clock delivering a
3-day-old backlog is normal: its ratings keep their old times and it is not flagged.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import select

from kiosk.outbox import Outbox
from server.db import make_engine, session_scope
from server.models import KioskDevice, Rating
from tests.browser.conftest import free_port
from tests.databases import DatabaseFactory
from tests.kiosk.conftest import CentralServer, central_server, eventually, kiosk_settings, own_screen, pair_kiosk
from tests.kiosk.test_crash import kiosk_process, wait_until_up
from tests.test_cli import run

TAPS = 4
SLACK = timedelta(seconds=30)  # generous: the real clock only moves by the time the test takes


def skewed_kiosk(central: CentralServer, data_dir: Path, offset_seconds: float) -> tuple[set[str], datetime, datetime]:
    """A kiosk process with a wrong clock: taps without a client time, waits for delivery; ids and the real window."""
    port = free_port()
    before = datetime.now(UTC)
    with (
        kiosk_process(data_dir, central.url, port, HAILONG_KIOSK_CLOCK_OFFSET_SECONDS=str(offset_seconds)) as proc,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        wait_until_up(client, proc)
        ids = set()
        for _ in range(TAPS):
            rid = str(uuid.uuid4())
            data = {"rid": rid, "level": "4", "field": "land", "lang": "vi"}
            response = client.post("/ratings", data=data, headers=own_screen(client))
            assert 'data-screen="thanks"' in response.text, response.text[:300]
            ids.add(rid)
        eventually(lambda: client.get("/healthz").json()["pending"] == 0, what="delivery by the skewed kiosk")
    return ids, before, datetime.now(UTC)


def device_of(ids: set[str], ratings: dict[str, Rating]) -> int:
    devices = {ratings[i].device_id for i in ids}
    assert len(devices) == 1 and None not in devices, devices
    return devices.pop()  # type: ignore[return-value]


def test_skewed_clocks_are_corrected_and_flagged_but_a_late_backlog_is_not(
    db_factory: DatabaseFactory, tmp_path: Path
) -> None:
    with central_server(db_factory.new_url()) as central:
        dirs = {name: tmp_path / name for name in ("behind", "ahead", "backlog")}
        for data_dir in dirs.values():
            pair_kiosk(kiosk_settings(data_dir, central.url), central)

        behind, b0, b1 = skewed_kiosk(central, dirs["behind"], -2 * 3600)
        ahead, a0, a1 = skewed_kiosk(central, dirs["ahead"], +600)

        # A correct clock, offline for three days: its outbox holds ratings made then (as record_rating stores them).
        outbox = Outbox(dirs["backlog"] / "outbox.db")
        counter = outbox.get("counter") or ""
        pressed = datetime.now(UTC) - timedelta(days=3)
        late = set()
        for i in range(TAPS):
            rid = str(uuid.uuid4())
            at = (pressed + timedelta(minutes=i)).astimezone(central.settings.tz).isoformat()
            item = {"id": rid, "level": 2, "field": "land", "visit_token": None, "reasons": [], "rated_at": at}
            assert outbox.add({**item, "comment": None}, counter=counter)
            late.add(rid)
        outbox.close()
        port = free_port()
        with (
            kiosk_process(dirs["backlog"], central.url, port) as proc,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
        ):
            wait_until_up(client, proc)
            eventually(lambda: client.get("/healthz").json()["pending"] == 0, what="delivery of the 3-day backlog")

        engine = make_engine(central.db_url)
        with session_scope(engine) as session:
            ratings = {str(r.id): r for r in session.exec(select(Rating)).all()}
            devices = {d.id: d for d in session.exec(select(KioskDevice)).all()}
            session.expunge_all()
        engine.dispose()
        listing = run("kiosk-list", url=central.db_url)

    assert set(ratings) == behind | ahead | late
    tz = central.settings.tz
    for ids, start, end, offset in ((behind, b0, b1, -7200), (ahead, a0, a1, 600)):
        for rid in ids:
            r = ratings[rid]
            assert start - SLACK <= r.rated_at <= end + SLACK, (rid, r.rated_at, start, end)
            assert r.client_rated_at is not None
            sent = r.client_rated_at - r.rated_at  # what the kiosk's clock said, minus the truth
            assert abs(sent.total_seconds() - offset) < SLACK.total_seconds(), sent
            assert r.local_date == r.rated_at.astimezone(tz).date()
        device = devices[device_of(ids, ratings)]
        # The server records server clock minus kiosk clock.
        assert device.clock_offset_seconds is not None
        assert abs(device.clock_offset_seconds + offset) < SLACK.total_seconds(), device.clock_offset_seconds
        assert device.clock_flagged is True

    for rid in late:
        r = ratings[rid]
        assert r.client_rated_at is not None
        # Only by the transit time of the batch (the server applies any measured offset, however small).
        assert abs((r.rated_at - r.client_rated_at).total_seconds()) < 60, "a correct clock's backlog was shifted"
        assert abs((r.rated_at - pressed).total_seconds()) < 10 * 60
        assert r.local_date == r.rated_at.astimezone(tz).date()
    backlog_device = devices[device_of(late, ratings)]
    assert backlog_device.clock_offset_seconds is not None and abs(backlog_device.clock_offset_seconds) < 60
    assert backlog_device.clock_flagged is False

    # The administrator sees it: `hailong kiosk-list` marks exactly the two skewed devices.
    assert listing.returncode == 0, listing.stderr
    rows = {int(line.split("\t")[0]): line.split("\t") for line in listing.stdout.splitlines()[1:] if line.strip()}
    assert {i for i, row in rows.items() if row[2] == "clock!"} == {
        device_of(behind, ratings),
        device_of(ahead, ratings),
    }
    assert rows[backlog_device.id][2] == "live"  # type: ignore[index]

"""Fault injection: the kiosk's disk fills up while citizens tap.

Each tap must either show "thank you" AND be in the outbox, or show the storage error page (never a 500, never a
false thanks). Once space is freed taps work again, and everything acknowledged reaches the central server.

Two ways to fill the disk: the outbox on a tiny tmpfs filled with a ballast file (real ENOSPC; needs root to mount,
as on the test machine), and SQLite's `PRAGMA max_page_count` (SQLITE_FULL without mounting anything).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from collections import Counter as Tally
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kiosk.runtime import Runtime
from tests.databases import DatabaseFactory
from tests.kiosk.conftest import (
    CentralServer,
    central_server,
    eventually,
    kiosk_client,
    kiosk_settings,
    own_screen,
    pair_kiosk,
)

MAX_TAPS = 400


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (unmounted afterwards)."""
    where.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); the max_page_count variant runs")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(directory: Path, leave: int) -> Path:
    """Write a ballast file until the filesystem is full, then give back `leave` bytes."""
    ballast = directory / "ballast"
    with ballast.open("wb") as f:
        chunk = b"\0" * 65536
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        # What was written before ENOSPC, minus what we give back
        size = f.tell()
    os.truncate(ballast, max(0, size - leave))
    return ballast


def press(client: TestClient, lang: str = "vi") -> tuple[str, str]:
    """One face press; ("thanks" | "error", rating id). Anything else fails the test."""
    rid = str(uuid.uuid4())
    data = {"rid": rid, "level": "2", "field": "land", "reasons": ["late"], "lang": lang}
    response = client.post("/ratings", data=data, headers=own_screen(client))
    assert response.status_code == 200, (response.status_code, response.text[:300])
    if 'data-screen="thanks"' in response.text:
        return "thanks", rid
    assert 'data-screen="sorry"' in response.text, response.text[:500]
    if lang == "vi":
        assert "Xin lỗi, máy đang gặp sự cố lưu trữ" in response.text
        assert "Đánh giá chưa được lưu" in response.text
    else:
        assert "Sorry, this kiosk has a storage problem" in response.text
        assert "Your rating was not saved" in response.text
    return "error", rid


def tap_until_full(client: TestClient, rt: Runtime) -> tuple[list[str], list[str]]:
    """Tap until 5 taps in a row fail; each thanked one must be in the outbox at once."""
    thanked: list[str] = []
    refused: list[str] = []
    in_a_row = 0
    for i in range(MAX_TAPS):
        outcome, rid = press(client, lang="en" if i % 7 == 6 else "vi")
        if outcome == "thanks":
            assert rt.outbox.states([rid]) == {rid: "pending"}, "thanked but not stored"
            thanked.append(rid)
            in_a_row = 0
        else:
            refused.append(rid)
            in_a_row += 1
            if in_a_row >= 5:
                break
    return thanked, refused


def check_recovery(
    client: TestClient, rt: Runtime, central: CentralServer, thanked: list[str], refused: list[str]
) -> None:
    """Space is back: taps thank again; nothing refused was stored; with the central server back, the outbox
    empties."""
    after = [press(client) for _ in range(5)]
    assert {o for o, _ in after} == {"thanks"}, "taps do not work again after space was freed"
    thanked += [rid for _, rid in after]
    assert set(rt.outbox.states(refused)) == set(), "a refused tap was stored anyway"
    central.start()
    eventually(lambda: client.get("/healthz").json()["pending"] == 0, what="delivery after the disk was freed")


@pytest.mark.slow
def test_tmpfs_full_shows_storage_error_and_loses_nothing(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "disk") as disk, central_server(db_factory.new_url()) as central:
        settings = kiosk_settings(disk / "kiosk", central.url)
        pair_kiosk(settings, central)
        central.stop()  # offline: every rating stays in the outbox while the disk fills
        with kiosk_client(settings) as client:
            rt: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            first, first_id = press(client)
            assert first == "thanks"
            ballast = fill(disk, leave=96 * 1024)
            thanked, refused = tap_until_full(client, rt)
            thanked.insert(0, first_id)
            assert thanked and refused, (len(thanked), len(refused))
            assert client.get("/healthz").status_code == 200

            ballast.unlink()  # the technician frees space
            check_recovery(client, rt, central, thanked, refused)
        stored = central.rating_ids()
    assert Tally(stored).most_common(1)[0][1] == 1
    assert sorted(stored) == sorted(thanked)


def test_sqlite_full_shows_storage_error_and_loses_nothing(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url()) as central:
        settings = kiosk_settings(tmp_path / "kiosk", central.url)
        pair_kiosk(settings, central)
        central.stop()
        with kiosk_client(settings) as client:
            rt: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            conn = rt.outbox._conn
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + 3}")  # SQLITE_FULL a few pages from now
            thanked, refused = tap_until_full(client, rt)
            assert thanked and refused, (len(thanked), len(refused))

            conn.execute("PRAGMA max_page_count = 1073741823")
            check_recovery(client, rt, central, thanked, refused)
        stored = central.rating_ids()
    assert Tally(stored).most_common(1)[0][1] == 1
    assert sorted(stored) == sorted(thanked)

"""`hailong pairing-code`, `kiosk --pair`, `kiosk-list`, `kiosk-revoke`, `demo-kiosk`, as real processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from kiosk.outbox import Outbox
from tests.browser.conftest import free_port
from tests.databases import DatabaseFactory
from tests.kiosk.conftest import CentralServer, central_server, eventually
from tests.test_cli import HAILONG, one_line_error, run


def pair(server: str, data_dir: Path, code: str) -> subprocess.CompletedProcess[str]:
    """`hailong kiosk --pair CODE --pair-only`: a kiosk keeping its data in `data_dir` pairs with `server`, exits."""
    return run("kiosk", "--server", server, "--data-dir", str(data_dir), "--pair", code, "--pair-only")


def test_pair_a_kiosk_from_the_command_line_then_list_and_revoke(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url()) as central:
        made = run("pairing-code", "--counter", central.counter_code, url=central.db_url)
        assert made.returncode == 0, made.stderr
        code = made.stdout.strip()
        assert len(code) == 9 and code[4] == "-" and "valid until" in made.stderr

        kiosk_dir = tmp_path / "kiosk"
        paired = pair(central.url, kiosk_dir, code)
        assert paired.returncode == 0, paired.stderr
        assert f"paired with counter {central.counter_code}" in paired.stderr
        outbox = Outbox(kiosk_dir / "outbox.db")
        assert outbox.get("counter") == central.counter_code and len(outbox.get("token") or "") > 30
        outbox.close()

        reused = pair(central.url, tmp_path / "k2", code)
        assert "pairing refused" in one_line_error(reused) and "used already" in reused.stderr

        listed = run("kiosk-list", url=central.db_url)
        assert listed.returncode == 0 and central.counter_code in listed.stdout and "live" in listed.stdout
        revoked = run("kiosk-revoke", "--counter", central.counter_code, url=central.db_url)
        assert revoked.returncode == 0 and "1 kiosk(s) revoked" in revoked.stdout
        assert "revoked" in run("kiosk-list", url=central.db_url).stdout
        assert "no live kiosk" in one_line_error(run("kiosk-revoke", "--device", "1", url=central.db_url))


def test_kiosk_command_errors_are_one_line(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url()
    assert "unknown counter" in one_line_error(run("pairing-code", "--counter", "NOPE", url=url))
    assert "either a device id or a counter" in one_line_error(run("kiosk-revoke", url=url))
    unreachable = pair("http://127.0.0.1:9", tmp_path, "ABCD-EFGH")
    assert "cannot reach http://127.0.0.1:9" in one_line_error(unreachable)
    assert "server_url" in one_line_error(run("kiosk", "--server", "ftp://x", "--data-dir", str(tmp_path)))
    assert "PIN must be digits" in one_line_error(run("kiosk", "--pin", "abcd", "--data-dir", str(tmp_path)))


def start_demo_kiosk(central: CentralServer, kiosk_dir: Path, port: int) -> subprocess.Popen[str]:
    """`hailong demo-kiosk` as a real process against the central server and its database."""
    args = ["--counter", central.counter_code, "--server", central.url, "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_")}
    return subprocess.Popen(
        [HAILONG, "demo-kiosk", *args, "--data-dir", str(kiosk_dir)],
        env={**env, "DATABASE_URL": central.db_url},
        stderr=subprocess.PIPE,
        text=True,
    )


def test_demo_kiosk_pairs_again_when_the_server_refuses_its_token(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    """After var/hailong.db is recreated the demo kiosk's stored token names no device: it pairs itself again
    instead of showing "out of service" (a real kiosk keeps waiting for staff)."""
    with central_server(db_factory.new_url()) as central:
        kiosk_dir = tmp_path / "demo-kiosk"
        stale = Outbox(kiosk_dir / "outbox.db")  # a pairing with the database as it was before being recreated
        stale.put({"token": "a-token-from-the-old-database-0123456789", "counter": central.counter_code})
        stale.close()
        port = free_port()
        process = start_demo_kiosk(central, kiosk_dir, port)
        try:

            def healthy() -> dict[str, Any] | None:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                except httpx.HTTPError:
                    return None
                return answer if answer.get("paired") else None

            health = eventually(healthy, what="the demo kiosk serving, paired")
            assert health.get("revoked") is False, health
            devices = central.query("SELECT count(*) FROM kiosk_device WHERE revoked_at IS NULL")
            assert devices == [(1,)]
            # Its new token is accepted: the kiosk's heartbeats reach the server.
            eventually(
                lambda: central.query("SELECT last_seen_at FROM kiosk_device")[0][0], what="a heartbeat accepted"
            )
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=30)
        assert "no longer knows its pairing; pairing again" in stderr
        assert f"paired with counter {central.counter_code}" in stderr


def test_demo_kiosk_keeps_a_pairing_the_server_accepts(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url()) as central:
        kiosk_dir = tmp_path / "demo-kiosk"
        paired = pair(central.url, kiosk_dir, central.pairing_code())
        assert paired.returncode == 0, paired.stderr
        port = free_port()
        process = start_demo_kiosk(central, kiosk_dir, port)
        try:
            eventually(
                lambda: central.query("SELECT last_seen_at FROM kiosk_device")[0][0], what="a heartbeat accepted"
            )
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=30)
        assert "pairing again" not in stderr and "paired with counter" not in stderr
        assert central.query("SELECT count(*) FROM kiosk_device") == [(1,)]

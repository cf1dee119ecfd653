"""`hailong pairing-code`, `kiosk --pair`, `kiosk-list`, `kiosk-revoke`, as real processes."""

from __future__ import annotations

from pathlib import Path

from kiosk.outbox import Outbox
from tests.databases import DatabaseFactory
from tests.kiosk.conftest import central_server
from tests.test_cli import one_line_error, run


def test_pair_a_kiosk_from_the_command_line_then_list_and_revoke(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    with central_server(db_factory.new_url()) as central:
        made = run("pairing-code", "--counter", central.counter_code, url=central.db_url)
        assert made.returncode == 0, made.stderr
        code = made.stdout.strip()
        assert len(code) == 9 and code[4] == "-" and "valid until" in made.stderr

        kiosk_dir = tmp_path / "kiosk"
        paired = run(
            "kiosk",
            "--server",
            central.url,
            "--data-dir",
            str(kiosk_dir),
            "--pair",
            code,
            "--pair-only",
        )
        assert paired.returncode == 0, paired.stderr
        assert f"paired with counter {central.counter_code}" in paired.stderr
        outbox = Outbox(kiosk_dir / "outbox.db")
        assert outbox.get("counter") == central.counter_code and len(outbox.get("token") or "") > 30
        outbox.close()

        reused = run(
            "kiosk", "--server", central.url, "--data-dir", str(tmp_path / "k2"), "--pair", code, "--pair-only"
        )
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
    unreachable = run(
        "kiosk", "--server", "http://127.0.0.1:9", "--data-dir", str(tmp_path), "--pair", "ABCD-EFGH", "--pair-only"
    )
    assert "cannot reach http://127.0.0.1:9" in one_line_error(unreachable)
    assert "server_url" in one_line_error(run("kiosk", "--server", "ftp://x", "--data-dir", str(tmp_path)))
    assert "PIN must be digits" in one_line_error(run("kiosk", "--pin", "abcd", "--data-dir", str(tmp_path)))

"""The `hailong` command, run as a real process from another working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from tests.databases import DatabaseFactory, query

HAILONG = str(Path(sys.executable).with_name("hailong"))


def run(
    *args: str,
    url: str | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_") and k != "DATABASE_URL"}
    if url:
        full_env["DATABASE_URL"] = url
    full_env.update(env or {})
    return subprocess.run(
        [HAILONG, *args], capture_output=True, text=True, input=stdin, env=full_env, cwd=cwd or "/", timeout=120
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hailong: error: "), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def import_units(url: str, tmp_path: Path, rows: str) -> None:
    """`hailong units import` of a CSV file of `rows` (code,name,parent_code,level lines) into the database at `url`."""
    units = tmp_path / "units.csv"
    units.write_text("code,name,parent_code,level\n" + rows, encoding="utf-8")
    assert run("units", "import", str(units), url=url).returncode == 0


def test_unknown_option_is_one_line() -> None:
    result = run("seed-demo", "--colour", "blue")
    assert "No such option: --colour" in one_line_error(result)
    assert result.returncode == 2


def test_unreachable_database_is_one_line() -> None:
    result = run("db", "upgrade", url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    assert "cannot reach the database" in one_line_error(result)


def test_default_secret_in_production_is_one_line(tmp_path: Path) -> None:
    result = run("db", "upgrade", url=f"sqlite:///{tmp_path}/x.db", env={"HAILONG_ENVIRONMENT": "production"})
    assert "HAILONG_SECRET_KEY" in one_line_error(result)


def test_unmigrated_database_is_refused(db_factory: DatabaseFactory) -> None:
    result = run("seed-demo", url=db_factory.empty_url())
    assert "hailong db upgrade" in one_line_error(result)


def test_db_upgrade_from_any_directory(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.empty_url()
    result = run("db", "upgrade", url=url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert query(url, "SELECT count(*) FROM field") == [(14,)]
    assert run("db", "current", url=url).stdout.strip() != ""


def test_import_malformed_csv_names_the_line(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url()
    good = tmp_path / "units.csv"
    good.write_text("code,name,parent_code,level\nT,Tỉnh,,tỉnh\nX1,Xã 1,T,xã\n", encoding="utf-8")
    ok = run("units", "import", str(good), url=url)
    assert ok.returncode == 0 and "2 created" in ok.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,parent_code,level\nX2,Xã 2,T,xã\nX3,Xã 3,GHOST,xã\n", encoding="utf-8")
    message = one_line_error(run("units", "import", str(bad), url=url))
    assert "line 3" in message and "GHOST" in message
    assert query(url, "SELECT count(*) FROM unit WHERE code = 'X2'") == [(0,)]  # all or nothing: X2 was not kept
    counters = tmp_path / "counters.csv"
    counters.write_text("code,unit_code,name\nQ1,X1,Quầy 1\nQ2,,Quầy 2\n", encoding="utf-8")
    assert "line 3: unit_code is empty" in one_line_error(run("counters", "import", str(counters), url=url))
    assert "cannot read" in one_line_error(run("units", "import", str(tmp_path / "missing.csv"), url=url))
    # Issue 21 item 18: what Excel saves (semicolons, UTF-16) and .xlsx, through the same parser as the admin form.
    excel = tmp_path / "counters-excel.csv"
    excel.write_bytes("code;unit_code;name\r\nQ1;X1;Quầy một\r\n".encode("utf-16"))
    assert run("counters", "import", str(excel), url=url).stdout.strip() == "counters: 1 created, 0 updated"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["code", "unit_code", "name"])
    sheet.append(["Q1", "X1", "Quầy 1 (sửa)"])
    workbook.save(tmp_path / "counters.xlsx")
    assert run("counters", "import", str(tmp_path / "counters.xlsx"), url=url).stdout.strip() == (
        "counters: 0 created, 1 updated"
    )


def test_user_and_apikey_creation(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url()
    import_units(url, tmp_path, "DLK,Tỉnh,,tỉnh\n")
    create_manager = ("user", "create", "manager1", "--role", "manager", "--unit", "DLK", "--password-stdin")
    created = run(*create_manager, url=url, stdin="a long enough password\n")
    assert created.returncode == 0, created.stderr
    assert "too" not in created.stdout
    dup = run(*create_manager, url=url, stdin="a long enough password\n")
    assert "exists already" in one_line_error(dup)
    short = run("user", "create", "m2", "--role", "admin", "--password-stdin", url=url, stdin="short\n")
    assert "at least" in one_line_error(short)
    key = run("apikey", "create", "--kind", "read", "--unit", "DLK", url=url)
    assert key.returncode == 0 and key.stdout.strip().startswith("hl_r_")
    [stored] = query(url, "SELECT key_hash, prefix FROM api_key")
    [(hashed,)] = query(url, "SELECT password_hash FROM app_user")
    assert key.stdout.strip() not in stored[0]  # only a hash is kept
    assert hashed.startswith("$argon2id$")
    assert "unknown unit" in one_line_error(run("apikey", "create", "--kind", "read", "--unit", "NOPE", url=url))


def test_seed_demo_is_deterministic_and_realistic(db_factory: DatabaseFactory) -> None:
    counts = []
    for _ in range(2):
        url = db_factory.new_url()
        result = run("seed-demo", "--seed", "7", "--end-month", "2026-10", url=url)
        assert result.returncode == 0, result.stderr
        [digest] = query(
            url,
            "SELECT count(*), sum(level), min(CAST(id AS VARCHAR(36))), max(CAST(id AS VARCHAR(36))) FROM rating",
        )
        per_unit = query(
            url,
            "SELECT u.code, count(*), avg(CASE WHEN r.satisfied THEN 1.0 ELSE 0.0 END) FROM rating r "
            "JOIN unit u ON u.id = r.unit_id WHERE NOT r.misuse GROUP BY u.code",
        )
        [(units,)] = query(url, "SELECT count(*) FROM unit WHERE level IN ('xã', 'phường')")
        [(months,)] = query(url, "SELECT count(DISTINCT substr(CAST(local_date AS VARCHAR(10)), 1, 7)) FROM rating")
        counts.append(digest)
    assert counts[0] == counts[1]
    assert units >= 8 and months == 12
    rates = {code: float(rate) for code, n, rate in per_unit if n >= 30}
    assert any(r >= 0.90 for r in rates.values()) and any(r < 0.90 for r in rates.values())
    assert any(n < 30 for _, n, _ in per_unit), "some unit should have too few ratings"
    assert "demo login: quanly / hailong-demo (manager, DLK)" in result.stdout
    again = run("seed-demo", "--if-empty", url=url)
    assert again.returncode == 0 and "nothing to do" in again.stderr


@pytest.mark.parametrize("args", [["--help"], ["db", "--help"], ["units", "import", "--help"]])
def test_help_works(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 0 and "Usage" in result.stdout


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("timeout", "replaced"), [(None, False), ("2", True)])
def test_a_worker_starved_for_seconds_is_not_killed(tmp_path: Path, timeout: str | None, replaced: bool) -> None:
    """uvicorn's supervisor killed workers that missed its 5 s ping under CPU starvation (bench.soak); `serve`
    waits 60 s by default. A worker stopped for 8 s (SIGSTOP) survives; with `--worker-healthcheck-timeout 2` it is
    replaced, which shows the option reaches the supervisor."""
    import contextlib
    import signal
    import socket
    import time

    import httpx

    url = f"sqlite:///{tmp_path}/serve.db"
    assert run("db", "upgrade", url=url).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    args = [HAILONG, "serve", "--port", str(port), "--workers", "2"]
    if timeout:
        args += ["--worker-healthcheck-timeout", timeout]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd="/")
    try:
        deadline = time.monotonic() + 120
        while True:  # both workers up and answering
            assert time.monotonic() < deadline, log.read_text()
            workers = _children(server.pid)
            try:
                if len(workers) >= 2 and httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        workers = {p for p in _children(server.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()}
        assert len(workers) == 2, workers
        victim = min(workers)
        os.kill(victim, signal.SIGSTOP)
        time.sleep(8)
        with contextlib.suppress(ProcessLookupError):  # gone already when the supervisor killed it
            os.kill(victim, signal.SIGCONT)
        time.sleep(1.5)  # the supervisor's next pings
        alive = {p for p in _children(server.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()}
        assert (victim not in alive) is replaced, log.read_text()
        assert ("died" in log.read_text()) is replaced
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _serve_and_register_a_visit(tmp_path: Path, args: list[str], env: dict[str, str]) -> tuple[dict[str, str], str]:
    """Run `hailong serve ARGS` on a fresh SQLite database with one counter; register a visit over HTTP and return
    the API's answer and the server's log."""
    import signal
    import socket
    import time

    import httpx

    url = f"sqlite:///{tmp_path}/serve.db"
    assert run("db", "upgrade", url=url).returncode == 0
    (tmp_path / "units.csv").write_text("code,name,parent_code,level\nU1,Phường Một,,ward\n", encoding="utf-8")
    (tmp_path / "counters.csv").write_text("code,unit_code,name\nQ1,U1,Quầy 1\n", encoding="utf-8")
    assert run("units", "import", str(tmp_path / "units.csv"), url=url).returncode == 0
    assert run("counters", "import", str(tmp_path / "counters.csv"), url=url).returncode == 0
    created = run("apikey", "create", "--kind", "visits", "--unit", "U1", url=url)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1].split()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_") and k != "DATABASE_URL"}
    full_env.update(env, DATABASE_URL=url)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [HAILONG, "serve", "--port", str(port), *args], env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd="/"
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/visits",
            json={"counter": "Q1", "field": "land"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        data = answer.json()
        data["port"] = str(port)
        return data, log.read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_serve_links_to_the_port_it_listens_on(tmp_path: Path) -> None:
    # Two workers: they build their settings from the environment, so that is where the address must reach them.
    data, log = _serve_and_register_a_visit(tmp_path, ["--workers", "2"], {})
    base = f"http://127.0.0.1:{data['port']}"
    assert data["rating_url"] == f"{base}/r/{data['token']}"
    assert f"Rating links and QR codes: {base}/r/…" in log


def test_serve_keeps_a_public_base_url_that_was_given(tmp_path: Path) -> None:
    data, log = _serve_and_register_a_visit(tmp_path, [], {"HAILONG_PUBLIC_BASE_URL": "https://hailong.example.vn/"})
    assert data["rating_url"] == f"https://hailong.example.vn/r/{data['token']}"
    assert "Rating links and QR codes: https://hailong.example.vn/r/…" in log


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "http://127.0.0.1:8420"), ("0.0.0.0", "http://127.0.0.1:8420"), ("::1", "http://[::1]:8420")],
)
def test_listening_url(host: str, url: str) -> None:
    from server.cli.serve import listening_url

    assert listening_url(host, 8420) == url

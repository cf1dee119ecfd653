"""XLSX and PDF files are rendered in processes of their own (server/renderers.py), at a lower priority, and a render
process that dies costs no file."""

from __future__ import annotations

import io
import os
import signal
import time

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.auth.service import create_api_key
from tests import factories
from tests.conftest import make_settings
from tests.databases import DatabaseFactory


def _export(client: TestClient, key: str, fmt: str) -> bytes:
    response = client.get(f"/exports/monthly.{fmt}?period=2026-11", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    if fmt == "xlsx":
        sheets = openpyxl.load_workbook(io.BytesIO(response.content)).sheetnames
        assert len(sheets) >= 2, sheets
    else:
        assert response.content.startswith(b"%PDF-") and b"%%EOF" in response.content[-1024:]
    return response.content


@pytest.fixture
def served(db_factory: DatabaseFactory) -> tuple[str, str]:
    """A database of its own with a unit, and a read key for it."""
    keys: list[str] = []

    def seed(session: Session) -> None:
        keys.append(create_api_key(session=session, kind="read", unit=factories.unit(session))[1])

    return db_factory.seeded_url(seed), keys[0]


def _gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
def test_a_file_is_rendered_in_a_render_process_at_a_lower_priority(served: tuple[str, str], fmt: str) -> None:
    url, key = served
    settings = make_settings(url)
    assert settings.render_processes == 1  # the default
    app = create_app(settings)
    with TestClient(app) as client:
        assert app.state.renderer.pids() == []  # started on the first render, not with the app
        _export(client, key, fmt)
        pids = app.state.renderer.pids()
        assert len(pids) == 1 and os.getpid() not in pids
        assert os.getpriority(os.PRIO_PROCESS, pids[0]) == os.getpriority(os.PRIO_PROCESS, 0) + 10
        _export(client, key, fmt)
        assert app.state.renderer.pids() == pids  # the same process renders the next file


def test_a_render_process_that_dies_costs_no_file(served: tuple[str, str]) -> None:
    url, key = served
    app = create_app(make_settings(url))
    with TestClient(app) as client:
        _export(client, key, "xlsx")
        (pid,) = app.state.renderer.pids()
        os.kill(pid, signal.SIGKILL)
        assert _gone(pid)
        _export(client, key, "xlsx")  # rendered in the server while the pool is replaced
        _export(client, key, "xlsx")
        (new_pid,) = app.state.renderer.pids()
        assert new_pid != pid


def test_with_no_render_processes_files_render_in_the_request_thread(served: tuple[str, str]) -> None:
    url, key = served
    app = create_app(make_settings(url, render_processes=0))
    with TestClient(app) as client:
        _export(client, key, "xlsx")
        assert app.state.renderer.pids() == []


def test_the_render_processes_stop_with_the_app(served: tuple[str, str]) -> None:
    url, key = served
    app = create_app(make_settings(url))
    with TestClient(app) as client:
        _export(client, key, "pdf")
        (pid,) = app.state.renderer.pids()
    assert _gone(pid)

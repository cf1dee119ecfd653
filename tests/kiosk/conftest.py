"""A real central server (uvicorn on loopback, its own migrated database) and kiosks talking to it."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import col, select

from kiosk.app import SCREEN_HEADER, create_kiosk_app
from kiosk.config import KioskSettings
from kiosk.runtime import Runtime
from server.app import create_app
from server.config import Settings
from server.contracts import ChoiceInfo, KioskConfig, LevelInfo, NamedCode
from server.db import make_engine, session_scope
from server.kiosks.service import create_pairing_code
from server.models import ProcedureField, Reason, ScaleLevel, Unit
from tests import factories, logins
from tests.browser.conftest import ServerThread, free_port
from tests.conftest import make_settings
from tests.databases import DatabaseFactory, query, session_at

T = TypeVar("T")


@dataclass(frozen=True)
class SeededLists:
    """The fields, reasons and scale a newly migrated central store holds (migration 0002), as a kiosk gets them."""

    fields: list[ChoiceInfo]
    reasons: list[ChoiceInfo]
    levels: list[LevelInfo]

    def config(self, counter_fields: list[str] | None = None) -> KioskConfig:
        """What a heartbeat from that store would bring the kiosk of counter C1."""
        return KioskConfig(
            counter=NamedCode(code="C1", name="Quầy số 1"),
            unit=NamedCode(code="U1", name="Xã Ea Kar"),
            fields=self.fields,
            reasons=self.reasons,
            levels=self.levels,
            server_time=datetime.now(UTC),
            counter_fields=counter_fields,
        )


def read_seeded_lists(db_url: str) -> SeededLists:
    """The active fields and reasons in display order and the scale, most positive first, of a central store."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            fields = session.exec(
                select(ProcedureField).where(col(ProcedureField.active)).order_by(col(ProcedureField.sort_order))
            ).all()
            reasons = session.exec(select(Reason).where(col(Reason.active)).order_by(col(Reason.sort_order))).all()
            levels = session.exec(select(ScaleLevel).order_by(col(ScaleLevel.level).desc())).all()
            return SeededLists(
                fields=[ChoiceInfo(code=f.code, name_vi=f.name_vi, name_en=f.name_en) for f in fields],
                reasons=[ChoiceInfo(code=r.code, name_vi=r.name_vi, name_en=r.name_en) for r in reasons],
                levels=[
                    LevelInfo(level=s.level, name_vi=s.name_vi, name_en=s.name_en, satisfied=s.satisfied)
                    for s in levels
                ],
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def seeded_lists() -> Iterator[SeededLists]:
    """The lists of a freshly migrated SQLite store (the one source of the reference data is migration 0002)."""
    factory = DatabaseFactory("sqlite")
    try:
        yield read_seeded_lists(factory.template_url)
    finally:
        factory.close()


@dataclass
class CentralServer:
    """The central app on a fixed loopback port that can go down and come back."""

    db_url: str
    settings: Settings
    counter_code: str
    unit_code: str
    port: int = field(default_factory=free_port)
    thread: ServerThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve (again) on the same port."""
        assert self.thread is None
        self.thread = ServerThread(create_app(self.settings), self.port).start()

    def stop(self) -> None:
        """Go down: connections are refused until `start()`."""
        if self.thread is not None:
            self.thread.stop()
            self.thread = None

    def pairing_code(self, counter_code: str | None = None) -> str:
        """A fresh pairing code for the counter."""
        engine = make_engine(self.db_url)
        with session_scope(engine) as session:
            code, _ = create_pairing_code(
                session=session, counter_code=counter_code or self.counter_code, settings=self.settings
            )
        engine.dispose()
        return code

    def query(self, sql: str, **params: Any) -> list[Any]:
        """Rows of a query on the central database."""
        return query(self.db_url, sql, **params)

    def login(self, role: str) -> str:
        """The username of a new login with `role` at the central server's unit (its password: logins.PASSWORD)."""
        with session_at(self.db_url) as session:
            unit = session.exec(select(Unit).where(Unit.code == self.unit_code)).one()
            return logins.user(session, role, unit).username

    def execute(self, sql: str, **params: Any) -> None:
        """Change the central database directly (what an administrator would do elsewhere)."""
        engine = make_engine(self.db_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql), params)
        finally:
            engine.dispose()

    def rating_ids(self) -> list[str]:
        """Every stored rating id (with repetitions, if there ever were any)."""
        return [str(uuid.UUID(str(r[0]))) for r in self.query("SELECT id FROM rating")]


@contextmanager
def central_server(db_url: str, *, running: bool = True, **overrides: Any) -> Iterator[CentralServer]:
    """A central server with one unit and counter, on a free port."""
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        unit = factories.unit(session, name="Bộ phận Một cửa xã Thử")
        counter = factories.counter(session, unit)
        codes = (counter.code, unit.code)
    engine.dispose()
    central = CentralServer(db_url, make_settings(db_url, **overrides), *codes)
    if running:
        central.start()
    try:
        yield central
    finally:
        central.stop()


def kiosk_settings(data_dir: Path, server_url: str, **overrides: Any) -> KioskSettings:
    """Kiosk settings that retry quickly (tests wait for outcomes, not for back-off)."""
    values: dict[str, Any] = {
        "server_url": server_url,
        "data_dir": data_dir,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.3,
        "heartbeat_seconds": 0.5,
        "visit_poll_seconds": 0.2,
        "request_timeout_seconds": 5,
    }
    values.update(overrides)
    return KioskSettings(**values)


def pair_kiosk(settings: KioskSettings, central: CentralServer) -> None:
    """Pair the kiosk's outbox with the central server's counter through the real endpoint."""
    rt = Runtime.open(settings)
    code = central.pairing_code()
    try:
        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, rt.pair(code)).result()
    finally:
        rt.outbox.close()


@contextmanager
def kiosk_client(settings: KioskSettings) -> Iterator[TestClient]:
    """The kiosk app with its background work running."""
    with TestClient(create_kiosk_app(settings)) as client:
        yield client


def own_screen(client: httpx.Client) -> dict[str, str]:
    """The headers htmx sends with a POST from the kiosk's own screen: `HX-Request` and the screen token of this
    run of the app, read from its page as Chromium gets it."""
    found = re.search(r"hx-headers='([^']*)'", client.get("/").text)
    assert found is not None, "the kiosk's page carries no screen token"
    return {"HX-Request": "true", SCREEN_HEADER: json.loads(html.unescape(found.group(1)))[SCREEN_HEADER]}


def tap(
    client: TestClient,
    *,
    level: int = 4,
    field_code: str = "land",
    reasons: tuple[str, ...] = (),
    visit: str = "",
    rid: str | None = None,
) -> str:
    """A face press as the touch UI posts it; returns the rating id after checking "thank you" showed."""
    rid = rid or str(uuid.uuid4())
    data: dict[str, Any] = {"rid": rid, "level": level, "field": field_code, "visit": visit, "lang": "vi"}
    if reasons:
        data["reasons"] = list(reasons)
    response: Response = client.post("/ratings", data=data, headers=own_screen(client))
    assert response.status_code == 200 and 'data-screen="thanks"' in response.text, response.text[:500]
    return rid


def eventually(check: Callable[[], T], *, timeout: float = 30.0, what: str = "condition") -> T:
    """Wait for background work: return `check()` once truthy, fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s (last value {value!r})")
        time.sleep(0.05)

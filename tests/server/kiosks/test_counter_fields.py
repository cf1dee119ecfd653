"""The fields a counter serves (most rated there first) in the kiosk's configuration, and what kiosks report
about the visits they show: shown, declined, or learning that the visit closed elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.cache import TimedCache
from server.kiosks.service import kiosk_config
from server.models import Counter, CounterField, KioskDevice, Visit
from tests import factories


@pytest.fixture
def counter(session: Session) -> Counter:
    return factories.counter(session, factories.unit(session, name="Xã Ea Súp"))


@pytest.fixture
def headers(session: Session, counter: Counter) -> dict[str, str]:
    """The authorization of a kiosk paired to `counter`."""
    _, token = factories.kiosk_device(session, counter)
    return {"Authorization": f"Bearer {token}"}


def _config(client: TestClient, token: str) -> dict[str, object]:
    response = client.post(
        "/api/v1/kiosks/heartbeat",
        json={"backlog": 0, "app_version": "t"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_counter_serves_every_field_until_admin_chooses(
    client: TestClient, session: Session, counter: Counter
) -> None:
    _, token = factories.kiosk_device(session, counter)
    cfg = _config(client, token)
    assert cfg["counter_fields"] == [f["code"] for f in cfg["fields"]]  # type: ignore[attr-defined,index]
    assert len(cfg["counter_fields"]) == 14  # type: ignore[arg-type]


def test_the_chosen_fields_come_most_rated_here_first(client: TestClient, session: Session, counter: Counter) -> None:
    client.app.state.field_order_cache = TimedCache(0)  # type: ignore[attr-defined]  # count on every heartbeat
    _, token = factories.kiosk_device(session, counter)
    for code in ("land", "justice", "tax"):
        session.add(CounterField(counter_id=counter.id, field_id=factories.field(session, code).id))  # type: ignore[arg-type]
    session.flush()
    assert _config(client, token)["counter_fields"] == ["land", "justice", "tax"]  # no ratings yet: display order
    now = datetime.now(UTC)
    for _ in range(3):
        factories.rating(session, counter, field_code="tax", at=now - timedelta(days=1))
    factories.rating(session, counter, field_code="justice", at=now - timedelta(days=2))
    factories.rating(session, counter, field_code="health", at=now)  # not served here (any more): not listed
    elsewhere = factories.counter(session, factories.unit(session))
    for _ in range(5):
        factories.rating(session, elsewhere, field_code="land", at=now)  # another counter's habits do not count
    for _ in range(9):
        factories.rating(session, counter, field_code="land", at=now - timedelta(days=200))  # too long ago
    assert _config(client, token)["counter_fields"] == ["tax", "justice", "land"]


@pytest.fixture
def counted(engine: sa.Engine) -> Iterator[list[str]]:
    """The 90-day grouped count on the day rollups, each time the database is asked for it."""
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "rating_rollup" in statement and "GROUP BY" in statement:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    yield statements
    sa.event.remove(engine, "before_cursor_execute", before)


def test_the_field_order_is_counted_once_per_counter_until_it_expires(
    client: TestClient, session: Session, counter: Counter, counted: list[str]
) -> None:
    """Every kiosk heartbeats every few seconds: the counter's 90-day counts are kept (an hour by default), so the
    next heartbeat does not count again; once kept long enough, or on a new day, they are counted afresh."""
    assert client.app.state.field_order_cache.seconds == 3600  # type: ignore[attr-defined]  # the setting's default
    clock = [1000.0]
    cache = TimedCache(3600, clock=lambda: clock[0])
    client.app.state.field_order_cache = cache  # type: ignore[attr-defined]
    device, token = factories.kiosk_device(session, counter)
    now = datetime.now(UTC)
    for _ in range(3):
        factories.rating(session, counter, field_code="tax", at=now - timedelta(days=1))
    session.flush()

    first = _config(client, token)["counter_fields"]
    assert first[0] == "tax" and len(counted) == 1  # type: ignore[index]
    assert _config(client, token)["counter_fields"] == first and len(counted) == 1  # the second heartbeat in a row
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/kiosks/config", headers=headers).json()["counter_fields"] == first
    assert len(counted) == 1
    for _ in range(5):
        factories.rating(session, counter, field_code="justice", at=now)
    session.flush()
    clock[0] += 3599
    assert _config(client, token)["counter_fields"] == first and len(counted) == 1  # still kept: the old order
    clock[0] += 2  # an hour on: counted again, the new order
    assert _config(client, token)["counter_fields"][:2] == ["justice", "tax"] and len(counted) == 2  # type: ignore[index]
    assert _config(client, token)["counter_fields"][:2] == ["justice", "tax"] and len(counted) == 2  # type: ignore[index]

    other = factories.counter(session, factories.unit(session))  # another counter: its own counts
    _, other_token = factories.kiosk_device(session, other)
    assert _config(client, other_token)["counter_fields"][0] == "land" and len(counted) == 3  # type: ignore[index]
    # A new day counts afresh (its 90 days begin a day later), however young the kept counts are.
    kiosk = session.get(KioskDevice, device.id)
    assert kiosk is not None
    later = kiosk_config(session=session, device=kiosk, now=datetime.now(UTC) + timedelta(days=1), field_order=cache)
    assert later.counter_fields is not None and later.counter_fields[:2] == ["justice", "tax"] and len(counted) == 4


def test_a_kiosk_reports_a_shown_visit_and_learns_when_it_closed(
    client: TestClient, session: Session, counter: Counter, headers: dict[str, str]
) -> None:
    visit = factories.counter_visit(session, counter)

    def report(event: str, token_: str | None = None) -> str:
        response = client.post(
            "/api/v1/kiosks/visit-status", json={"token": token_ or visit.token, "event": event}, headers=headers
        )
        assert response.status_code == 200, response.text
        state: str = response.json()["state"]
        return state

    assert report("shown") == "open"
    session.refresh(visit)
    assert visit.shown_at is not None and visit.declined_at is None
    first_shown = visit.shown_at
    assert report("shown") == "open"
    session.refresh(visit)
    assert visit.shown_at == first_shown  # the first time counts
    # Rated by phone meanwhile: the kiosk must leave the visit instead of thanking for a refused rating.
    factories.rating(session, counter, channel="phone").visit_id = visit.id
    visit.rated_at = datetime.now(UTC)
    session.add(visit)
    session.flush()
    assert report("shown") == "rated"
    assert report("declined") == "rated"  # too late to decline: nothing changes
    session.refresh(visit)
    assert visit.declined_at is None
    other = factories.counter_visit(session, factories.counter(session, factories.unit(session)))
    assert report("shown", other.token) == "unknown"  # another counter's visit is none of this kiosk's business
    assert report("shown", "nope") == "unknown"
    bad = client.post("/api/v1/kiosks/visit-status", json={"token": visit.token, "event": "x"}, headers=headers)
    assert bad.status_code == 422 and "detail" in bad.json()
    assert client.post("/api/v1/kiosks/visit-status", json={"token": "a", "event": "shown"}).status_code == 401


def test_a_declined_or_cancelled_visit_is_no_longer_offered(
    client: TestClient, session: Session, counter: Counter, headers: dict[str, str]
) -> None:
    visit = factories.counter_visit(session, counter)
    assert client.get("/api/v1/kiosks/current-visit", headers=headers).json()["visit"]["token"] == visit.token
    declined = client.post(
        "/api/v1/kiosks/visit-status", json={"token": visit.token, "event": "declined"}, headers=headers
    )
    assert declined.json()["state"] == "declined"
    assert client.get("/api/v1/kiosks/current-visit", headers=headers).json()["visit"] is None
    assert session.get(Visit, visit.id).declined_at is not None  # type: ignore[union-attr]
    later = factories.counter_visit(session, counter)
    later.cancelled_at = datetime.now(UTC)
    session.add(later)
    session.flush()
    assert client.get("/api/v1/kiosks/current-visit", headers=headers).json()["visit"] is None
    shown = client.post("/api/v1/kiosks/visit-status", json={"token": later.token, "event": "shown"}, headers=headers)
    assert shown.json()["state"] == "cancelled"

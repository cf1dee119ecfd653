"""Dashboard figures reused for `dashboard_cache_seconds` per worker; scoping still checked on every request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.cache import TimedCache
from server.config import Settings
from server.deps import get_session
from tests import factories, logins
from tests.server.dashboard.world import OCT, World, build_world

HTML = {"accept": "text/html"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_reused_until_it_is_older_than_the_ttl() -> None:
    clock = Clock()
    cache = TimedCache(5, clock=clock)
    calls: list[str] = []

    def compute(tag: str) -> str:
        calls.append(tag)
        return tag

    assert cache.get_or_compute("k", lambda: compute("first")) == "first"
    clock.now += 4.9
    assert cache.get_or_compute("k", lambda: compute("second")) == "first"
    assert cache.get_or_compute("other", lambda: compute("other")) == "other"
    clock.now += 0.2
    assert cache.get_or_compute("k", lambda: compute("third")) == "third"
    assert calls == ["first", "other", "third"]


def test_zero_seconds_turns_the_cache_off() -> None:
    cache = TimedCache(0, clock=Clock())
    values = iter(range(3))
    assert [cache.get_or_compute("k", lambda: next(values)) for _ in range(3)] == [0, 1, 2]


def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    cache = TimedCache(60, max_entries=2, clock=Clock())
    cache.get_or_compute("a", lambda: 1)
    cache.get_or_compute("b", lambda: 2)
    cache.get_or_compute("a", lambda: 99)  # a is used again: b is now the oldest
    cache.get_or_compute("c", lambda: 3)
    assert cache.get_or_compute("a", lambda: -1) == 1
    assert cache.get_or_compute("b", lambda: -2) == -2  # evicted, computed again


def test_an_expired_value_is_served_while_one_refresh_replaces_it() -> None:
    clock, pending = Clock(), []
    cache = TimedCache(5, clock=clock, spawn=pending.append)
    assert cache.get_or_compute("k", lambda: "first", refresh=lambda: "unused") == "first"
    clock.now += 6
    assert cache.get_or_compute("k", lambda: "computed", refresh=lambda: "refreshed") == "first"  # refresh queued
    assert cache.get_or_compute("k", lambda: "computed", refresh=lambda: "again") == "first"  # not a second one
    assert len(pending) == 1
    pending.pop()()
    assert cache.get_or_compute("k", lambda: "computed", refresh=lambda: "later") == "refreshed"
    clock.now += 10  # older than twice the time to live: too old to serve, computed by the read
    assert cache.get_or_compute("k", lambda: "computed", refresh=lambda: "later") == "computed"
    assert cache.get_or_compute("no refresh", lambda: 1) == 1
    clock.now += 6
    assert cache.get_or_compute("no refresh", lambda: 2) == 2  # without a refresh, an expired value is computed
    assert not pending


def test_a_failed_refresh_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    clock, pending = Clock(), []
    cache = TimedCache(5, clock=clock, spawn=pending.append)
    cache.get_or_compute("k", lambda: "first")

    def broken() -> str:
        raise RuntimeError("database gone")

    clock.now += 6
    assert cache.get_or_compute("k", lambda: "computed", refresh=broken) == "first"
    pending.pop()()
    assert "refreshing a cached value failed" in caplog.text
    assert cache.get_or_compute("k", lambda: "computed", refresh=lambda: "refreshed") == "first"
    pending.pop()()
    assert cache.get_or_compute("k", lambda: "computed") == "refreshed"


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def caching_client(settings: Settings, session: Session, seconds: float) -> Iterator[TestClient]:
    app: FastAPI = create_app(settings.model_copy(update={"dashboard_cache_seconds": seconds}))

    def _session() -> Iterator[Session]:
        yield session
        session.flush()

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as client:
        yield client


def headline(client: TestClient, url: str = "/dashboard?period=2026-10") -> str:
    response = client.get(url, headers=HTML)
    assert response.status_code == 200, response.text[:500]
    node = BeautifulSoup(response.text, "html.parser").select_one("[aria-labelledby=h-headline]")
    assert node is not None
    return " ".join(node.get_text(" ").split())


def comment_filter_units(client: TestClient) -> list[str]:
    """The unit codes the comment filter offers on the dashboard."""
    response = client.get("/dashboard?period=2026-10", headers=HTML)
    assert response.status_code == 200, response.text[:500]
    page = BeautifulSoup(response.text, "html.parser")
    return [str(o["value"]) for o in page.select("select[name=within] option") if o.get("value")]


@pytest.mark.parametrize(("seconds", "after"), [(300, "38 trên 47"), (0, "39 trên 48")])
def test_figures_are_reused_within_the_ttl_and_fresh_without_it(
    settings: Settings, session: Session, world: World, seconds: float, after: str
) -> None:
    for client in caching_client(settings, session, seconds):
        logins.login(client, world.manager_a)
        assert "38 trên 47 lượt đánh giá là hài lòng" in headline(client)
        factories.rating(session, world.counter_a1, level=4, field_code="land", at=OCT + timedelta(days=5))
        session.flush()
        assert f"{after} lượt đánh giá là hài lòng" in headline(client)
        # Another unit or period is its own entry.
        assert "lượt đánh giá là hài lòng" in headline(client, "/dashboard?period=2026-10&unit=W-A1")


def test_scope_is_checked_before_the_cache_is_asked(settings: Settings, session: Session, world: World) -> None:
    for client in caching_client(settings, session, 300):
        logins.login(client, world.manager_a)
        assert "38 trên 47" in headline(client)  # A's figures are now in the cache
        client.cookies.clear()
        logins.login(client, world.manager_b)
        response = client.get("/dashboard?period=2026-10&unit=W-A", headers=HTML)
        assert response.status_code in (403, 404)
        assert "38 trên 47" not in response.text


def test_shared_parts_are_kept_per_language(settings: Settings, session: Session, world: World) -> None:
    """The figures' HTML is kept per unit, period and language: English readers never get the Vietnamese page."""
    for client in caching_client(settings, session, 300):
        logins.login(client, world.manager_a)
        assert "38 trên 47 lượt đánh giá là hài lòng" in headline(client)
        english = headline(client, "/dashboard?period=2026-10&lang=en")
        assert "38 of 47" in english and "trên" not in english
        assert "38 trên 47" in headline(client, "/dashboard?period=2026-10&lang=vi")


def test_an_expired_page_part_is_served_while_it_is_refreshed_in_the_background(
    settings: Settings, session: Session, world: World
) -> None:
    """The read that finds the figures expired gets them as they were; the refresh (its own session) brings the new
    rating, and the next read shows it."""
    for client in caching_client(settings, session, 5):
        app: FastAPI = client.app  # type: ignore[assignment]
        clock, pending = Clock(), []
        app.state.dashboard_cache = TimedCache(5, clock=clock, spawn=pending.append)
        app.state.engine = session.connection()  # the refresh's own session reads the test's (uncommitted) data
        logins.login(client, world.manager_a)
        assert "38 trên 47" in headline(client)
        factories.rating(session, world.counter_a1, level=4, field_code="land", at=OCT + timedelta(days=5))
        factories.unit(session, parent=world.a, code="A9", name="Phường Mới Lập")
        session.flush()
        clock.now += 6
        assert "38 trên 47" in headline(client)  # expired: served as it was, refreshes queued
        assert "A9" not in comment_filter_units(client)
        assert len(pending) == 5  # the figures, the QĐ 766 score, the kiosks, the children (comment filter), the fields
        for refresh in pending:
            refresh()
        assert "39 trên 48" in headline(client)
        assert "A9" in comment_filter_units(client)

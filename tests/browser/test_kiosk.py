"""The kiosk in real Chromium with touch emulation, at the three screen sizes it ships for.

A central server runs on loopback (SQLite) and the kiosk is paired with it through the real endpoint, so the
flows end with ratings in the central store.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import select

from kiosk.app import create_kiosk_app
from server.db import make_engine, session_scope
from server.models import Counter
from tests import factories
from tests.browser.conftest import ConsoleWatcher, assert_accessible, serve
from tests.databases import factory_for
from tests.kiosk.conftest import CentralServer, central_server, eventually, kiosk_settings, pair_kiosk

pytestmark = pytest.mark.browser

LANDSCAPE = {"width": 1280, "height": 800}
WIDE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 800, "height": 1280}
VIEWPORTS = [
    pytest.param(LANDSCAPE, id="1280x800"),
    pytest.param(WIDE, id="1920x1080"),
    pytest.param(PORTRAIT, id="800x1280"),
]


@pytest.fixture(scope="module")
def central() -> Iterator[CentralServer]:
    with factory_for("sqlite") as factory, central_server(factory.new_url()) as server:
        yield server


@contextmanager
def kiosk_site(central: CentralServer | None, **overrides: Any) -> Iterator[str]:
    """A paired kiosk app served on loopback; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="kiosk-") as data_dir:
        settings = kiosk_settings(Path(data_dir), central.url if central else "http://127.0.0.1:9", **overrides)
        if central is not None:
            pair_kiosk(settings, central)
        with serve(create_kiosk_app(settings)) as url:
            yield url


@contextmanager
def touch_page(browser: Browser, viewport: dict[str, int]) -> Iterator[tuple[Page, ConsoleWatcher]]:
    context: BrowserContext = browser.new_context(viewport=viewport, has_touch=True, locale="vi-VN")  # type: ignore[arg-type]
    page = context.new_page()
    watcher = ConsoleWatcher(page)
    try:
        yield page, watcher
    finally:
        context.close()


def check_screen(page: Page, viewport: dict[str, int], name: str) -> None:
    """What every citizen screen must satisfy: its name, accessible, no scrolling, big targets and words."""
    expect(page.locator(f'[data-screen="{name}"]')).to_be_visible()
    assert_accessible(page)
    layout = page.evaluate(
        """() => {
          const d = document.documentElement;
          const buttons = [...document.querySelectorAll('[data-screen] button, [data-screen] label.tile')]
            .filter(b => b.offsetParent !== null).map(b => b.getBoundingClientRect());
          const labels = [...document.querySelectorAll('.tile-label, .face-label, [data-screen] button')]
            .map(e => parseFloat(getComputedStyle(e).fontSize));
          return {sw: d.scrollWidth, sh: d.scrollHeight, w: innerWidth, h: innerHeight,
                  small: buttons.filter(r => r.width < 96 || r.height < 96).length,
                  outside: buttons.filter(r => r.right > innerWidth + 1 || r.bottom > innerHeight + 1).length,
                  minFont: labels.length ? Math.min(...labels) : 99,
                  userSelect: getComputedStyle(document.body).userSelect,
                  cursor: getComputedStyle(document.body).cursor};
        }"""
    )
    assert (layout["sw"], layout["sh"]) == (viewport["width"], viewport["height"]), f"{name} scrolls: {layout}"
    assert layout["small"] == 0 and layout["outside"] == 0, f"{name}: {layout}"
    assert layout["minFont"] >= 32, f"{name}: {layout}"
    assert (layout["userSelect"], layout["cursor"]) == ("none", "none")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_satisfied_flow(browser: Browser, central: CentralServer, viewport: dict[str, int]) -> None:
    before = set(central.rating_ids())
    with kiosk_site(central, thanks_seconds=3) as url, touch_page(browser, viewport) as (page, console):
        page.goto(url + "/")
        check_screen(page, viewport, "idle")  # faces first: the question and the four faces
        expect(page.locator("h1")).to_contain_text("Ông/Bà có hài lòng")
        faces = page.locator(".face")
        expect(faces).to_have_count(4)
        boxes = [faces.nth(i).bounding_box() for i in range(4)]
        assert all(b is not None for b in boxes)
        if viewport["width"] > viewport["height"]:
            assert len({round(b["y"]) for b in boxes if b}) == 1, "faces in one row"
        else:
            assert len({round(b["x"]) for b in boxes if b}) == 1, "faces in one column"
        # A finger on a face changes it at once (no round trip to wait for), then lifting it rates.
        first = faces.first.bounding_box()
        assert first is not None
        point = {"x": first["x"] + first["width"] / 2, "y": first["y"] + first["height"] / 2}
        cdp = page.context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
        pressed = faces.first.evaluate("e => [getComputedStyle(e).outlineStyle, getComputedStyle(e).backgroundColor]")
        assert pressed == ["solid", "rgb(219, 234, 254)"], pressed
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        # This counter serves every field and no visit named one: the field comes after the face.
        check_screen(page, viewport, "fields")
        page.locator('[data-field="land"]').tap()
        check_screen(page, viewport, "thanks")
        expect(page.locator("[data-countdown]")).not_to_have_text("3")  # the countdown visibly runs
        expect(page.locator('[data-screen="idle"]')).to_be_visible(timeout=10_000)
        assert console.errors == []
    new = eventually(lambda: set(central.rating_ids()) - before, what="the rating reaching the central store")
    assert len(new) == 1


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_dissatisfied_flow_with_reasons(browser: Browser, central: CentralServer, viewport: dict[str, int]) -> None:
    before = {r[0] for r in central.query("SELECT id FROM rating")}
    with kiosk_site(central) as url, touch_page(browser, viewport) as (page, console):
        page.goto(url + "/")
        page.locator('[data-level="1"]').tap()
        page.locator('[data-field="construction"]').tap()
        check_screen(page, viewport, "reasons")
        expect(page.locator(".reason-tile .reason-icon")).to_have_count(8)  # a pictogram per reason
        page.locator('[data-reason="late"]').tap()
        page.locator('[data-reason="attitude"]').tap()
        page.locator('[data-reason="late"]').tap()  # changed their mind
        page.locator('[data-reason="waiting"]').tap()
        expect(page.locator('[data-reason="attitude"] input')).to_be_checked()
        expect(page.locator('[data-reason="late"] input')).not_to_be_checked()
        assert_accessible(page)
        page.locator("[data-timeout-submit]").tap()
        check_screen(page, viewport, "thanks")
        assert console.errors == []

    def stored() -> list[Any]:
        rows = central.query(
            "SELECT r.id, r.level, f.code, rs.code FROM rating r JOIN field f ON f.id = r.field_id "
            "JOIN rating_reason rr ON rr.rating_id = r.id JOIN reason rs ON rs.id = rr.reason_id"
        )
        return [row for row in rows if row[0] not in before]

    rows = eventually(stored, what="the rating with its reasons")
    assert sorted((lv, f, code) for _, lv, f, code in rows) == [
        (1, "construction", "attitude"),
        (1, "construction", "waiting"),
    ]


@pytest.mark.parametrize("viewport", [pytest.param(LANDSCAPE, id="1280x800"), pytest.param(PORTRAIT, id="800x1280")])
def test_fields_are_large_icon_tiles_on_one_screen(
    browser: Browser, central: CentralServer, viewport: dict[str, int]
) -> None:
    """Issue 21 item 3: all 14 fields on one screen without scrolling, each icon at least 96 px (it was 56 px in
    landscape, 44 px in portrait) and every label whole (not cut by its tile), in Vietnamese and in English."""
    with kiosk_site(central) as url, touch_page(browser, viewport) as (page, console):
        page.goto(url + "/")
        page.locator('[data-level="4"]').tap()
        for lang in ("vi", "en"):
            if lang == "en":
                page.locator(".lang-toggle").tap()
                expect(page.locator("html")).to_have_attribute("lang", "en")
            check_screen(page, viewport, "fields")  # no scrolling, targets and words large enough
            tiles = page.evaluate(
                """() => [...document.querySelectorAll('.field-tile')].map(t => {
                  const icon = t.querySelector('.field-icon').getBoundingClientRect();
                  return {field: t.dataset.field, w: icon.width, h: icon.height,
                          cut: t.scrollHeight > t.clientHeight + 1 || t.scrollWidth > t.clientWidth + 1};
                })"""
            )
            assert len(tiles) == 14, tiles
            small = [t for t in tiles if t["w"] < 96 or t["h"] < 96]
            assert small == [], f"{lang}: icons under 96 px: {small}"
            assert [t["field"] for t in tiles if t["cut"]] == [], f"{lang}: labels cut: {tiles}"
        assert console.errors == []


def test_a_page_from_before_a_restart_reloads_instead_of_refusing_every_tap(
    browser: Browser, central: CentralServer
) -> None:
    """Issue 19 finding 8: POSTs need this run's screen token. A page served by an earlier run of the kiosk app
    (its token replaced here, as a restart would) is refused once, reloads itself with the new token, then rates."""
    before = set(central.rating_ids())
    with kiosk_site(central) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/")
        page.locator('[data-level="1"]').tap()
        page.locator('[data-field="land"]').tap()
        expect(page.locator('[data-screen="reasons"]')).to_be_visible()
        page.evaluate(
            """() => document.querySelector('[hx-headers]').setAttribute('hx-headers', '{"X-Kiosk-Screen": "old"}')"""
        )
        with page.expect_response(lambda r: r.url.endswith("/ratings")) as refused:
            page.get_by_role("button", name="Bỏ qua").tap()
        assert refused.value.status == 403
        expect(page.locator('[data-screen="idle"]')).to_be_visible()  # reloaded: no thanks for what was not kept
        assert "old" not in (page.locator("[hx-headers]").get_attribute("hx-headers") or "old")
        page.locator('[data-level="4"]').tap()
        page.locator('[data-field="land"]').tap()
        expect(page.locator('[data-screen="thanks"]')).to_be_visible()
        assert [e for e in console.errors if "403" not in e] == []
    new = eventually(lambda: set(central.rating_ids()) - before, what="the rating after the reload")
    assert len(new) == 1


def test_skip_reasons(browser: Browser, central: CentralServer) -> None:
    with kiosk_site(central) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/")
        page.locator('[data-level="2"]').tap()
        page.locator('[data-field="tax"]').tap()
        page.get_by_role("button", name="Bỏ qua").tap()
        expect(page.locator('[data-screen="thanks"]')).to_be_visible()
        assert console.errors == []


def test_idle_reset_discards_a_half_finished_rating(browser: Browser, central: CentralServer) -> None:
    before = len(central.rating_ids())
    with kiosk_site(central, idle_reset_seconds=1.5) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/")
        page.locator('[data-level="4"]').tap()
        expect(page.locator('[data-screen="fields"]')).to_be_visible()
        expect(page.locator('[data-screen="idle"]')).to_be_visible(timeout=10_000)  # nobody touched it
        # On the reasons screen the level already given is kept, with the reasons chosen so far.
        page.locator('[data-level="2"]').tap()
        page.locator('[data-field="land"]').tap()
        page.locator('[data-reason="fees"]').tap()
        expect(page.locator('[data-screen="thanks"]')).to_be_visible(timeout=10_000)
        assert console.errors == []
    eventually(lambda: len(central.rating_ids()) == before + 1, what="exactly the one rating with a level")


def test_language_toggle(browser: Browser, central: CentralServer) -> None:
    with kiosk_site(central) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/")
        assert page.locator("html").get_attribute("lang") == "vi"
        page.locator(".lang-toggle").tap()
        expect(page.locator("h1")).to_have_text("Are you satisfied with how your matter was handled today?")
        expect(page.locator(".face-label").first).to_have_text("Very satisfied")
        assert page.locator("html").get_attribute("lang") == "en"
        assert_accessible(page)
        page.locator('[data-level="1"]').tap()
        expect(page.locator("h1")).to_have_text("Which kind of matter did you come for?")
        page.locator(".lang-toggle").tap()  # back to Vietnamese in the middle of the flow, the face kept
        expect(page.locator("h1")).to_have_text("Ông/Bà vừa làm thủ tục thuộc lĩnh vực nào?")
        assert page.locator("html").get_attribute("lang") == "vi"
        page.locator('[data-field="health"]').tap()
        expect(page.locator('[data-screen="reasons"] input[name="level"]')).to_have_value("1")
        page.get_by_role("button", name="Bỏ qua").tap()
        expect(page.locator("h1")).to_have_text("Cảm ơn Ông/Bà đã đánh giá!")
        assert console.errors == []


def test_staff_gesture_status_screen_and_out_of_service(browser: Browser, central: CentralServer) -> None:
    with kiosk_site(central) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/")
        corner = page.locator("[data-staff-corner]")
        corner.tap()  # a short touch does nothing
        expect(page.locator('[data-screen="idle"]')).to_be_visible()
        # A finger held on the corner (touch events through the DevTools protocol; no mouse involved).
        cdp = page.context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": 20, "y": 20}]})
        expect(page.locator('[data-screen="staff_pin"]')).to_be_visible(timeout=6000)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert_accessible(page)
        for digit in "1234":
            page.locator(f'[data-key="{digit}"]').tap()
        page.locator(".key-ok").tap()
        expect(page.locator('[data-screen="staff_status"]')).to_be_visible()
        expect(page.locator('[data-fact="counter"]')).to_contain_text(central.counter_code)
        assert_accessible(page)
        page.get_by_role("button", name="Thoát").tap()
        expect(page.locator('[data-screen="idle"]')).to_be_visible()
        assert console.errors == []
    with kiosk_site(None) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/")
        expect(page.locator("h1")).to_have_text("Tạm ngừng phục vụ")
        assert_accessible(page)


def test_a_visit_started_at_the_counter_preselects_the_field(browser: Browser, central: CentralServer) -> None:
    with (
        kiosk_site(central, visit_poll_seconds=1.0, idle_reset_seconds=1.5) as url,
        touch_page(browser, LANDSCAPE) as (page, console),
    ):
        page.goto(url + "/")
        expect(page.locator('[data-screen="idle"]')).to_be_visible()
        engine = make_engine(central.db_url)
        with session_scope(engine) as session:
            counter = session.exec(select(Counter).where(Counter.code == central.counter_code)).one()
            visit = factories.counter_visit(session, counter, field_code="education")
            token = visit.token
        faces = page.locator('[data-screen="faces"] [data-chosen-field="education"]')
        expect(faces).to_be_visible(timeout=2000)  # within 2 s of the console starting the visit
        expect(page.locator(".screen-faces [data-decline]")).to_have_text("Bỏ qua")  # declining, no other field
        page.locator('[data-level="3"]').tap()
        expect(page.locator('[data-screen="thanks"]')).to_be_visible()

        def rated() -> Any:
            rows = central.query("SELECT rated_at FROM visit WHERE token = :t", t=token)
            return rows and rows[0][0]

        eventually(rated, what="the visit marked rated")
        linked = central.query(
            "SELECT f.code FROM rating r JOIN visit v ON v.id = r.visit_id JOIN field f ON f.id = r.field_id "
            "WHERE v.token = :t",
            t=token,
        )
        assert linked == [("education",)]

        # An abandoned visit is not offered again after the screen resets.
        with session_scope(engine) as session:
            counter = session.exec(select(Counter).where(Counter.code == central.counter_code)).one()
            factories.counter_visit(session, counter, field_code="tax", created_at=datetime.now(UTC))
        expect(page.locator('[data-chosen-field="tax"]')).to_be_visible(timeout=10_000)
        expect(page.locator('[data-screen="idle"]')).to_be_visible(timeout=10_000)
        for _ in range(4):  # several polls later it is still the invitation
            with page.expect_response(lambda r: r.url.endswith("/poll")):
                pass
        expect(page.locator('[data-screen="idle"]')).to_be_visible()
        engine.dispose()
        assert console.errors == []

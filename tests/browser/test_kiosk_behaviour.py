"""Where people got stuck at the kiosk, in real Chromium with the real timers (shortened by configuration):
the idle reset, a visit rated elsewhere meanwhile, faces first, declining a visit, the staff PIN lock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from server.db import make_engine, session_scope
from server.models import Counter, CounterField
from tests import factories
from tests.browser.conftest import assert_accessible
from tests.browser.test_kiosk import LANDSCAPE, PORTRAIT, kiosk_site, touch_page
from tests.databases import factory_for
from tests.kiosk.conftest import CentralServer, central_server, eventually

pytestmark = pytest.mark.browser

#: The sync corner refreshes itself several times within one idle period: those refreshes must not count.
FAST_CORNER = {"indicator_seconds": 0.3, "idle_reset_seconds": 4}


@pytest.fixture(scope="module")
def central() -> Iterator[CentralServer]:
    with factory_for("sqlite") as factory, central_server(factory.new_url()) as server:
        yield server


def start_visit(central: CentralServer, field_code: str = "education") -> str:
    engine = make_engine(central.db_url)
    with session_scope(engine) as session:
        counter = session.exec(select(Counter).where(Counter.code == central.counter_code)).one()
        token = factories.counter_visit(session, counter, field_code=field_code).token
    engine.dispose()
    return token


def corner_refreshes(page: Page, n: int) -> None:
    """Wait for `n` refreshes of the sync corner (each one a real request and swap)."""
    for _ in range(n):
        with page.expect_response(lambda r: "/indicator" in r.url):
            pass


def test_only_a_touch_postpones_the_idle_reset(browser: Browser, central: CentralServer) -> None:
    with kiosk_site(central, **FAST_CORNER) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/")
        # A face, then nobody touches the field screen: it goes back to the faces although the corner refreshed.
        page.locator('[data-level="4"]').tap()
        expect(page.locator('[data-screen="fields"]')).to_be_visible()
        corner_refreshes(page, 3)
        expect(page.locator('[data-screen="idle"]')).to_be_visible(timeout=20_000)
        assert central.query("SELECT count(*) FROM rating") == [(0,)]  # a half-finished rating is dropped

        # The reasons screen sends the choice so far on its own.
        page.locator('[data-level="1"]').tap()
        page.locator('[data-field="land"]').tap()
        page.locator('[data-reason="waiting"]').tap()
        expect(page.locator('[data-screen="thanks"]')).to_be_visible(timeout=20_000)
        expect(page.locator('[data-screen="idle"]')).to_be_visible(timeout=15_000)

        # English does not stay on for the next citizen.
        page.locator(".lang-toggle").tap()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        corner_refreshes(page, 3)
        expect(page.locator("html")).to_have_attribute("lang", "vi", timeout=20_000)
        expect(page.locator('[data-screen="idle"] h1')).to_contain_text("Ông/Bà có hài lòng")

        # An officer's invitation reaches a kiosk left on a half-finished screen (once it has reset).
        page.locator('[data-level="3"]').tap()
        expect(page.locator('[data-screen="fields"]')).to_be_visible()
        start_visit(central, "education")
        expect(page.locator('[data-screen="faces"] [data-chosen-field="education"]')).to_be_visible(timeout=15_000)
        assert console.errors == []

    def rated_waiting() -> Any:
        rows = central.query(
            "SELECT r.level, rs.code FROM rating r JOIN rating_reason rr ON rr.rating_id = r.id "
            "JOIN reason rs ON rs.id = rr.reason_id"
        )
        return rows

    assert eventually(rated_waiting, what="the reasons sent on timeout") == [(1, "waiting")]


def test_touches_do_postpone_the_idle_reset(browser: Browser, central: CentralServer) -> None:
    """The reset above is not merely a fixed timer: a person touching the screen keeps it."""
    with kiosk_site(central, **FAST_CORNER) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/")
        page.locator('[data-level="1"]').tap()
        page.locator('[data-field="tax"]').tap()
        expect(page.locator('[data-screen="reasons"]')).to_be_visible()
        for code in ("late", "guidance", "late", "guidance", "late", "guidance"):  # ~1.5 s apart: 9 s, > 4 s
            page.wait_for_timeout(1500)
            page.locator(f'[data-reason="{code}"]').tap()
            expect(page.locator('[data-screen="reasons"]')).to_be_visible()
        assert console.errors == []


def phone_rating(central: CentralServer, token: str) -> None:
    """A citizen rates the visit on their phone: the real phone page, its CSRF token, its form."""
    with httpx.Client(base_url=central.url) as phone:
        form = phone.get(f"/r/{token}")
        assert form.status_code == 200, form.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf
        done = phone.post(f"/r/{token}", data={"csrf": csrf.group(1), "level": "4"})
        assert done.status_code in (200, 303), done.text


def test_a_visit_rated_by_phone_meanwhile_leaves_the_kiosk(browser: Browser, central: CentralServer) -> None:
    with (
        kiosk_site(central, visit_poll_seconds=0.3, idle_reset_seconds=60) as url,
        touch_page(browser, LANDSCAPE) as (page, console),
    ):
        page.goto(url + "/")
        token = start_visit(central, "justice")
        expect(page.locator('[data-screen="faces"] [data-chosen-field="justice"]')).to_be_visible(timeout=10_000)
        eventually(
            lambda: central.query("SELECT shown_at FROM visit WHERE token = :t", t=token)[0][0],
            what="the kiosk reporting the visit shown",
        )
        phone_rating(central, token)
        closed = page.locator('[data-screen="visit_closed"][data-visit-state="rated"]')
        expect(closed).to_be_visible(timeout=10_000)  # no thanks for a rating the server would refuse
        expect(closed.locator("h1")).to_have_text("Lượt này đã được đánh giá")
        assert_accessible(page)
        expect(page.locator('[data-screen="idle"]')).to_be_visible(timeout=15_000)
        assert console.errors == []
    assert central.query(
        "SELECT channel FROM rating r JOIN visit v ON v.id = r.visit_id WHERE v.token = :t", t=token
    ) == [("phone",)]


def test_a_visit_can_be_declined(browser: Browser, central: CentralServer) -> None:
    with (
        kiosk_site(central, visit_poll_seconds=0.3) as url,
        touch_page(browser, PORTRAIT) as (page, console),
    ):
        central.execute("UPDATE visit SET expires_at = created_at")  # earlier tests' visits: no longer offered
        page.goto(url + "/")
        token = start_visit(central, "tax")
        expect(page.locator('[data-screen="faces"] [data-chosen-field="tax"]')).to_be_visible(timeout=10_000)
        assert_accessible(page)
        page.locator("[data-decline]").tap()
        expect(page.locator('[data-screen="idle"]')).to_be_visible()
        eventually(
            lambda: central.query("SELECT declined_at FROM visit WHERE token = :t", t=token)[0][0],
            what="the decline reaching the server",
        )
        for _ in range(4):  # several polls later it is still the faces: a declined visit does not come back
            with page.expect_response(lambda r: r.url.endswith("/poll")):
                pass
        expect(page.locator('[data-screen="idle"]')).to_be_visible()
        assert console.errors == []
    assert central.query(
        "SELECT count(*) FROM rating r JOIN visit v ON v.id = r.visit_id WHERE v.token = :t", t=token
    ) == [(0,)]


def test_an_untouched_invitation_counts_as_skipped(browser: Browser, central: CentralServer) -> None:
    with (
        kiosk_site(central, visit_poll_seconds=0.3, idle_reset_seconds=3) as url,
        touch_page(browser, LANDSCAPE) as (page, console),
    ):
        central.execute("UPDATE visit SET expires_at = created_at")  # earlier tests' visits: no longer offered
        page.goto(url + "/")
        token = start_visit(central, "land")
        expect(page.locator('[data-screen="faces"] [data-chosen-field="land"]')).to_be_visible(timeout=10_000)
        expect(page.locator('[data-screen="idle"]')).to_be_visible(timeout=20_000)  # nobody touched it
        eventually(
            lambda: central.query("SELECT declined_at FROM visit WHERE token = :t", t=token)[0][0],
            what="the console learning the invitation was skipped",
        )
        assert console.errors == []


def test_a_one_field_counter_rates_in_one_tap(browser: Browser) -> None:
    with factory_for("sqlite") as factory, central_server(factory.new_url()) as central:
        engine = make_engine(central.db_url)
        with session_scope(engine) as session:
            counter = session.exec(select(Counter).where(Counter.code == central.counter_code)).one()
            session.add(CounterField(counter_id=counter.id, field_id=factories.field(session, "certification").id))  # type: ignore[arg-type]
        engine.dispose()
        with kiosk_site(central) as url, touch_page(browser, LANDSCAPE) as (page, console):
            # The first heartbeat brings the counter's one field; the faces then rate at once.
            def one_field() -> bool:
                page.goto(url + "/")
                return (
                    page.locator('[data-screen="idle"] input[name="field"]').get_attribute("value") == "certification"
                )

            eventually(one_field, what="the kiosk learning the counter's one field")
            page.locator('[data-level="4"]').tap()
            expect(page.locator('[data-screen="thanks"]')).to_be_visible()
            page.goto(url + "/")
            page.locator('[data-level="2"]').tap()  # not satisfied: the reasons come next, still no field asked
            expect(page.locator('[data-screen="reasons"]')).to_be_visible()
            page.locator('[data-reason="guidance"]').tap()
            page.locator("[data-timeout-submit]").tap()
            expect(page.locator('[data-screen="thanks"]')).to_be_visible()
            assert console.errors == []
        rows = eventually(
            lambda: (lambda r: r if len(r) == 2 else None)(
                central.query("SELECT r.level, f.code FROM rating r JOIN field f ON f.id = r.field_id ORDER BY r.level")
            ),
            what="both ratings stored",
        )
        assert rows == [(2, "certification"), (4, "certification")]


def test_wrong_staff_pins_lock_the_keypad(browser: Browser, central: CentralServer) -> None:
    with kiosk_site(central, pin_lock_seconds=8) as url, touch_page(browser, LANDSCAPE) as (page, console):
        page.goto(url + "/staff")
        expect(page.locator('[data-screen="staff_pin"]')).to_be_visible()

        def enter(pin: str) -> None:
            for digit in pin:
                page.locator(f'[data-key="{digit}"]').tap()
            with page.expect_response(lambda r: r.url.endswith("/staff/login")):
                page.locator(".key-ok").tap()
            page.wait_for_load_state()

        for _ in range(4):
            enter("9999")
            expect(page.locator(".staff-error")).to_have_text("Mã PIN không đúng.")
        enter("9999")
        expect(page.locator(".staff-error")).to_contain_text("bàn phím tạm khoá")
        enter("1234")  # the right PIN, but locked for now
        expect(page.locator(".staff-error")).to_contain_text("bàn phím tạm khoá")
        assert_accessible(page)

        def unlocked() -> bool:
            if page.locator('[data-screen="staff_status"]').count():  # the last try's answer, once swapped in
                return True
            if page.locator(".staff-error").count():  # still locked (or not yet swapped): try again
                enter("1234")
            return False

        eventually(unlocked, timeout=30, what="the keypad unlocking after pin_lock_seconds")
        assert console.errors == []

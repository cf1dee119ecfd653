"""End to end across two screens: the officer invites a rating in the console; the counter's kiosk shows it.

The console (one browser context, logged in through /login) and the kiosk (another context, a touch screen) talk
only through the central server, exactly as in a one-stop office: the kiosk learns of the visit by polling.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ConsoleWatcher, assert_accessible, log_in
from tests.browser.test_kiosk import LANDSCAPE, kiosk_site, touch_page
from tests.databases import factory_for
from tests.kiosk.conftest import CentralServer, central_server, eventually

pytestmark = pytest.mark.browser


@contextmanager
def counter_kiosk(
    browser: Browser, central: CentralServer, visit_poll_seconds: float
) -> Iterator[tuple[Page, ConsoleWatcher]]:
    """The kiosk of the central server's counter on a touch screen, at its start page, and its console errors."""
    with (
        kiosk_site(central, visit_poll_seconds=visit_poll_seconds) as kiosk_url,
        touch_page(browser, LANDSCAPE) as (kiosk, console),
    ):
        kiosk.goto(kiosk_url + "/")
        yield kiosk, console


def test_invite_in_the_console_preselects_the_field_on_the_kiosk(browser: Browser) -> None:
    with factory_for("sqlite") as factory, central_server(factory.new_url()) as central:
        username = central.login("officer")
        with counter_kiosk(browser, central, visit_poll_seconds=1.0) as (kiosk, kiosk_console):
            expect(kiosk.locator('[data-screen="idle"]')).to_be_visible()

            context = browser.new_context(viewport={"width": 1280, "height": 800})
            console = context.new_page()
            log_in(console, central.url, username, next="/console")
            console.get_by_label("Quầy").select_option(central.counter_code)
            console.get_by_label("Lĩnh vực").select_option("construction")
            console.get_by_role("button", name="Mời đánh giá").click()
            console.locator("#slip").wait_for()

            # Within 2 s of the invitation the kiosk shows the faces for that field, with no field to pick.
            chosen = kiosk.locator('[data-screen="faces"] [data-chosen-field="construction"]')
            expect(chosen).to_be_visible(timeout=2000)
            kiosk.locator('[data-level="4"]').tap()
            expect(kiosk.locator('[data-screen="thanks"]')).to_be_visible()

            def stored() -> Any:
                return central.query(
                    "SELECT f.code, r.channel FROM rating r JOIN visit v ON v.id = r.visit_id "
                    "JOIN field f ON f.id = r.field_id"
                )

            assert eventually(stored, what="the kiosk rating tied to the console's visit") == [
                ("construction", "kiosk")
            ]
            context.close()
            assert kiosk_console.errors == []


def test_the_console_shows_the_kiosk_and_the_citizen_and_can_cancel(browser: Browser) -> None:
    """After "invite" the officer sees the kiosk show it, then the rating; a second invitation is cancelled from
    the console and leaves the kiosk; the field stays chosen and the recent list follows, without reloading."""
    with factory_for("sqlite") as factory, central_server(factory.new_url()) as central:
        username = central.login("officer")
        with counter_kiosk(browser, central, visit_poll_seconds=0.3) as (kiosk, kiosk_console):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            console = context.new_page()
            console_errors = ConsoleWatcher(console)
            log_in(console, central.url, username, next="/console")
            console.get_by_label("Lĩnh vực").select_option("justice")
            console.get_by_role("button", name="Mời đánh giá").click()

            status = console.locator("#visit-status")
            expect(status).to_have_attribute("data-visit-state", "waiting")
            expect(kiosk.locator('[data-chosen-field="justice"]')).to_be_visible(timeout=10_000)
            expect(status).to_have_attribute("data-visit-state", "shown", timeout=15_000)  # the kiosk shows it
            expect(status).to_contain_text("Màn hình tại quầy đang hiển thị phiếu đánh giá")
            assert_accessible(console)
            kiosk.locator('[data-level="3"]').tap()
            expect(kiosk.locator('[data-screen="thanks"]')).to_be_visible()
            expect(status).to_have_attribute("data-visit-state", "rated", timeout=15_000)
            expect(status).to_contain_text("Người dân đã đánh giá.")
            expect(console.locator('#recent [data-recent-state="rated"]')).to_have_count(1)
            expect(console.get_by_label("Lĩnh vực")).to_have_value("justice")  # kept for the next citizen

            expect(kiosk.locator('[data-screen="idle"]')).to_be_visible(timeout=15_000)
            console.get_by_role("button", name="Mời đánh giá").click()
            expect(status).to_have_attribute("data-visit-state", "waiting")
            expect(kiosk.locator('[data-chosen-field="justice"]')).to_be_visible(timeout=10_000)
            expect(status).to_have_attribute("data-visit-state", "shown", timeout=15_000)
            console.get_by_role("button", name="Huỷ lời mời").click()
            expect(status).to_have_attribute("data-visit-state", "cancelled")
            closed = kiosk.locator('[data-screen="visit_closed"][data-visit-state="cancelled"]')
            expect(closed).to_be_visible(timeout=10_000)  # the kiosk leaves the withdrawn invitation
            expect(kiosk.locator('[data-screen="idle"]')).to_be_visible(timeout=15_000)
            expect(console.locator("#recent li")).to_have_count(2)
            expect(console.locator('#recent [data-recent-state="cancelled"]')).to_have_count(1)
            assert_accessible(console)
            context.close()
            assert kiosk_console.errors == [] and console_errors.errors == []
        assert central.query("SELECT count(*) FROM rating") == [(1,)]

"""The central server's own pages in real Chromium: no console errors, accessible, offline assets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page

from server.app import create_app
from tests.browser.conftest import ConsoleWatcher, assert_accessible, serve
from tests.conftest import make_settings
from tests.databases import DatabaseFactory

pytestmark = pytest.mark.browser


def test_home_and_error_pages(
    browser: Browser, db_factory: DatabaseFactory, watch_console: Callable[[Page], ConsoleWatcher]
) -> None:
    app = create_app(make_settings(db_factory.new_url()))
    with serve(app) as url:
        page = browser.new_page()
        console = watch_console(page)
        external: list[str] = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(url) else None)
        page.goto(url + "/")
        assert page.locator("h1").inner_text() == "Đánh giá mức độ hài lòng"
        assert_accessible(page)
        page.get_by_role("link", name="English").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text() == "Citizen satisfaction"
        page.goto(url + "/no-such-page")
        assert "Page not found" in page.locator("h1").inner_text()  # the choice is remembered (cookie)
        assert_accessible(page)
        page.close()
        assert console.errors == [] or all("404" in e for e in console.errors), console.errors
        assert external == []

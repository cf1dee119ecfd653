"""The appraisal pages in real Chromium: the manager's page (with the htmx period picker) and the officer's own line
are accessible (axe finds nothing), make no external requests and break no CSP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from tests import logins
from tests.browser.conftest import ConsoleWatcher, assert_accessible, log_in, site_fixture
from tests.server.appraisal.data import build_ward

pytestmark = pytest.mark.browser


def seed(session: Session) -> None:
    """The appraisal's ward and a manager of it."""
    ward = build_ward(session)
    logins.user(session, "manager", ward.root, username="ap-manager")


site = site_fixture(seed)


def test_appraisal_pages_are_accessible(
    browser: Browser, site: str, watch_console: Callable[[Page], ConsoleWatcher]
) -> None:
    page = browser.new_page()
    console = watch_console(page)
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(site) else None)
    log_in(page, site, "ap-manager")
    page.get_by_role("link", name="Đánh giá cán bộ").click()
    page.get_by_label("Kỳ báo cáo").select_option("2026")
    page.get_by_role("button", name="Xem").click()
    expect(page.locator("h1")).to_have_text("Đánh giá cán bộ: Tỉnh AP")
    expect(page.locator("section[aria-labelledby=h-ap-few]")).to_contain_text("AP-FEW")
    assert_accessible(page)
    page.goto(site + "/dashboard/appraisal?period=2026&unit=AP-DESK&lang=en")
    expect(page.locator("section[aria-labelledby=h-ap-ranked]")).to_contain_text("As expected")
    assert_accessible(page)
    page.close()

    officer = browser.new_page()
    watcher = watch_console(officer)
    log_in(officer, site, "ap-land")
    officer.goto(site + "/dashboard/me?period=2026")
    expect(officer.locator("section[aria-labelledby=h-me-appraisal]")).to_contain_text("Tương đương kỳ vọng")
    assert_accessible(officer)
    officer.close()
    assert console.errors == [] and watcher.errors == []
    assert external == []

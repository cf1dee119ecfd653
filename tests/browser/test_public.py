"""The public pages in real Chromium at phone and desktop sizes, with no script on them: period picker, ranking,
sorting, unit pages, English; axe finds nothing, nothing is fetched from elsewhere, it prints; and the admin page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ConsoleWatcher, assert_accessible, log_in

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 900}}


def ranked_names(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("table.rank tbody th a").all_inner_texts()]


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_public_page_needs_no_javascript(
    browser: Browser, site: str, size: str, watch_console: Callable[[Page], ConsoleWatcher]
) -> None:
    # JavaScript stays on only for axe (evaluated through DevTools): the pages carry no script at all.
    context = browser.new_context(viewport=SIZES[size])  # type: ignore[arg-type]
    page = context.new_page()
    console = watch_console(page)
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith(site) else None)

    page.goto(site + "/cong-khai")
    expect(page.locator("h1")).to_have_text("Tỉnh thử nghiệm")
    assert page.locator("script").count() == 0
    assert_accessible(page)
    # no sideways scrolling of the page itself on a phone (wide tables scroll in their own box)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_label("Kỳ báo cáo").select_option("2026-10")
    page.get_by_role("button", name="Xem").click()
    expect(page).to_have_url(f"{site}/cong-khai?unit=W-ROOT&period=2026-10")
    expect(page.locator(".summary .big")).to_have_text("78,2%")
    assert ranked_names(page) == ["Khu vực A", "Khu vực B BSECRET-UNIT", "Xã B1 BSECRET-CHILD"]
    expect(page.locator("table.few-list")).to_contain_text("Xã A2")
    expect(page.locator("table.few-list")).to_contain_text("Không công bố")  # Xã A1: Khu vực A minus it is Xã A2
    expect(page.locator("svg.chart")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Đơn vị", exact=True).click()  # sort by name
    assert ranked_names(page) == ["Khu vực A", "Khu vực B BSECRET-UNIT", "Xã B1 BSECRET-CHILD"]

    page.get_by_role("link", name="Xã A2").click()  # a unit's own page
    expect(page.locator("h1")).to_have_text("Xã A2")
    expect(page.locator(".summary .big")).to_have_text("Chưa đủ số đánh giá")
    assert_accessible(page)

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".summary .big")).to_have_text("Too few ratings")
    page.get_by_role("link", name="Khu vực A").click()  # a parent in the breadcrumbs, staying in English
    expect(page.locator("h1")).to_have_text("Khu vực A")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert_accessible(page)

    page.emulate_media(media="print")
    expect(page.locator("form.period")).to_be_hidden()
    expect(page.locator("table.data").first).to_be_visible()
    assert elsewhere == []
    assert console.errors == []
    context.close()


def test_the_admin_withholds_a_subtree_from_the_public_page(page: Page, site: str, console: ConsoleWatcher) -> None:
    log_in(page, site, "w-admin", next="/admin/cong-khai")
    page.goto(site + "/admin/cong-khai")
    expect(page.locator("h1")).to_have_text("Công khai")
    assert_accessible(page)
    page.get_by_label("Đơn vị", exact=True).select_option("W-B")
    page.get_by_label("Thiết lập").select_option("withhold")
    page.locator("form[action='/admin/cong-khai/units'] button").click()
    expect(page.locator(".notice")).to_have_text("Đã lưu phạm vi công khai.")
    assert_accessible(page)
    page.goto(site + "/cong-khai?period=2026-10")
    assert ranked_names(page) == ["Khu vực A"]
    assert console.errors == []
    page.close()

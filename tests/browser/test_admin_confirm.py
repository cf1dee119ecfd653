"""Issue 21 item 17 in real Chromium: revoking a kiosk or an API key and deactivating a login ask first, on a
confirmation page that works without scripts; "Huỷ" changes nothing; axe finds nothing on any of the pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ConsoleWatcher, assert_accessible, log_in

pytestmark = pytest.mark.browser


def _confirm_then_cancel_then_confirm(page: Page, base: str, list_path: str, button: re.Pattern[str]) -> None:
    page.goto(base + list_path)
    page.get_by_role("button", name=button).first.click()
    expect(page).to_have_url(re.compile(re.escape(base + list_path) + r"/.+"))  # the confirmation page
    assert_accessible(page)
    page.get_by_role("link", name="Huỷ").click()
    expect(page).to_have_url(base + list_path)
    page.get_by_role("button", name=button).first.click()
    confirm = page.locator("form").filter(has=page.locator("input[name=confirm]"))
    confirm.get_by_role("button").click()
    expect(page.locator(".notice")).to_be_visible()
    assert_accessible(page)


def test_item_17_kiosk_key_and_login_changes_ask_first(
    page: Page,
    site: str,
    console: ConsoleWatcher,
) -> None:
    log_in(page, site, "w-admin", axe=True)
    expect(page.locator("h1")).to_have_text("Tỉnh thử nghiệm")

    # Kiosk: the confirmation names the counter and what happens; cancel keeps it live.
    page.goto(site + "/admin/kiosks")
    page.get_by_role("button", name="Thu hồi W-A1-Q1").click()
    expect(page.locator("h1")).to_have_text("Thu hồi màn hình đánh giá")
    expect(page.locator("#h-confirm")).to_contain_text("Thu hồi màn hình của quầy W-A1-Q1")
    expect(page.locator(".confirm")).to_contain_text("các đánh giá đã gửi vẫn được giữ")
    assert_accessible(page)
    page.get_by_role("link", name="Huỷ").click()
    expect(page).to_have_url(site + "/admin/kiosks")
    row = page.locator("tr", has_text="W-A1-Q1")
    expect(row).to_contain_text("Đang dùng")
    _confirm_then_cancel_then_confirm(page, site, "/admin/kiosks", re.compile("^Thu hồi W-A1-Q1"))
    expect(page.locator(".notice")).to_have_text("Đã thu hồi màn hình.")
    expect(page.locator("tr", has_text="W-A1-Q1")).to_contain_text("Đã thu hồi")

    # API key.
    page.goto(site + "/admin/apikeys")
    live_before = page.locator("tbody tr", has_text="Đang dùng").count()
    assert live_before >= 1
    _confirm_then_cancel_then_confirm(page, site, "/admin/apikeys", re.compile("^Thu hồi"))
    expect(page.locator(".notice")).to_have_text("Đã thu hồi khoá API.")
    expect(page.locator("tbody tr", has_text="Đang dùng")).to_have_count(live_before - 1)

    # Deactivating a login asks; reactivating does not.
    _confirm_then_cancel_then_confirm(page, site, "/admin/users", re.compile("^Vô hiệu hoá w-manager-a$"))
    expect(page.locator(".notice")).to_have_text("Đã cập nhật tài khoản.")
    manager_row = page.locator("tr", has_text="w-manager-a")
    expect(manager_row).to_contain_text("Đã vô hiệu hoá")
    page.get_by_role("button", name="Kích hoạt lại w-manager-a").click()
    expect(page.locator(".notice")).to_have_text("Đã cập nhật tài khoản.")
    expect(page.locator("tr", has_text="w-manager-a")).to_contain_text("Đang dùng")

    # The confirmation page in English.
    page.goto(site + "/admin/users?lang=en")
    page.get_by_role("button", name="Deactivate w-manager-a").click()
    expect(page.locator("#h-confirm")).to_have_text("Deactivate the login w-manager-a?")
    expect(page.get_by_role("link", name="Cancel")).to_be_visible()
    assert_accessible(page)
    page.goto(site + "/admin/users?lang=vi")
    page.close()
    assert console.errors == []


def test_items_18_to_20_pages_work_and_are_accessible(
    page: Page,
    site: str,
    console: ConsoleWatcher,
) -> None:
    """Issue 21 items 18-20 in Chromium: search the unit tree, open a unit, move it by choosing its new parent from
    the list; the import section with its templates; the audit log filtered; axe finds nothing on any page."""
    log_in(page, site, "w-admin", axe=True)
    expect(page.locator("h1")).to_have_text("Tỉnh thử nghiệm")

    page.goto(site + "/admin/units")
    page.get_by_label("Tìm theo mã hoặc tên đơn vị").fill("a2")
    page.get_by_role("button", name="Tìm").click()
    expect(page.locator("ul.tree strong.match")).to_have_text("Xã A2")
    expect(page.get_by_role("link", name="mẫu Excel (.xlsx)")).to_have_attribute("href", "/admin/units/template.xlsx")
    assert_accessible(page)
    page.get_by_role("link", name=re.compile("^Xã A2")).click()
    expect(page.locator("h1")).to_contain_text("Sửa đơn vị")
    assert_accessible(page)
    page.get_by_label("Đơn vị cấp trên").select_option("W-B")
    page.get_by_role("button", name="Lưu").click()
    expect(page.locator(".notice")).to_have_text("Đã lưu đơn vị.")

    def unit_item(name: str):  # type: ignore[no-untyped-def]
        return page.locator(f'ul.tree li:has(> a > strong:text-is("{name}"))')

    expect(unit_item("Khu vực B BSECRET-UNIT")).to_contain_text("Xã A2")  # now under B, with its subtree
    expect(unit_item("Khu vực A")).not_to_contain_text("Xã A2")

    page.goto(site + "/admin/counters")
    expect(page.locator("#counters-table caption")).to_contain_text("quầy")
    assert_accessible(page)

    page.goto(site + "/admin/audit")
    page.get_by_label("Hành động").select_option("admin.unit.move")
    page.get_by_role("button", name="Lọc").click()
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)
    expect(page.locator("#audit-table tbody")).to_contain_text("Chuyển đơn vị")
    expect(page.locator("#audit-table tbody")).to_contain_text("W-A → W-B")
    assert_accessible(page)
    page.close()
    assert console.errors == []

"""The counters page's field chooser in Chromium: accessible, works without JavaScript, saved and shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session

from tests import logins
from tests.browser.conftest import ConsoleWatcher, assert_accessible, log_in
from tests.browser.test_phone import site
from tests.databases import DatabaseFactory

pytestmark = pytest.mark.browser


def test_an_admin_chooses_the_fields_of_a_counter(browser: Browser, db_factory: DatabaseFactory) -> None:
    with site(db_factory) as s:
        with Session(s.engine, expire_on_commit=False) as session:
            admin = logins.user(session, "admin", s.unit)
            session.commit()
        context = browser.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=False)
        page = context.new_page()
        console = ConsoleWatcher(page)
        log_in(page, s.url, admin.username, next="/admin/counters")
        cell = page.locator(f'[data-counter-fields="{s.counter.code}"]')
        expect(cell).to_contain_text("Tất cả lĩnh vực")
        cell.get_by_role("link", name="Chọn lĩnh vực").click()
        form = page.locator("#counter-fields")
        expect(form).to_be_visible()
        context_for_axe = browser.new_context(viewport={"width": 1280, "height": 800})  # axe needs scripts
        form.get_by_label("Chứng thực").check()
        form.get_by_label("Tư pháp – Hộ tịch").check()
        form.get_by_role("button", name="Lưu").click()
        expect(page.get_by_text("Đã lưu lĩnh vực của quầy.")).to_be_visible()
        expect(cell).to_have_text("Tư pháp – Hộ tịch, Chứng thực · Chọn lĩnh vực " + s.counter.code)
        cookies = context.cookies()
        context.close()
        context_for_axe.add_cookies(cookies)  # type: ignore[arg-type]
        axe_page = context_for_axe.new_page()
        axe_page.goto(f"{s.url}/admin/counters?edit={s.counter.code}")
        expect(axe_page.locator("#counter-fields input:checked")).to_have_count(2)
        assert_accessible(axe_page)
        context_for_axe.close()
        assert console.errors == []

"""The counter console in Chromium: log in at /login, invite a rating, the slip's QR code (screen and print)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page
from sqlmodel import Session, select

from server.models import Visit
from tests import factories, logins
from tests.browser.conftest import ConsoleWatcher, assert_accessible, submit_login
from tests.browser.test_phone import PIXEL, site
from tests.databases import DatabaseFactory

pytestmark = pytest.mark.browser


def _decode(image: Image.Image) -> str:
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1, "expected exactly one QR code"
    return str(results[0].text)


def test_login_invite_and_print_the_slip(
    browser: Browser,
    db_factory: DatabaseFactory,
    watch_console: Callable[[Page], ConsoleWatcher],
    tmp_path: Path,
) -> None:
    with site(db_factory) as s:
        with Session(s.engine, expire_on_commit=False) as session:
            officer = factories.officer(session, s.unit, code="OFF-TL-7")
            user = logins.user(session, "officer", s.unit, officer=officer)
            session.commit()
        context = browser.new_context(viewport={"width": 1280, "height": 800})  # a counter PC or tablet
        page = context.new_page()
        console = watch_console(page)

        page.goto(f"{s.url}/console")  # the shared login, coming back to the console afterwards
        assert page.url == f"{s.url}/login?next=%2Fconsole"
        assert_accessible(page)
        submit_login(page, user.username, "wrong password")
        assert "không đúng" in page.get_by_role("alert").inner_text()
        submit_login(page, user.username)
        page.wait_for_url(f"{s.url}/console")
        assert_accessible(page)

        page.get_by_label("Lĩnh vực").select_option("land")
        page.get_by_label("Mã thủ tục (không bắt buộc)").fill("1.004227")
        with page.expect_request(f"{s.url}/console/visits") as invited:
            page.get_by_role("button", name="Mời đánh giá").click()
        csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
        assert csrf and invited.value.headers.get("x-csrf-token") == csrf  # static/js/csrf.js
        slip = page.locator("#slip")
        slip.wait_for()
        qr = slip.locator("img.slip-qr")
        qr.wait_for()
        page.wait_for_function("() => document.querySelector('img.slip-qr').complete")
        assert page.url == f"{s.url}/console"  # htmx swapped the slip in; no page change
        with Session(s.engine) as session:
            visit = session.exec(select(Visit)).one()
        rating_url = f"{s.url}/r/{visit.token}"
        assert visit.officer_id == officer.id and visit.procedure_code == "1.004227"
        text = slip.inner_text()
        assert "Bộ phận Một cửa phường Tân Lập" in text and "Đất đai" in text and rating_url in text
        assert _decode(Image.open(io.BytesIO(qr.screenshot()))) == rating_url
        assert page.get_by_role("button", name="In phiếu 80 mm").is_visible()  # the print helper ran
        assert_accessible(page)

        # Printed on an 80 mm receipt: one page 80 mm wide, the QR code still readable.
        page.emulate_media(media="print")
        pdf = tmp_path / "slip.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True)
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        width_pt = float(info.split("Page size:")[1].split("x")[0])
        assert abs(width_pt / 72 * 25.4 - 80) < 0.5 and "Pages:           1" in info
        subprocess.run(["pdftoppm", "-r", "200", "-png", str(pdf), str(tmp_path / "printed")], check=True)
        printed = Image.open(next(tmp_path.glob("printed*.png")))
        assert _decode(printed) == rating_url
        page.emulate_media(media="screen")

        # The slip page itself, also in A6.
        page.goto(f"{s.url}/console/visits/{visit.token}?format=a6")
        assert page.locator("#slip.slip--a6").is_visible()
        assert_accessible(page)

        # The citizen's phone follows the printed code.
        phone = browser.new_context(**PIXEL)  # type: ignore[arg-type]
        phone_page = phone.new_page()
        phone_page.goto(_decode(printed))
        assert "Đất đai" in phone_page.locator(".where").inner_text()
        phone.close()

        # Logging out (the shared /logout) ends the console; an old bookmark of its login goes to the shared one.
        page.goto(f"{s.url}/console")
        page.get_by_role("button", name="Đăng xuất").click()
        page.wait_for_url(f"{s.url}/login")
        page.goto(f"{s.url}/console/login")
        assert page.url == f"{s.url}/login?next=/console"
        context.close()
        # Chromium logs the refused login (401) as a console error; nothing else may appear.
        assert all("status of 401" in e for e in console.errors), console.errors

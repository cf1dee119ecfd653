"""Petitions in real Chromium: a phone rating with a comment and consent becomes a petition, the manager answers
in the inbox, the citizen sees the answer at the private link and reacts; the public form; the citizen's problem
pages; axe on every page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page
from sqlmodel import Session, select

from server.app import create_app
from server.db import make_engine
from server.models import Petition
from server.petitions import service
from tests import factories, logins
from tests.browser.conftest import ConsoleWatcher, assert_accessible, free_port, log_in, serve
from tests.conftest import make_settings
from tests.databases import DatabaseFactory
from tests.server.visits import factories as vf

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 412, "height": 915}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _unexpected(console: ConsoleWatcher) -> list[str]:
    # Chromium logs every 4xx document as a console error; none is expected here, but keep the phone tests' rule.
    return [e for e in console.errors if "the server responded with a status of 4" not in e]


def test_phone_rating_to_petition_answer_and_reaction(
    browser: Browser, db_factory: DatabaseFactory, watch_console: Callable[[Page], ConsoleWatcher]
) -> None:
    database_url = db_factory.new_url()
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        unit = factories.unit(session, code="PK-TL", name="Bộ phận Một cửa phường Tân Lập")
        counter = factories.counter(session, unit)
        manager = logins.user(session, "manager", unit, username="ql-tanlap")
        token = vf.visit(session, counter).token
        session.commit()
    port = free_port()
    app = create_app(make_settings(database_url, public_base_url=f"http://127.0.0.1:{port}"))
    with serve(app, port) as base:
        phone = browser.new_context(**PHONE)  # type: ignore[arg-type]
        citizen = phone.new_page()
        citizen_console = watch_console(citizen)
        citizen.goto(f"{base}/r/{token}")
        citizen.get_by_text("Không hài lòng", exact=True).tap()
        citizen.get_by_label("Góp ý thêm (không bắt buộc)").fill("Chờ hơn một tiếng mà không được hướng dẫn.")
        citizen.get_by_label("Số điện thoại hoặc email").fill("dan@example.vn")
        citizen.get_by_label("Tôi đồng ý", exact=False).check()
        citizen.get_by_role("button", name="Gửi đánh giá").tap()
        citizen.wait_for_url(f"{base}/r/{token}/thanks")
        assert_accessible(citizen)  # thanks, with the petition's link
        citizen.get_by_role("link", name="Theo dõi phản ánh của tôi").tap()
        citizen.wait_for_url(f"{base}/pakn/**")
        petition_url = citizen.url
        assert "Đã tiếp nhận" in citizen.locator(".facts").inner_text()
        assert "dan@example.vn" not in citizen.content()
        assert_accessible(citizen)

        desk = browser.new_context(viewport={"width": 1280, "height": 900})
        office = desk.new_page()
        office_console = watch_console(office)
        log_in(office, base, manager.username)
        office.wait_for_url(f"{base}/dashboard**")
        nav = office.get_by_role("navigation", name="Điều hướng chính")
        nav.get_by_role("link", name="Phản ánh, kiến nghị").click()
        office.wait_for_url(f"{base}/petitions")
        assert office.locator(".badge").inner_text() == "(1)"  # htmx loaded the count into the nav
        assert_accessible(office)  # the inbox
        office.get_by_role("link", name="Chờ hơn một tiếng").click()
        office.wait_for_url(f"{base}/petitions/*")
        assert_accessible(office)  # the petition
        with office.expect_navigation():
            office.get_by_role("button", name="Xem liên hệ").click()
        assert "dan@example.vn" in office.locator("#contact-title + dl").inner_text()
        office.get_by_label("Câu trả lời gửi người dân").fill("Đơn vị đã bố trí thêm người hướng dẫn tại quầy.")
        with office.expect_navigation():
            office.get_by_role("button", name="Gửi câu trả lời").click()
        assert "Đã trả lời" in office.locator(".facts").inner_text()
        assert_accessible(office)

        citizen.goto(petition_url)
        assert "Đơn vị đã bố trí thêm người hướng dẫn tại quầy." in citizen.locator(".answer").inner_text()
        assert_accessible(citizen)  # the answer and the reaction buttons
        with citizen.expect_navigation():
            citizen.get_by_role("button", name="Chưa hài lòng").tap()
        assert "Đang xem xét lại" in citizen.locator(".facts").inner_text()

        office.goto(office.url)
        office.get_by_label("Câu trả lời gửi người dân").fill("Từ tuần sau có thêm một quầy hướng dẫn.")
        with office.expect_navigation():
            office.get_by_role("button", name="Gửi câu trả lời").click()

        citizen.goto(petition_url)
        with citizen.expect_navigation():
            citizen.get_by_role("button", name="Hài lòng", exact=True).tap()
        assert "Đã kết thúc" in citizen.locator(".facts").inner_text()
        assert_accessible(citizen)
        citizen.goto(petition_url + "?lang=en")
        assert "Closed" in citizen.locator(".facts").inner_text()
        assert_accessible(citizen)

        with Session(engine) as session:
            petition = session.exec(select(Petition)).one()
            assert (petition.status, petition.reopened, petition.reaction) == ("closed", True, "satisfied")
        office.goto(f"{base}/petitions/preferences")
        assert office.get_by_label("Phản ánh quá hạn").count() == 1
        assert_accessible(office)  # the notification preferences
        assert _unexpected(citizen_console) == [] and office_console.errors == []
        phone.close()
        desk.close()
    engine.dispose()


def test_the_public_form_without_javascript(browser: Browser, db_factory: DatabaseFactory) -> None:
    database_url = db_factory.new_url()
    engine = make_engine(database_url)
    with Session(engine) as session:
        factories.unit(session, code="PK-EA", name="Phường Ea Tam")
        session.commit()
    with serve(create_app(make_settings(database_url))) as base:
        checked = browser.new_context(**PHONE)  # type: ignore[arg-type]
        page = checked.new_page()
        page.goto(f"{base}/gop-y")
        assert_accessible(page)  # axe needs JavaScript; the filing below is done without it
        page.goto(f"{base}/gop-y?lang=en")
        assert page.locator("h1").inner_text() == "Send a petition"
        assert_accessible(page)
        checked.close()

        context = browser.new_context(**PHONE, java_script_enabled=False, locale="vi-VN")  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(f"{base}/gop-y?lang=vi")
        page.get_by_label("Đơn vị").select_option("PK-EA")
        page.get_by_label("Thái độ, hành vi của cán bộ").check()
        page.get_by_label("Nội dung").fill("Cán bộ không niềm nở.")
        page.get_by_label("Số điện thoại").fill("0905 000 111")
        page.get_by_role("button", name="Gửi phản ánh").click()
        page.wait_for_url(f"{base}/pakn/**")
        assert "Đã tiếp nhận" in page.locator(".facts").inner_text()
        context.close()
        with Session(engine) as session:
            petition = session.exec(select(Petition)).one()
            assert (petition.category, petition.contact_phone, petition.source) == ("staff", "0905000111", "form")
    engine.dispose()


def test_the_citizens_problem_pages(browser: Browser, db_factory: DatabaseFactory) -> None:
    """A reaction the petition no longer waits for (409) and a form sent without its cookie (403): friendly pages."""
    database_url = db_factory.new_url()
    engine = make_engine(database_url)
    settings = make_settings(database_url)
    with Session(engine, expire_on_commit=False) as session:
        unit = factories.unit(session, code="PK-KP", name="Phường Khánh Xuân")
        petition = factories.petition(session, settings, unit, content="Chờ lâu ở quầy đất đai.")
        service.answer(session=session, settings=settings, petition=petition, text="Đã bố trí thêm quầy.", actor="x")
        session.commit()
    with serve(create_app(settings)) as base:
        context = browser.new_context(**PHONE)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(f"{base}/pakn/{petition.token}")
        with Session(engine) as session:  # meanwhile the petition is closed (e.g. from another tab)
            answered = session.get(Petition, petition.id)
            assert answered is not None
            service.react(session=session, petition=answered, reaction="satisfied")
            session.commit()
        with page.expect_navigation():
            page.get_by_role("button", name="Chưa hài lòng").tap()
        assert page.locator("h1").inner_text() == "Chưa thể ghi nhận ý kiến" and "409" in page.content()
        assert_accessible(page)

        page.goto(f"{base}/gop-y")
        context.clear_cookies()  # the nonce cookie is gone (cookies blocked, or the form was left open too long)
        page.get_by_label("Đơn vị").select_option("PK-KP")
        page.get_by_label("Khác", exact=True).check()
        page.get_by_label("Nội dung").fill("Không tìm thấy bảng niêm yết thủ tục.")
        with page.expect_navigation():
            page.get_by_role("button", name="Gửi phản ánh").click()
        assert page.locator("h1").inner_text() == "Biểu mẫu đã hết hạn" and "403" in page.content()
        assert_accessible(page)
        context.close()
        with Session(engine) as session:
            assert session.exec(select(Petition)).one().status == "closed"  # nothing else was filed
    engine.dispose()

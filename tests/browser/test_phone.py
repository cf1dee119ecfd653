"""The phone rating page in real Chromium on an emulated phone: QR codes decoded, ratings completed, axe-clean."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page
from sqlmodel import Session, select

from server.app import create_app
from server.db import make_engine
from server.models import Rating, RatingReason, Reason, Visit
from tests import factories
from tests.browser.conftest import ConsoleWatcher, assert_accessible, free_port, serve
from tests.conftest import make_settings
from tests.databases import DatabaseFactory
from tests.server.visits import factories as vf

pytestmark = pytest.mark.browser

PIXEL = {
    "viewport": {"width": 412, "height": 915},
    "device_scale_factor": 2.6,
    "is_mobile": True,
    "has_touch": True,
}


class Site:
    """A real server on a fresh database, with helpers to make data in it."""

    def __init__(self, url: str, database_url: str) -> None:
        self.url = url
        self.engine = make_engine(database_url)
        with Session(self.engine, expire_on_commit=False) as session:
            self.unit = factories.unit(session, name="Bộ phận Một cửa phường Tân Lập")
            self.counter = factories.counter(session, self.unit, code="Q-TL1")
            self.api_key = vf.api_key(session, self.unit)
            session.commit()

    def visit(self, **kwargs: object) -> str:
        with Session(self.engine, expire_on_commit=False) as session:
            token = vf.visit(session, self.counter, **kwargs).token  # type: ignore[arg-type]
            session.commit()
        return token

    def rating(self, token: str) -> Rating | None:
        with Session(self.engine) as session:
            visit = session.exec(select(Visit).where(Visit.token == token)).one()
            return session.exec(select(Rating).where(Rating.visit_id == visit.id)).first()

    def reason_codes(self, rating: Rating) -> list[str]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(Reason.code).join(RatingReason).where(RatingReason.rating_id == rating.id)  # type: ignore[arg-type]
            ).all()
            return sorted(rows)


@contextmanager
def site(db_factory: DatabaseFactory, **overrides: object) -> Iterator[Site]:
    database_url = db_factory.new_url()
    port = free_port()
    app = create_app(make_settings(database_url, public_base_url=f"http://127.0.0.1:{port}", **overrides))
    with serve(app, port) as url:
        s = Site(url, database_url)
        try:
            yield s
        finally:
            s.engine.dispose()


def _phone(browser: Browser, **options: object) -> BrowserContext:
    return browser.new_context(**PIXEL, **options)  # type: ignore[arg-type]


def _offline_only(page: Page, base: str) -> list[str]:
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith((base, "data:")) else None)
    return external


def _unexpected(console: ConsoleWatcher) -> list[str]:
    # Chromium logs every 4xx document as a console error; the refusals are the point of those pages.
    return [e for e in console.errors if "the server responded with a status of 4" not in e]


def test_rating_on_a_phone_and_every_phone_page_is_accessible(
    browser: Browser, db_factory: DatabaseFactory, watch_console: Callable[[Page], ConsoleWatcher]
) -> None:
    with site(db_factory, phone_failure_limit=3) as s:
        token = s.visit(field_code="justice")
        context = _phone(browser)
        page = context.new_page()
        console = watch_console(page)
        external = _offline_only(page, s.url)

        page.goto(f"{s.url}/r/{token}")
        assert page.locator("html").get_attribute("lang") == "vi"
        assert "Tư pháp – Hộ tịch" in page.locator(".where").inner_text()
        faces = page.locator(".face-word").all_inner_texts()
        assert faces == ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng"]
        assert page.locator(".face .face-svg").count() == 4
        reasons = page.locator("fieldset.reasons")
        assert not reasons.is_visible()  # asked only after a not-satisfied answer
        assert_accessible(page)  # the form

        page.get_by_text("Hài lòng", exact=True).tap()
        assert not reasons.is_visible()
        page.get_by_text("Không hài lòng", exact=True).tap()
        assert reasons.is_visible()
        assert_accessible(page)  # the form with its reasons
        page.get_by_label("Thời gian chờ đợi lâu").check()
        page.get_by_label("Hướng dẫn chưa rõ ràng").check()
        page.get_by_label("Góp ý thêm (không bắt buộc)").fill("Chờ hơn một tiếng, không có ghế ngồi.")
        assert not page.get_by_label("Tôi đồng ý", exact=False).is_checked()  # consent starts unticked
        page.get_by_label("Số điện thoại hoặc email").fill("0905 000 111")
        page.get_by_role("button", name="Gửi đánh giá").tap()
        assert "cần đánh dấu ô đồng ý" in page.locator(".error-summary").inner_text()  # no consent: nothing stored
        assert page.get_by_label("Thời gian chờ đợi lâu").is_checked()  # what was chosen is kept
        assert_accessible(page)  # the form with its error summary
        assert s.rating(token) is None
        page.get_by_label("Số điện thoại hoặc email").fill("")
        page.get_by_role("button", name="Gửi đánh giá").tap()
        page.wait_for_url(f"{s.url}/r/{token}/thanks")
        assert page.locator("h1").inner_text() == "Cảm ơn Ông/Bà đã đánh giá!"
        assert_accessible(page)  # thanks

        rating = s.rating(token)
        assert rating is not None and rating.level == 1 and rating.channel == "phone" and not rating.satisfied
        assert rating.comment == "Chờ hơn một tiếng, không có ghế ngồi."
        assert s.reason_codes(rating) == ["guidance", "waiting"]

        response = page.goto(f"{s.url}/r/{token}")
        assert response is not None and response.status == 409
        assert "đã được đánh giá" in page.locator("h1").inner_text()
        assert_accessible(page)  # 409

        expired = s.visit(expires_in=timedelta(seconds=-1))
        response = page.goto(f"{s.url}/r/{expired}")
        assert response is not None and response.status == 410
        assert_accessible(page)  # 410

        response = page.goto(f"{s.url}/r/NoSuchToken0")
        assert response is not None and response.status == 404
        assert_accessible(page)  # 404

        page.goto(f"{s.url}/r/NoSuchToken1")  # the third failure from this address
        response = page.goto(f"{s.url}/r/{s.visit()}")
        assert response is not None and response.status == 429
        assert page.locator("h1").inner_text() == "Quá nhiều yêu cầu"
        assert_accessible(page)  # 429

        page.get_by_role("link", name="English").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text() == "Too many requests"
        assert_accessible(page)
        context.close()
        assert _unexpected(console) == []
        assert external == []


def test_rating_without_javascript(browser: Browser, db_factory: DatabaseFactory) -> None:
    # axe-core needs JavaScript, so the pages' accessibility is checked in the test above.
    with site(db_factory) as s:
        token = s.visit()
        context = _phone(browser, java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{s.url}/r/{token}?lang=en")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_text("Neutral", exact=True).tap()
        page.get_by_label("Long wait at the counter").check()
        page.get_by_label("Phone number or email").fill("0905 111 222")
        page.get_by_label("I agree", exact=False).check()
        page.get_by_role("button", name="Send rating").tap()
        page.wait_for_url(f"{s.url}/r/{token}/thanks")
        assert page.locator("h1").inner_text() == "Thank you for your rating!"
        rating = s.rating(token)
        assert rating is not None and rating.level == 2 and rating.contact == "0905 111 222" and rating.contact_consent
        assert s.reason_codes(rating) == ["waiting"]
        # A mistake comes back as a page too (no script needed): contact without consent.
        other = s.visit()
        page.goto(f"{s.url}/r/{other}")
        page.get_by_text("Satisfied", exact=True).tap()
        page.get_by_label("Phone number or email").fill("0905 111 222")
        page.get_by_role("button", name="Send rating").tap()
        assert "tick the consent box" in page.locator(".error-summary").inner_text()
        assert page.locator("#level-3").is_checked()
        assert s.rating(other) is None
        context.close()


def _decode(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, "expected exactly one QR code"
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return str(results[0].text)


def test_qr_codes_decode_to_the_link_that_rates_the_visit(browser: Browser, db_factory: DatabaseFactory) -> None:
    with site(db_factory) as s:
        created = httpx.post(
            f"{s.url}/api/v1/visits",
            json={"counter": "Q-TL1", "field": "certification"},
            headers={"Authorization": f"Bearer {s.api_key}"},
        )
        assert created.status_code == 201
        data = created.json()
        assert data["rating_url"] == f"{s.url}/r/{data['token']}"

        png = httpx.get(s.url + data["qr_png_url"])
        assert _decode(png.content) == data["rating_url"]

        # The SVG exactly as served, rendered by Chromium, photographed and decoded.
        context = _phone(browser)
        page = context.new_page()
        response = page.goto(s.url + data["qr_svg_url"])
        assert response is not None and response.headers["content-type"].startswith("image/svg+xml")
        decoded = _decode(page.locator("svg").screenshot())
        assert decoded == data["rating_url"]

        page.goto(decoded)
        assert "Chứng thực" in page.locator(".where").inner_text()
        page.get_by_text("Rất hài lòng", exact=True).tap()
        page.get_by_role("button", name="Gửi đánh giá").tap()
        page.wait_for_url(f"{s.url}/r/{data['token']}/thanks")
        rating = s.rating(data["token"])
        assert rating is not None and rating.level == 4 and rating.satisfied
        context.close()


def _focused_id(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement ? document.activeElement.id : ''"))


@pytest.mark.parametrize("script", [True, False], ids=["with-js", "without-js"])
def test_mistakes_as_gov_uk_shows_them(
    browser: Browser, db_factory: DatabaseFactory, watch_console: Callable[[Page], ConsoleWatcher], script: bool
) -> None:
    with site(db_factory) as s:
        token = s.visit(field_code="justice")
        context = _phone(browser, java_script_enabled=script)
        page = context.new_page()
        console = watch_console(page)
        page.goto(f"{s.url}/r/{token}")
        # Which visit is being rated: date, unit, counter and field.
        where = page.locator("dl.where").inner_text()
        assert "Bộ phận Một cửa phường Tân Lập" in where and "Quầy" in where and "Tư pháp – Hộ tịch" in where
        assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", where)
        # Nothing chosen: the browser's own "required" bubble never stops the form; the server answers.
        page.get_by_label("Số điện thoại hoặc email").fill("0905 000 111")
        page.get_by_role("button", name="Gửi đánh giá").tap()
        page.wait_for_selector("#error-summary")
        assert page.title().startswith("Lỗi: ")
        assert _focused_id(page) == "error-summary"  # focus moved to the summary (autofocus, no script)
        summary = page.locator("#error-summary")
        assert summary.get_by_role("heading").inner_text() == "Có vấn đề cần sửa"
        links = summary.get_by_role("link")
        assert links.all_inner_texts() == [
            "Vui lòng chọn một mức độ hài lòng.",
            "Để lại thông tin liên hệ cần đánh dấu ô đồng ý; hoặc xoá thông tin liên hệ.",
        ]
        # A message next to each field, and the fields keep what was typed.
        assert "Vui lòng chọn một mức độ hài lòng." in page.locator("#level-error").inner_text()
        assert page.locator("#consent-error").is_visible()
        assert page.get_by_label("Số điện thoại hoặc email").input_value() == "0905 000 111"
        if script:
            assert_accessible(page)
        # Each summary item leads to its field.
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        links.nth(1).click()
        assert page.url.endswith("#consent")
        page.wait_for_function(
            "() => { const r = document.getElementById('consent-error').getBoundingClientRect();"
            " return r.top >= 0 && r.bottom <= window.innerHeight; }"
        )
        links.nth(0).click()
        assert page.url.endswith("#level-4")
        # Large custom checkboxes: the drawn box and the real input's target are at least 40 px.
        page.get_by_text("Không hài lòng", exact=True).tap()
        for box in (page.locator("#consent"), page.locator("#reason-waiting")):
            size = box.bounding_box()
            assert size is not None and size["width"] >= 40 and size["height"] >= 40
            drawn = page.evaluate(
                "(el) => { const s = getComputedStyle(el.nextElementSibling, '::before');"
                " return [parseFloat(s.width), parseFloat(s.height)]; }",
                box.element_handle(),
            )
            assert drawn[0] >= 40 and drawn[1] >= 40
        page.get_by_label("Thời gian chờ đợi lâu").check()
        assert page.locator("#reason-waiting").is_checked()
        page.get_by_label("Tôi đồng ý", exact=False).check()
        assert page.locator("#consent").is_checked()
        page.get_by_role("button", name="Gửi đánh giá").tap()
        page.wait_for_url(f"{s.url}/r/{token}/thanks")
        rating = s.rating(token)
        assert rating is not None and rating.level == 1 and rating.contact == "0905 000 111"
        assert s.reason_codes(rating) == ["waiting"]
        context.close()
        assert _unexpected(console) == []


def test_a_reasons_mistake_shows_the_reasons_even_after_a_satisfied_answer(
    browser: Browser, db_factory: DatabaseFactory
) -> None:
    # Only a doctored form can send an unknown reason; its summary link must still lead to something visible.
    with site(db_factory) as s:
        token = s.visit()
        context = _phone(browser)
        page = context.new_page()
        page.goto(f"{s.url}/r/{token}")
        page.get_by_text("Hài lòng", exact=True).tap()
        assert not page.locator("fieldset.reasons").is_visible()
        page.evaluate(
            "() => { const box = document.getElementById('reason-waiting'); box.value = 'bribes'; box.checked = true; }"
        )
        page.get_by_role("button", name="Gửi đánh giá").tap()
        page.wait_for_selector("#error-summary")
        assert page.locator("#reasons-error").is_visible()
        page.locator("#error-summary a").click()
        first = page.locator("fieldset.reasons input").first.get_attribute("id")
        assert first and page.url.endswith(f"#{first}")
        assert page.locator("fieldset.reasons").is_visible()
        assert s.rating(token) is None
        context.close()

"""The phone rating page over HTTP: the form, storing one rating per visit, and every friendly refusal."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.app import create_app
from server.config import Settings
from server.deps import get_session
from server.models import Counter, Rating, RatingReason, Reason, Visit
from tests import factories
from tests.server.visits import factories as vf


@pytest.fixture
def counter(session: Session) -> Counter:
    return factories.counter(session, factories.unit(session, name="Trung tâm Phục vụ hành chính công"))


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def _rate(client: TestClient, token: str, **fields: object) -> object:
    form = client.get(f"/r/{token}")
    assert form.status_code == 200, form.text
    data = {"csrf": _csrf(form.text), **fields}
    return client.post(f"/r/{token}", data=data, follow_redirects=False)  # type: ignore[arg-type]


def test_the_form_shows_the_scale_reasons_and_the_visit(client: TestClient, session: Session, counter: Counter) -> None:
    visit = vf.visit(session, counter, field_code="construction")
    page = client.get(f"/r/{visit.token}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<html lang="vi">' in html and "Trung tâm Phục vụ hành chính công" in html and "Xây dựng" in html
    # Four faces, most positive first, words from the scale_level table.
    assert re.findall(r'name="level" id="level-(\d)"', html) == ["4", "3", "2", "1"]
    words = ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng"]
    positions = [html.index(f'<span class="face-word">{w}</span>') for w in words]
    assert positions == sorted(positions)
    assert html.count('<svg class="face-svg"') == 4
    # Reasons from the reason table, offered for a not-satisfied answer.
    reasons = session.exec(select(Reason).where(Reason.active == True)).all()  # noqa: E712
    assert sorted(re.findall(r'name="reasons" value="([a-z_]+)"', html)) == sorted(r.code for r in reasons)
    assert "Nếu chưa hài lòng" in html
    # Consent is an unticked box; the honeypot is there, hidden.
    assert re.search(r'<input type="checkbox" id="consent" name="consent" value="1">', html)
    assert 'name="website"' in html and 'class="hp"' in html
    # Only the phone's own small stylesheet: no web fonts, no scripts.
    assert "<script" not in html and "fonts.css" not in html and "/static/css/phone.css" in html
    assert "hl_rate" in page.headers["set-cookie"] and f"Path=/r/{visit.token}" in page.headers["set-cookie"]


def test_the_form_in_english(client: TestClient, session: Session, counter: Counter) -> None:
    visit = vf.visit(session, counter)
    html = client.get(f"/r/{visit.token}?lang=en").text
    assert '<html lang="en">' in html
    assert "Very satisfied" in html and "Land" in html and "Result not returned on the promised date" in html
    assert "Send rating" in html


def test_a_satisfied_rating_is_stored_with_the_visits_details(
    client: TestClient, session: Session, counter: Counter, settings: Settings
) -> None:
    officer = factories.officer(session, session.get(factories.Unit, counter.unit_id))  # type: ignore[arg-type]
    visit = vf.visit(session, counter, field_code="tax", officer=officer)
    # Reasons sent with a satisfied answer (picked, then the citizen changed their mind) are not stored.
    response = _rate(client, visit.token, level="4", reasons=["late"], comment="  Cán bộ nhiệt tình  ")
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == f"/r/{visit.token}/thanks"  # type: ignore[attr-defined]
    rating = session.exec(select(Rating).where(Rating.visit_id == visit.id)).one()
    assert rating.channel == "phone" and rating.level == 4 and rating.satisfied is True
    assert (rating.unit_id, rating.counter_id, rating.field_id, rating.officer_id) == (
        counter.unit_id,
        counter.id,
        visit.field_id,
        officer.id,
    )
    assert rating.comment == "Cán bộ nhiệt tình" and rating.contact is None and rating.contact_consent is False
    assert rating.rated_at == rating.client_rated_at
    assert rating.local_date == factories.local_date(rating.rated_at)
    assert session.exec(select(RatingReason).where(RatingReason.rating_id == rating.id)).all() == []
    session.refresh(visit)
    assert visit.rated_at == rating.rated_at
    thanks = client.get(f"/r/{visit.token}/thanks")
    assert thanks.status_code == 200 and "Cảm ơn Ông/Bà đã đánh giá!" in thanks.text


def test_a_dissatisfied_rating_keeps_reasons_comment_and_consented_contact(
    client: TestClient, session: Session, counter: Counter
) -> None:
    visit = vf.visit(session, counter)
    response = _rate(
        client,
        visit.token,
        level="1",
        reasons=["late", "waiting"],
        comment="Chờ lâu\r\nquá",
        contact="0912 345 678",
        consent="1",
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    rating = session.exec(select(Rating).where(Rating.visit_id == visit.id)).one()
    assert rating.satisfied is False and rating.comment == "Chờ lâu\nquá"
    assert rating.contact == "0912 345 678" and rating.contact_consent is True
    codes = session.exec(
        select(Reason.code).join(RatingReason).where(RatingReason.rating_id == rating.id)  # type: ignore[arg-type]
    ).all()
    assert sorted(codes) == ["late", "waiting"]


def test_mistakes_re_show_the_form_with_what_was_typed(client: TestClient, session: Session, counter: Counter) -> None:
    visit = vf.visit(session, counter)
    cases = [
        ({"comment": "Tốt"}, "Vui lòng chọn một mức độ hài lòng."),
        ({"level": "9"}, "Vui lòng chọn một mức độ hài lòng."),
        ({"level": "2", "contact": "0912345678"}, "cần đánh dấu ô đồng ý"),
        ({"level": "2", "comment": "x" * 1001}, "dài quá 1000 ký tự"),
        ({"level": "2", "reasons": ["bribes"]}, "Lý do đã chọn không hợp lệ"),
    ]
    for fields, message in cases:
        response = _rate(client, visit.token, **fields)
        assert response.status_code == 422, fields  # type: ignore[attr-defined]
        assert message in response.text, fields  # type: ignore[attr-defined]
        assert 'role="alert"' in response.text  # type: ignore[attr-defined]
    kept = _rate(client, visit.token, level="2", contact="0912345678")
    assert 'value="0912345678"' in kept.text and 'id="level-2" value="2" data-satisfied="0" checked' in kept.text  # type: ignore[attr-defined]
    assert session.exec(select(Rating).where(Rating.visit_id == visit.id)).first() is None
    # Exactly 1000 characters is allowed.
    assert _rate(client, visit.token, level="2", comment="ệ" * 1000).status_code == 303  # type: ignore[attr-defined]


def test_a_second_rating_is_refused_with_409(client: TestClient, session: Session, counter: Counter) -> None:
    visit = vf.visit(session, counter)
    form = client.get(f"/r/{visit.token}")
    csrf = _csrf(form.text)
    assert (
        client.post(f"/r/{visit.token}", data={"csrf": csrf, "level": "3"}, follow_redirects=False).status_code == 303
    )
    again = client.post(f"/r/{visit.token}", data={"csrf": csrf, "level": "1"}, follow_redirects=False)
    assert again.status_code == 409 and "đã được đánh giá" in again.text
    reopened = client.get(f"/r/{visit.token}")
    assert reopened.status_code == 409 and "Mỗi lượt giao dịch chỉ được đánh giá một lần" in reopened.text
    assert len(session.exec(select(Rating).where(Rating.visit_id == visit.id)).all()) == 1


def test_a_visit_rated_at_the_kiosk_is_already_rated_on_the_phone(
    client: TestClient, session: Session, counter: Counter
) -> None:
    visit = vf.visit(session, counter)
    form = client.get(f"/r/{visit.token}")  # the citizen opened the link before rating at the kiosk
    kiosk = factories.rating(session, counter, level=3, channel="kiosk")
    kiosk.visit_id = visit.id  # the kiosk ingest stores the visit; it need not set visit.rated_at
    session.flush()
    assert client.get(f"/r/{visit.token}").status_code == 409
    late = client.post(f"/r/{visit.token}", data={"csrf": _csrf(form.text), "level": "4"}, follow_redirects=False)
    assert late.status_code == 409
    assert session.exec(select(Rating.channel).where(Rating.visit_id == visit.id)).all() == ["kiosk"]


def test_expired_and_unknown_links(client: TestClient, session: Session, counter: Counter) -> None:
    expired = vf.visit(session, counter, expires_in=timedelta(seconds=-1))
    gone = client.get(f"/r/{expired.token}")
    assert gone.status_code == 410 and "đã hết hạn" in gone.text and '<html lang="vi">' in gone.text
    unknown = client.get("/r/AAAAAAAAAAAA")
    assert unknown.status_code == 404 and "Không tìm thấy lượt đánh giá" in unknown.text
    assert client.get("/r/" + "x" * 300).status_code == 404
    assert client.get("/r/AAAAAAAAAAAA/thanks").status_code == 404
    assert client.get("/r/AAAAAAAAAAAA?lang=en").text.count("Rating not found") == 2  # title and heading


def test_csrf_is_required(client: TestClient, session: Session, counter: Counter) -> None:
    visit = vf.visit(session, counter)
    client.get(f"/r/{visit.token}")
    missing = client.post(f"/r/{visit.token}", data={"level": "4"})
    assert missing.status_code == 403 and f'href="/r/{visit.token}"' in missing.text
    forged = client.post(f"/r/{visit.token}", data={"level": "4", "csrf": "forged"})
    assert forged.status_code == 403
    # A token made for another visit does not fit this one.
    other = vf.visit(session, counter)
    other_csrf = _csrf(client.get(f"/r/{other.token}").text)
    assert client.post(f"/r/{visit.token}", data={"level": "4", "csrf": other_csrf}).status_code == 403
    # Without the browser's nonce cookie the form token is worthless.
    csrf = _csrf(client.get(f"/r/{visit.token}").text)
    client.cookies.clear()
    assert client.post(f"/r/{visit.token}", data={"level": "4", "csrf": csrf}).status_code == 403
    assert session.exec(select(Rating).where(Rating.visit_id == visit.id)).first() is None


def test_honeypot_and_body_limits(client: TestClient, session: Session, counter: Counter) -> None:
    visit = vf.visit(session, counter)
    robot = _rate(client, visit.token, level="4", website="http://spam.example")
    assert robot.status_code == 400  # type: ignore[attr-defined]
    csrf = _csrf(client.get(f"/r/{visit.token}").text)
    huge = client.post(f"/r/{visit.token}", data={"csrf": csrf, "level": "4", "comment": "x" * 17_000})
    assert huge.status_code == 413 and "quá dài" in huge.text
    # Without a Content-Length (chunked), the body is still cut off at the limit.
    chunks = iter([b"csrf=" + csrf.encode() + b"&level=4&comment=", *([b"y" * 4096] * 5)])
    chunked = client.post(
        f"/r/{visit.token}", content=chunks, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert chunked.status_code == 413
    assert client.post(f"/r/{visit.token}", json={"level": 4}).status_code == 400
    assert session.exec(select(Rating).where(Rating.visit_id == visit.id)).first() is None


def _client_from(app: FastAPI, session: Session, host: str) -> TestClient:
    return TestClient(app, client=(host, 50000))


@pytest.fixture
def strict_app(settings: Settings, session: Session) -> Iterator[FastAPI]:
    """The app with a low failure limit, bound to the test's session."""
    application = create_app(settings.model_copy(update={"phone_failure_limit": 5}))

    def _session() -> Iterator[Session]:
        yield session
        session.flush()

    application.dependency_overrides[get_session] = _session
    yield application


def test_guessing_tokens_is_stopped_without_blocking_other_addresses(
    strict_app: FastAPI, session: Session, counter: Counter
) -> None:
    visits = [vf.visit(session, counter) for _ in range(3)]
    with (
        _client_from(strict_app, session, "203.0.113.7") as guesser,
        _client_from(strict_app, session, "198.51.100.20") as citizen,
    ):
        # Honest successes never count: many ratings from one address (a centre's Wi-Fi) go through.
        for visit in visits[:2]:
            assert _rate(citizen, visit.token, level="4").status_code == 303  # type: ignore[attr-defined]
        for _ in range(5):
            assert guesser.get(f"/r/{uuid.uuid4().hex[:12]}").status_code == 404
        blocked = guesser.get(f"/r/{visits[2].token}")  # even a valid token: no oracle for guessers
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert "Quá nhiều yêu cầu" in blocked.text
        assert guesser.get(f"/api/v1/visits/{visits[2].token}/qr.png").status_code == 429
        assert guesser.post(f"/r/{visits[2].token}", data={"level": "4"}).status_code == 429
        # Another address is unaffected.
        assert _rate(citizen, visits[2].token, level="3").status_code == 303  # type: ignore[attr-defined]
    assert session.exec(select(Visit).where(Visit.rated_at.is_not(None))).all()  # type: ignore[union-attr]


def test_unknown_qr_tokens_count_as_failures(strict_app: FastAPI, session: Session) -> None:
    with (
        _client_from(strict_app, session, "2001:db8:1:2::1") as first,
        _client_from(strict_app, session, "2001:db8:1:2::99") as same_subnet,
    ):
        for _ in range(5):
            assert first.get(f"/api/v1/visits/{uuid.uuid4().hex[:12]}/qr.svg").status_code == 404
        # IPv6 addresses are counted per /64: hopping within one's own subnet does not help.
        refused = same_subnet.get("/r/AAAAAAAAAAAA")
        assert refused.status_code == 429


def test_the_first_load_stays_within_60_kb(client: TestClient, session: Session, counter: Counter) -> None:
    visit = vf.visit(session, counter)
    page = client.get(f"/r/{visit.token}")
    assets = re.findall(r'<(?:link|script|img)\b[^>]*(?:href|src)="(/[^"]+)"', page.text)  # links are not loaded
    assert assets == ["/static/css/phone.css"]  # no scripts, no web fonts, no images to fetch
    total = len(page.content) + sum(len(client.get(a).content) for a in assets)
    assert total <= 60 * 1024


def test_the_form_says_which_visit_it_rates(client: TestClient, session: Session, counter: Counter) -> None:
    counter.name = "Quầy số 3 – Đất đai"
    visit = vf.visit(session, counter, field_code="construction")
    visit.created_at = datetime(2026, 12, 4, 1, 30, tzinfo=UTC)  # 08:30 in Hà Nội
    session.flush()
    html = client.get(f"/r/{visit.token}").text
    where = html[html.index('<dl class="where">') : html.index("</dl>")]
    assert "<dt>Thời gian</dt><dd>04/12/2026 08:30</dd>" in where
    assert "<dt>Đơn vị</dt><dd>Trung tâm Phục vụ hành chính công</dd>" in where
    assert "<dt>Quầy</dt><dd>Quầy số 3 – Đất đai</dd>" in where
    assert "<dt>Lĩnh vực</dt><dd><strong>Xây dựng</strong></dd>" in where
    english = client.get(f"/r/{visit.token}?lang=en").text
    assert "<dt>Time</dt><dd>4 Dec 2026 08:30</dd>" in english and "<dt>Counter</dt>" in english


def test_no_browser_required_bubble_and_large_checkboxes(
    client: TestClient, session: Session, counter: Counter
) -> None:
    html = client.get(f"/r/{vf.visit(session, counter).token}").text
    assert " required" not in html and '<form class="rate" method="post"' in html and " novalidate>" in html
    # Every reason and the consent box is an input with its own label (drawn as a 40 px box by phone.css).
    reasons = re.findall(r'<input type="checkbox" id="reason-([a-z_]+)" name="reasons"', html)
    assert reasons and all(f'<label for="reason-{code}">' in html for code in reasons)
    assert '<label for="consent">' in html
    css = client.get("/static/css/phone.css").text
    box = re.search(r"\.check label::before \{[^}]*\}", css)
    assert box and "width: 40px" in box.group(0) and "height: 40px" in box.group(0)


def test_mistakes_get_a_focused_summary_linking_to_each_field(
    client: TestClient, session: Session, counter: Counter
) -> None:
    visit = vf.visit(session, counter)
    response = _rate(client, visit.token, reasons=["bribes"], comment="x" * 1001, contact="0912345678")
    assert response.status_code == 422  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert "<title>Lỗi: " in html
    summary = html[html.index('<div class="error-summary"') : html.index("</div>", html.index('class="error-summary"'))]
    assert 'tabindex="-1" autofocus' in summary and 'role="alert"' in summary
    first_reason = re.findall(r'id="reason-([a-z_]+)"', html)[0]
    links = re.findall(r'<li><a href="#([a-z0-9_-]+)">([^<]+)</a></li>', summary)
    assert [target for target, _ in links] == ["level-4", f"reason-{first_reason}", "comment", "consent"]
    # Each link's target exists, and its message is repeated next to the field, tied to it for screen readers.
    for target, message in links:
        assert f'id="{target}"' in html
        assert html.count(message) == 2, message
    for name in ("level", "reasons", "comment", "consent"):
        assert f'<p class="field-error" id="{name}-error">' in html
    assert 'aria-describedby="comment-hint comment-error" aria-invalid="true"' in html
    assert 'id="consent" name="consent" value="1" aria-describedby="consent-error" aria-invalid="true"' in html
    assert 'aria-invalid="true"' not in html[html.index('id="contact"') - 40 : html.index('id="contact"') + 300]
    english = _rate(client, visit.token, comment="Tốt")
    assert "There is a problem" not in english.text  # type: ignore[attr-defined]
    client.cookies.set("lang", "en")
    english = _rate(client, visit.token, comment="Tốt")
    text = english.text  # type: ignore[attr-defined]
    assert "<title>Error: " in text and "There is a problem" in text
    assert '<a href="#level-4">Please choose how satisfied you are.</a>' in text

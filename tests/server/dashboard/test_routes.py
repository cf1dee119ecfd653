"""The dashboard as a manager sees it: figures from the indices engine, Vietnamese formats, scoping, comments."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.config import Settings
from server.indices.periods import parse_period
from server.indices.service import compute_indices
from server.models import AuditLog, ProcedureField, Rating
from server.petitions import service as petitions
from tests import logins
from tests.server.dashboard.world import B_MARKER, World, build_world

HTML = {"accept": "text/html"}
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def page(client: TestClient, url: str, status: int = 200) -> BeautifulSoup:
    response = client.get(url, headers=HTML)
    assert response.status_code == status, response.text[:2000]
    return BeautifulSoup(response.text, "html.parser")


def text(node: object) -> str:
    return " ".join(node.get_text(" ").split())  # type: ignore[attr-defined]


def test_headline_cards_and_fields_come_from_compute_indices(
    client: TestClient, session: Session, world: World
) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?period=2026-10")
    expected = compute_indices(
        session=session, unit=world.a, period=parse_period("2026-10"), by="field", min_sample=30, tz=HCM
    )
    assert soup.h1 and text(soup.h1) == "Khu vực A"
    headline = text(soup.select_one("[aria-labelledby=h-headline]"))
    overall = expected.overall
    assert overall.n == 47 and overall.satisfied == 38 and overall.misuse == 1
    percent = f"{overall.rate * 100:.1f}".replace(".", ",") + "%"
    assert percent in headline
    assert f"{overall.ci_low * 100:.1f}".replace(".", ",") + "%" in headline  # type: ignore[operator]
    assert "Chỉ tiêu năm 2026: ≥ 90%" in headline
    assert "Chưa đạt chỉ tiêu" in headline  # 80.9 % < 90 %
    assert "38 trên 47 lượt đánh giá là hài lòng" in headline
    cards = [text(c) for c in soup.select(".group-card")]
    assert [c.split(" ")[0] for c in cards] == ["Tất", "Đất", "Y"]  # all, lci, health_education
    assert "mục tiêu 2030" in cards[0]
    # The fields table is ordered by rate, weakest first; rows with too few ratings come after.
    rows = soup.select("#fields-table tbody tr")
    labels = [text(r.th) for r in rows]
    by_code = {r.key: r for r in expected.rows}
    land, justice = by_code["land"], by_code["justice"]
    assert labels[0] == "Đất đai" and land.rate is not None and justice.rate is not None
    assert land.rate < justice.rate and labels[1] == "Tư pháp – Hộ tịch"
    assert f"{land.rate * 100:.1f}".replace(".", ",") + "%" in text(rows[0])
    assert rows[0].a and rows[0].a["href"] == "/dashboard/fields/land?unit=W-A&period=2026-10"


def test_children_are_ranked_and_small_ones_shown_apart(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?period=2026-10")
    ranked = [text(r.th) for r in soup.select("#units-ranked tbody tr")]
    few = [text(r.th) for r in soup.select("#units-few tbody tr")]
    assert ranked == ["Xã A1"]
    assert few == ["Xã A2"]
    assert "Chưa đủ số đánh giá" in text(soup.select_one("#units-few"))
    assert "Chưa đủ 30 lượt đánh giá: không xếp hạng" in text(soup.select_one("#units-few caption"))


def test_trend_chart_has_a_table_alternative_and_twelve_months(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?period=2026-10")
    figure = soup.select_one("figure.trend")
    assert figure is not None
    svg = figure.select_one("svg[role=img]")
    assert svg is not None and svg["aria-labelledby"] == "trend-caption"
    months = [text(r.th) for r in figure.select("tbody tr")]
    assert months[0] == "Tháng 11/2025" and months[-1] == "Tháng 10/2026" and len(months) == 12
    assert figure.select("line[stroke-dasharray]")  # the target line


def test_period_picker_quarter_and_year(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?period=2026-Q4")
    assert "Quý 4/2026" in text(soup.select_one(".page-head"))
    selected = soup.select_one("#period option[selected]")
    assert selected is not None and selected["value"] == "2026-Q4"
    assert "38 trên 47" in text(soup)  # October is in Q4
    assert "38 trên 47" in text(page(client, "/dashboard?period=2026"))
    assert "0 trên 0" in text(page(client, "/dashboard?period=2026-09"))


def test_english_toggle_formats_numbers_and_periods(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?period=2026-10&lang=en")
    assert soup.html and soup.html["lang"] == "en"
    head = text(soup.select_one("[aria-labelledby=h-headline]"))
    assert "80.9%" in head and "Target for 2026: ≥ 90%" in head and "Not met" in head
    assert "October 2026" in text(soup.select_one(".page-head"))


def test_htmx_gets_the_partial(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    response = client.get("/dashboard?period=2026-10", headers={"HX-Request": "true", **HTML})
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="h-headline"' in response.text


def test_a_child_unit_has_its_own_dashboard(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?unit=W-A1&period=2026-10")
    assert text(soup.h1) == "Xã A1"
    crumbs = [text(li) for li in soup.select(".breadcrumbs li")]
    assert crumbs == ["Khu vực A", "Xã A1"]  # the manager's scope starts at A, not at the root


def test_field_drilldown_by_unit_and_month(client: TestClient, session: Session, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard/fields/land?unit=W-A&period=2026-10")
    assert "Đất đai" in text(soup.h1)
    a1_land = next(
        r
        for r in compute_indices(
            session=session, unit=world.a1, period=parse_period("2026-10"), by="field", min_sample=30, tz=HCM
        ).rows
        if r.key == "land"
    )
    unit_rows = soup.select("#field-units tbody tr")
    assert text(unit_rows[0].th) == "Xã A1"
    assert f"{a1_land.rate * 100:.1f}".replace(".", ",") + "%" in text(unit_rows[0])  # type: ignore[operator]
    months = [text(r) for r in soup.select("figure.trend tbody tr")]
    assert len(months) == 12 and months[-1].startswith("Tháng 10/2026")
    assert page(client, "/dashboard/fields/nope?unit=W-A", status=404)


def test_comments_are_escaped_and_never_show_a_contact(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    response = client.get("/dashboard?period=2026-10", headers=HTML)
    assert "<script>alert('xss')</script>" not in response.text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    comments = text(soup.select_one("#comment-results"))
    # A contact given with consent is only mentioned (the petition's page shows it, audited), never printed.
    assert "0912 345 678" not in response.text
    assert "Người dân để lại liên hệ (không hiển thị ở đây)." in comments
    assert "NO-CONSENT" not in response.text
    assert B_MARKER not in response.text


@pytest.mark.parametrize("url", ["/dashboard", "/dashboard/comments", "/dashboard/fields/land"])
def test_a_comment_that_became_a_petition_links_to_it_without_the_contact(
    client: TestClient, session: Session, settings: Settings, world: World, url: str
) -> None:
    """Issue 15, finding 1: the comment lists printed the citizen's contact with no audit row."""
    rating_id = session.exec(select(Rating.id).where(Rating.contact == "0912 345 678")).one()
    petition = petitions.petition_from_rating(session=session, settings=settings, rating_id=rating_id)
    assert petition is not None and petition.contact_phone == "0912345678"
    logins.login(client, world.manager_a)
    audited = len(session.exec(select(AuditLog)).all())
    response = client.get(f"{url}?unit=W-A&period=2026-10", headers=HTML)
    assert response.status_code == 200
    assert "0912 345 678" not in response.text and "0912345678" not in response.text
    comments = BeautifulSoup(response.text, "html.parser").select_one("#comment-results")
    assert comments is not None
    links = [a["href"] for a in comments.select("a[href]")]
    assert links == [f"/petitions/{petition.id}"]
    assert "Người dân để lại liên hệ (không hiển thị ở đây)." not in text(comments)
    assert len(session.exec(select(AuditLog)).all()) == audited  # nothing personal shown, nothing to audit


def test_comment_filters(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    only_justice = text(page(client, "/dashboard/comments?unit=W-A&period=2026-10&field=justice"))
    assert "Hướng dẫn chưa rõ" in only_justice and "Chờ quá lâu" not in only_justice
    only_a2 = text(page(client, "/dashboard/comments?unit=W-A&period=2026-10&within=W-A2"))
    assert "Không có ý kiến nào" in only_a2
    assert client.get("/dashboard/comments?unit=W-A&within=W-B1", headers=HTML).status_code == 403
    partial = client.get("/dashboard/comments?unit=W-A&period=2026-10", headers={"HX-Request": "true", **HTML})
    assert 'id="comment-results"' in partial.text and "<html" not in partial.text


def test_xss_in_unit_and_field_names_is_escaped(client: TestClient, session: Session, world: World) -> None:
    world.a1.name = '<img src=x onerror="alert(1)">'
    land = session.exec(select(ProcedureField).where(ProcedureField.code == "land")).one()
    land.name_vi = "<script>alert('field')</script>"
    session.flush()
    logins.login(client, world.manager_a)
    for url in ("/dashboard?period=2026-10", "/dashboard/fields/land?unit=W-A&period=2026-10"):
        body = client.get(url, headers=HTML).text
        assert '<img src=x onerror="alert(1)">' not in body and "<script>alert('field')</script>" not in body
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in body or "&lt;img src=x" in body
        assert "&lt;script&gt;alert(" in body


def test_kiosk_status_shows_only_the_subtree(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?period=2026-10")
    kiosks = text(soup.select_one("[aria-labelledby=h-kiosks]"))
    assert "W-A1-Q1" in kiosks and "W-B1-Q1" not in kiosks
    assert "Đang hoạt động" in kiosks


def test_scope_and_bad_input(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    assert client.get("/dashboard?unit=W-B", headers=HTML).status_code == 403
    assert client.get("/dashboard?unit=W-ROOT", headers=HTML).status_code == 403
    assert client.get("/dashboard?unit=NOPE", headers=HTML).status_code == 404
    bad = client.get("/dashboard?period=2026-13", headers=HTML)
    assert bad.status_code == 422 and "2026-13" in bad.text
    assert client.get("/dashboard?period=2026-01-01..2026-01-05", headers=HTML).status_code == 422


def test_admin_sees_every_unit(client: TestClient, world: World) -> None:
    logins.login(client, world.admin)
    soup = page(client, "/dashboard?unit=W-ROOT&period=2026-10")
    assert text(soup.h1) == "Tỉnh thử nghiệm"
    assert B_MARKER in text(soup)


def test_officer_sees_own_figures_only(client: TestClient, session: Session, world: World) -> None:
    logins.login(client, world.officer_user)
    soup = page(client, "/dashboard/me?period=2026-10")
    rows = compute_indices(
        session=session, unit=world.a1, period=parse_period("2026-10"), by="officer", min_sample=30, tz=HCM
    ).rows
    mine = next(r for r in rows if r.key == "W-A1-CB1")
    assert f"{mine.satisfied} trên {mine.n} lượt" in text(soup)
    assert "Chờ quá lâu" not in text(soup)  # officers never see comments
    for url in ("/dashboard", "/dashboard/comments", "/dashboard/fields/land", "/exports/monthly.csv?month=2026-10"):
        assert client.get(url, headers=HTML).status_code == 403, url
    assert re.search(r"Kết quả của tôi", text(soup))


def test_error_pages_speak_the_page_language(client: TestClient, world: World) -> None:
    """The services' English messages read in Vietnamese on a Vietnamese page (server/messages.py)."""
    logins.login(client, world.manager_a)

    def message(url: str) -> str:
        soup = BeautifulSoup(client.get(url, headers=HTML).text, "html.parser")
        return text(soup.select_one(".error-message"))

    assert message("/dashboard?unit=W-B") == "Đơn vị 'W-B' nằm ngoài các đơn vị bạn được xem"
    assert message("/dashboard?unit=W-B&lang=en") == "unit 'W-B' is outside the units you may see"
    assert message("/dashboard?unit=NOPE&lang=vi") == "Không có đơn vị 'NOPE'"
    assert message("/dashboard?period=2026-13&lang=vi").startswith("Kỳ '2026-13' không hợp lệ: hãy dùng YYYY-MM")


def test_thin_samples_never_look_like_results(client: TestClient, world: World) -> None:
    # Xã A2 has 5 ratings in October (4 satisfied): "80,0 %" is shown, but small, grey and called too few.
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?unit=W-A2&period=2026-10")
    headline = soup.select_one("[aria-labelledby=h-headline] .big-rate")
    assert headline is not None and "big-rate--few" in headline["class"]
    assert text(headline) == "80,0% chưa đủ số đánh giá"
    assert headline.select_one(".rate-few") is not None
    # No figure of the page is shown at full weight: every big rate is a thin one here.
    assert all("big-rate--few" in p["class"] for p in soup.select(".big-rate"))
    # In tables too: the thin rate is marked, a ranked one (A1 on A's page) is not.
    parent = page(client, "/dashboard?unit=W-A&period=2026-10")
    few_cell = parent.select_one("#units-few tbody tr td")
    assert few_cell is not None and few_cell.select_one(".rate-few") is not None
    ranked_cell = parent.select_one("#units-ranked tbody tr td[data-label='Tỷ lệ hài lòng']")
    assert ranked_cell is not None and ranked_cell.select_one(".rate-few") is None
    big = parent.select_one("[aria-labelledby=h-headline] .big-rate")
    assert big is not None and big["class"] == ["big-rate"]  # 47 ratings: a real figure, at full weight
    english = client.get("/dashboard?unit=W-A2&period=2026-10&lang=en", headers=HTML).text
    assert "not enough ratings yet" in english


def test_tables_name_each_cell_for_the_phone_layout(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard?period=2026-10")
    tables = soup.select("table.data")
    assert len(tables) >= 4 and all("reflow" in t["class"] for t in tables)
    for table in tables:
        for row in table.select("tbody tr"):
            assert all(
                td.get("data-label") is not None for td in row.select("td") if "bar-cell" not in td.get("class", [])
            )
    statuses = soup.select("#fields-table tbody td[data-label='Trạng thái'] .status")
    assert len(statuses) == len(soup.select("#fields-table tbody tr"))


def test_the_dashboard_opens_on_the_last_complete_month_and_exports_it(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    this_month = datetime.now(HCM).date().replace(day=1)
    last = (this_month - timedelta(days=1)).strftime("%Y-%m")
    soup = page(client, "/dashboard")
    selected = soup.select_one("#period option[selected]")
    assert selected is not None and selected["value"] == last
    exports = [a["href"] for a in soup.select(".exports a")]
    assert len(exports) == 3 and all(href.endswith(f"unit=W-A&period={last}") for href in exports)
    field = page(client, "/dashboard/fields/land?unit=W-A")
    chosen = field.select_one("#period option[selected]")
    assert chosen is not None and chosen["value"] == last


def test_a_field_drill_down_shows_that_fields_reasons_and_comments(client: TestClient, world: World) -> None:
    logins.login(client, world.manager_a)
    soup = page(client, "/dashboard/fields/land?unit=W-A&period=2026-10")
    reasons = {
        text(tr.th): text(tr.select_one("td.num")) for tr in soup.select("[aria-labelledby=h-field-reasons] tbody tr")
    }
    # Land in A: A1's four level-2 and two level-1 ratings chose "late"; A2's justice rating (also "late") is not here.
    assert reasons["Trả kết quả trễ hẹn"] == "6"
    overview = page(client, "/dashboard?unit=W-A&period=2026-10")
    all_reasons = {
        text(tr.th): text(tr.select_one("td.num")) for tr in overview.select("[aria-labelledby=h-reasons] tbody tr")
    }
    assert all_reasons["Trả kết quả trễ hẹn"] == "7"
    comments = text(soup.select_one("#comment-results"))
    assert "Chờ quá lâu" in comments and "Hướng dẫn chưa rõ" not in comments  # the justice comment is elsewhere
    assert "0912 345 678" not in comments and "liên hệ" in comments  # a contact is mentioned, never shown
    assert B_MARKER not in soup.decode()
    field_select = soup.select_one("#comment-field option[selected]")
    assert field_select is not None and field_select["value"] == "land"  # the filter starts on this field

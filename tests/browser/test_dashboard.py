"""The dashboard, exports and admin pages in real Chromium: flows work with htmx, no CSP errors, axe finds nothing."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ConsoleWatcher, assert_accessible, log_in

pytestmark = pytest.mark.browser


def test_manager_flow_with_exports(
    browser: Browser, site: str, watch_console: Callable[[Page], ConsoleWatcher]
) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    console = watch_console(page)
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(site) else None)

    log_in(page, site, "w-manager-a", axe=True)
    expect(page.locator("h1")).to_have_text("Khu vực A")
    assert_accessible(page)

    # Change the month: htmx swaps the page body and updates the address.
    page.get_by_label("Kỳ báo cáo").select_option("2026-10")
    page.get_by_role("button", name="Xem").click()
    expect(page.locator(".page-head .muted")).to_contain_text("Tháng 10/2026")
    expect(page).to_have_url(f"{site}/dashboard?unit=W-A&period=2026-10")
    expect(page.locator("[aria-labelledby=h-headline]")).to_contain_text("38 trên 47 lượt đánh giá là hài lòng")
    assert_accessible(page)

    # Filter the comments (htmx partial).
    page.get_by_label("Lĩnh vực", exact=True).select_option("justice")
    page.get_by_role("button", name="Lọc").click()
    expect(page.locator("#comment-results")).not_to_contain_text("Chờ quá lâu")
    expect(page.locator("#comment-results")).to_contain_text("Hướng dẫn chưa rõ")

    # Download each export.
    downloads = {}
    for name, suffix in (("CSV cho máy", "csv"), ("Excel (XLSX)", "xlsx"), ("PDF để in", "pdf")):
        with page.expect_download() as info:
            page.get_by_role("link", name=name).click()
        download = info.value
        language = "" if suffix == "csv" else "_vi"  # reports for people say their language
        assert download.suggested_filename == f"hai-long_W-A_2026-10{language}.{suffix}"
        path = download.path()
        assert path is not None
        downloads[suffix] = path.read_bytes()
    rows = list(csv.DictReader(io.StringIO(downloads["csv"].decode("utf-8-sig"))))
    assert {r["field_code"]: r["n"] for r in rows}["land"] == "27"
    assert openpyxl.load_workbook(io.BytesIO(downloads["xlsx"])).sheetnames[0] == "Báo cáo"
    assert downloads["pdf"].startswith(b"%PDF")

    # Open a field, then a child unit.
    page.locator("#fields-table").get_by_role("link", name="Đất đai").click()
    expect(page.locator("h1")).to_contain_text("Đất đai")
    expect(page.locator("#field-units")).to_contain_text("Xã A1")
    assert_accessible(page)
    page.get_by_role("link", name="Về trang tổng quan").click()
    page.locator("#units-ranked").get_by_role("link", name="Xã A1").click()
    expect(page.locator("h1")).to_have_text("Xã A1")
    assert_accessible(page)

    # The comments page without htmx, and the English dashboard.
    page.goto(site + "/dashboard/comments?unit=W-A&period=2026-10")
    assert_accessible(page)
    page.goto(site + "/dashboard?period=2026-10")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[aria-labelledby=h-headline]")).to_contain_text("38 of 47 ratings satisfied")
    assert_accessible(page)

    # Log out: the page goes back to the login form.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{site}/login")
    context.close()
    assert console.errors == [], console.errors
    assert external == []


def test_admin_and_officer_pages_are_accessible(
    browser: Browser, site: str, watch_console: Callable[[Page], ConsoleWatcher]
) -> None:
    page = browser.new_page()
    console = watch_console(page)
    log_in(page, site, "w-admin", axe=True)
    expect(page.locator("h1")).to_have_text("Tỉnh thử nghiệm")
    page.goto(site + "/dashboard?period=2026-10")
    assert_accessible(page)
    for path in (
        "",
        "/units",
        "/counters",
        "/fields",
        "/targets",
        "/officers",
        "/users",
        "/kiosks",
        "/apikeys",
        "/audit",
    ):
        page.goto(f"{site}/admin{path}")
        assert_accessible(page)
    # A rejected form is shown again with its error, accessibly.
    page.goto(site + "/admin/units")
    page.get_by_label("Mã", exact=True).fill("W-A")
    page.get_by_label("Tên", exact=True).fill("Trùng mã")
    page.get_by_role("button", name="Thêm").click()
    expect(page.locator("#form-error")).to_contain_text("Đơn vị 'W-A' đã có")
    assert_accessible(page)
    # Issue a pairing code: shown once.
    page.goto(site + "/admin/kiosks")
    page.get_by_role("button", name="Cấp mã").click()
    expect(page.locator("#pairing-code")).to_be_visible()
    assert re.fullmatch(
        r"[A-Z0-9]{4}-[A-Z0-9]{4}", page.locator("#pairing-code").inner_text().strip()
    )  # as typed on a kiosk
    assert_accessible(page)
    page.close()

    officer = browser.new_page()
    watcher = watch_console(officer)
    log_in(officer, site, "w-officer", axe=True)
    expect(officer.locator("h1")).to_have_text("Kết quả của tôi")
    officer.get_by_label("Kỳ báo cáo").select_option("2026-10")
    officer.get_by_role("button", name="Xem").click()
    expect(officer.locator(".big-rate")).to_be_visible()
    assert_accessible(officer)
    officer.close()
    # The one console line is Chromium reporting the intended 422 of the rejected form; nothing else (no CSP errors).
    assert console.errors == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
    assert watcher.errors == []


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}

# Every cell of a reflowed table row lies within the page's width, and nothing on the page scrolls sideways.
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width) out.push('page ' + document.documentElement.scrollWidth);
  for (const wrap of document.querySelectorAll('.table-wrap')) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      const where = wrap.firstElementChild.id || wrap.closest('section').getAttribute('aria-labelledby');
      out.push('table in ' + where + ': ' + wrap.scrollWidth + ' > ' + wrap.clientWidth);
    }
  }
  for (const cell of document.querySelectorAll('table.data tbody td, table.data tbody th')) {
    const r = cell.getBoundingClientRect();
    if (r.width > 0 && (r.left < -1 || r.right > width + 1)) out.push(cell.textContent.trim().slice(0, 30));
  }
  return out;
}"""


def test_dashboard_tables_keep_the_status_in_sight_on_a_phone(
    browser: Browser, site: str, watch_console: Callable[[Page], ConsoleWatcher]
) -> None:
    context = browser.new_context(**PHONE)  # type: ignore[arg-type]
    page = context.new_page()
    console = watch_console(page)
    log_in(page, site, "w-manager-a", axe=True)
    for path in ("/dashboard?period=2026-10", "/dashboard/fields/land?unit=W-A&period=2026-10"):
        page.goto(site + path)
        assert page.evaluate(_OVERFLOW) == [], path
        # Each row of the units and fields tables shows its status, with its column's name, on screen.
        for table in ("#fields-table", "#units-ranked", "#units-few", "#field-units"):
            rows = page.locator(f"{table} tbody tr")
            for i in range(rows.count()):
                status = rows.nth(i).locator("td[data-label] .status")
                expect(status).to_be_visible()
                box = status.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (table, i)
                label = (
                    rows.nth(i).locator("td:has(.status)").evaluate("(td) => getComputedStyle(td, '::before').content")
                )
                assert label == '"Trạng thái"', (table, i, label)
        assert_accessible(page)
    context.close()
    assert console.errors == []


# The rendered size of the chart's axis text: its font size in SVG units times the SVG's scale on screen.
_AXIS_PX = """() => [...document.querySelectorAll('.chart text.axis')]
  .filter((t) => getComputedStyle(t).display !== 'none')
  .map((t) => parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a)"""


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 768, "height": 1024}, {"width": 390, "height": 844}]
)
def test_trend_chart_text_is_readable_and_spans_the_card(browser: Browser, site: str, viewport: dict[str, int]) -> None:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    log_in(page, site, "w-manager-a", axe=True)
    page.goto(site + "/dashboard?period=2026-10")
    sizes = page.evaluate(_AXIS_PX)
    assert len(sizes) >= 4 and min(sizes) >= 14, sizes
    card = page.locator("[aria-labelledby=h-trend]")
    chart = card.locator("svg.chart")
    card_box, chart_box = card.bounding_box(), chart.bounding_box()
    assert card_box is not None and chart_box is not None
    padding = page.evaluate(
        "(el) => parseFloat(getComputedStyle(el).paddingLeft) + parseFloat(getComputedStyle(el).paddingRight)",
        card.element_handle(),
    )
    assert abs(chart_box["width"] - (card_box["width"] - padding - 2)) <= 2  # the card's full inner width
    # October 2026 is below its 90 % target: marked with its own shape, named in the legend.
    assert chart.locator("path.below").count() == 1
    expect(card.locator(".legend")).to_contain_text("Dưới chỉ tiêu")
    # Month names do not overlap.
    boxes = page.evaluate(
        "() => [...document.querySelectorAll('.chart text.month')]"
        ".filter((t) => getComputedStyle(t).display !== 'none')"
        ".map((t) => { const r = t.getBoundingClientRect(); return [r.left, r.right]; })"
    )
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(boxes)), boxes
    context.close()

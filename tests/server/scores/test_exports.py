"""The QĐ 766 score in the monthly CSV, XLSX and PDF: the same numbers as `GET /api/v1/scores/766`."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import openpyxl
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.auth.service import create_api_key
from server.models import Unit


def test_the_exports_carry_the_apis_numbers(
    client: TestClient,
    session: Session,
    province: dict[str, Unit],
    tmp_path: Path,
) -> None:
    read = {"Authorization": f"Bearer {create_api_key(session=session, kind='read', unit=province['root'])[1]}"}
    api = client.get("/api/v1/scores/766?period=2026-10&unit=DLK", headers=read).json()
    assert api["total"] == 5.24

    raw = client.get("/exports/monthly.csv?month=2026-10&unit=DLK", headers=read)
    assert raw.status_code == 200, raw.text
    rows = list(csv.DictReader(io.StringIO(raw.content.decode("utf-8-sig"), newline="")))
    assert rows, "one line per field"
    for row in rows:
        assert (row["score_766_total"], row["score_766_max"]) == ("5.24", "18")
        for metric in api["metrics"]:
            prefix = f"score_766_{metric['code'].lower()}"
            assert int(row[f"{prefix}_numerator"]) == metric["numerator"]
            assert int(row[f"{prefix}_denominator"]) == metric["denominator"]
            assert (row[f"{prefix}_ratio"] or None) == (None if metric["ratio"] is None else f"{metric['ratio']:.4f}")
            if metric["score"] is not None:
                assert float(row[f"{prefix}_score"]) == metric["score"]
            else:
                assert f"{prefix}_score" not in row

    xlsx = client.get("/exports/monthly.xlsx?month=2026-10&unit=DLK&lang=en", headers=read)
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    sheet = wb["QĐ 766 score"]
    cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert cells[0] == ["Satisfaction score under Decision 766/QĐ-TTg", *[None] * 6]
    by_code = {r[0]: r for r in cells[2:]}
    for metric in api["metrics"]:
        _code, _name, numerator, denominator, ratio, score, max_score = by_code[metric["code"]]
        assert (numerator, denominator, ratio, score, max_score) == (
            metric["numerator"],
            metric["denominator"],
            metric["ratio"],
            metric["score"],
            metric["max_score"],
        )
    assert list(by_code["TOTAL"][5:]) == [5.24, 18]

    pdf = client.get("/exports/monthly.pdf?month=2026-10&unit=DLK&lang=vi", headers=read)
    assert pdf.status_code == 200
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    words = " ".join(text.split())
    assert "Điểm hài lòng theo Quyết định 766/QĐ-TTg: 5,24 / 18" in words
    assert "Hài lòng về tiếp nhận, giải quyết hồ sơ" in words

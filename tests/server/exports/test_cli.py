"""`hailong export` writes the same files as the web exports, from any directory, with one-line errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlmodel import Session, select

from server.db import make_engine
from server.indices.periods import parse_period
from server.indices.service import compute_indices
from server.models import AuditLog, Unit
from tests.databases import DatabaseFactory
from tests.server.dashboard.world import build_world
from tests.test_cli import one_line_error, run

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def url(db_factory: DatabaseFactory) -> str:
    return db_factory.seeded_url(build_world)


def test_export_writes_each_format_with_the_indices_figures(url: str, tmp_path: Path) -> None:
    for fmt in ("csv", "xlsx", "pdf"):
        target = tmp_path / f"report.{fmt}"
        result = run("export", "--month", "2026-10", "--unit", "W-A", "--format", fmt, "-o", str(target), url=url)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # no progress bar when stderr is not a terminal
        assert target.stat().st_size > 500
    engine = make_engine(url)
    with Session(engine) as session:
        unit = session.exec(select(Unit).where(Unit.code == "W-A")).one()
        expected = compute_indices(
            session=session, unit=unit, period=parse_period("2026-10"), by="field", min_sample=30, tz=HCM
        )
        audited = session.exec(select(AuditLog.action).where(AuditLog.actor == "cli")).all()
    engine.dispose()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "report.csv").read_text(encoding="utf-8-sig"))))
    assert {r["field_code"]: int(r["n"]) for r in rows} == {r.key: r.n for r in expected.rows}
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx")
    counts = {r[0]: r[2] for r in wb["Số liệu theo lĩnh vực"].iter_rows(min_row=2, values_only=True)}
    assert counts == {r.key: r.n for r in expected.rows}
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    assert sorted(audited) == ["export.csv", "export.pdf", "export.xlsx"]


def test_format_from_the_suffix_and_quarter_period(url: str, tmp_path: Path) -> None:
    target = tmp_path / "q.xlsx"
    result = run("export", "--period", "2026-Q4", "--unit", "W-A1", "-o", str(target), url=url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert openpyxl.load_workbook(target).sheetnames[0] == "Báo cáo"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-10", "--unit", "NOPE", "-o", "{tmp}/x.csv"], "unknown unit 'NOPE'"),
        (["--month", "2026-13", "--unit", "W-A", "-o", "{tmp}/x.csv"], "'2026-13' is not valid"),
        (["--month", "October", "--unit", "W-A", "-o", "{tmp}/x.csv"], "use YYYY-MM"),
        (["--month", "2026-10", "--unit", "W-A", "-o", "{tmp}/missing/x.csv"], "does not exist"),
        (["--month", "2026-10", "--unit", "W-A", "--format", "csv", "-o", "{tmp}"], "is a directory"),
        (["--month", "2026-10", "--unit", "W-A", "-o", "{tmp}/x.txt"], "--format must be csv, xlsx or pdf"),
        (["--unit", "W-A", "-o", "{tmp}/x.csv"], "is required"),
    ],
)
def test_bad_input_is_one_line(url: str, tmp_path: Path, args: list[str], message: str) -> None:
    result = run("export", *[a.format(tmp=tmp_path) for a in args], url=url)
    assert message in one_line_error(result)
    assert not (tmp_path / "x.csv").exists()

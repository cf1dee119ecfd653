"""`hailong appraisal` writes the API's numbers as XLSX, PDF or JSON, from any directory, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, select

from server.appraisal import service
from server.appraisal.schemas import to_report
from server.config import Settings
from server.db import make_engine
from server.indices.periods import parse_period
from server.models import AuditLog, Unit
from tests.databases import DatabaseFactory
from tests.server.appraisal.data import build_ward
from tests.test_cli import one_line_error, run


@pytest.fixture
def url(db_factory: DatabaseFactory) -> str:
    return db_factory.seeded_url(build_ward)


def test_the_appraisal_files_hold_the_same_numbers(url: str, tmp_path: Path) -> None:
    for name in ("a.xlsx", "a.pdf", "a.json"):
        result = run("appraisal", "--year", "2026", "--unit", "AP-DESK", "-o", str(tmp_path / name), url=url)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"wrote {tmp_path / name} (")
    engine = make_engine(url)
    with Session(engine) as session:
        unit = session.exec(select(Unit).where(Unit.code == "AP-DESK")).one()
        expected = to_report(
            service.appraise(
                session=session, settings=Settings(database_url=url), unit=unit, period=parse_period("2026")
            )
        )
        audited = session.exec(select(AuditLog.action).where(AuditLog.actor == "cli")).all()
    engine.dispose()
    written = json.loads((tmp_path / "a.json").read_text())
    assert written["officers"] == json.loads(expected.model_dump_json())["officers"]
    wb = openpyxl.load_workbook(tmp_path / "a.xlsx")
    rows = {r[1]: r for r in wb["Cán bộ"].iter_rows(values_only=True) if r[1] and str(r[1]).startswith("AP-")}
    assert {code: (r[4], r[5]) for code, r in rows.items()} == {o.key: (o.n, o.satisfied) for o in expected.officers}
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert sorted(audited) == ["appraisal.json", "appraisal.pdf", "appraisal.xlsx"]


def test_bad_input_is_one_line(url: str, tmp_path: Path) -> None:
    out = str(tmp_path / "a.xlsx")
    assert "unknown unit 'NOPE'" in one_line_error(
        run("appraisal", "--year", "2026", "--unit", "NOPE", "-o", out, url=url)
    )
    assert "either --year" in one_line_error(run("appraisal", "--unit", "AP-DESK", "-o", out, url=url))
    assert "--format must be" in one_line_error(
        run("appraisal", "--year", "2026", "--unit", "AP-DESK", "-o", str(tmp_path / "a.doc"), url=url)
    )
    assert "not valid" in one_line_error(
        run("appraisal", "--period", "2026-Q5", "--unit", "AP-DESK", "-o", out, url=url)
    )
    assert "does not exist" in one_line_error(
        run("appraisal", "--year", "2026", "--unit", "AP-DESK", "-o", str(tmp_path / "no" / "a.xlsx"), url=url)
    )
    assert "four-digit" in one_line_error(run("appraisal", "--year", "26", "--unit", "AP-DESK", "-o", out, url=url))
    assert not Path(out).exists()

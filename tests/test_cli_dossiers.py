"""`hailong dossiers import FILE.csv`, run as a real process: all or nothing, chunked, idempotent."""

from __future__ import annotations

from pathlib import Path

from tests.databases import DatabaseFactory, query
from tests.test_cli import import_units, one_line_error, run

HEADER = "code,unit,field,procedure_code,received_at,due_at,completed_at,status\n"


def line(i: int, unit: str = "BMT", completed: str = "2026-10-10T09:00:00+07:00", status: str = "completed") -> str:
    due = "2026-10-08T17:00:00+07:00" if i % 4 == 0 else "2026-10-15T17:00:00+07:00"  # every 4th one late
    return f"H12-{i:06d},{unit},land,1.004227,2026-10-01T08:00:00+07:00,{due},{completed},{status}\n"


def counts(url: str) -> tuple[int, int, int]:
    [row] = query(
        url,
        "SELECT count(*), sum(CASE WHEN overdue THEN 1 ELSE 0 END),"
        " sum(CASE WHEN completed_on IS NOT NULL THEN 1 ELSE 0 END) FROM dossier",
    )
    return int(row[0]), int(row[1] or 0), int(row[2] or 0)


def test_a_file_is_imported_in_chunks_and_again_changes_nothing(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url()
    import_units(url, tmp_path, "DLK,Tỉnh,,tỉnh\nBMT,Phường,DLK,phường\n")
    data = tmp_path / "dossiers.csv"
    data.write_text(HEADER + "".join(line(i) for i in range(2500)), encoding="utf-8-sig")
    first = run("dossiers", "import", str(data), url=url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "dossiers: 2500 created, 0 updated, 0 unchanged"
    assert counts(url) == (2500, 625, 2500)
    # The next night's file: the same dossiers (one moved on, one sent back) and new ones, some still open.
    rows = [line(i) for i in range(2500)]
    rows[1] = line(1, completed="2026-10-20T09:00:00+07:00")
    rows[2] = line(2, status="returned")
    rows += [line(i, completed="", status="processing") for i in range(2500, 2600)]
    data.write_text(HEADER + "".join(rows), encoding="utf-8")
    second = run("dossiers", "import", str(data), url=url)
    assert second.stdout.strip() == "dossiers: 100 created, 2 updated, 2498 unchanged", second.stderr
    assert counts(url) == (2600, 626, 2500)


def test_a_bad_line_imports_nothing(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url()
    import_units(url, tmp_path, "BMT,Phường,,phường\n")
    data = tmp_path / "dossiers.csv"
    bad = [line(i) for i in range(1500)]
    bad[1200] = line(1200, unit="NOPE")
    bad[1300] = line(1300, completed="2026-09-01T00:00:00+07:00")
    data.write_text(HEADER + "".join(bad), encoding="utf-8")
    message = one_line_error(run("dossiers", "import", str(data), url=url))
    assert "line 1202: unknown unit 'NOPE'" in message and "1 more bad line" in message
    assert "nothing was imported" in message
    assert counts(url) == (0, 0, 0)
    for content, expected in (
        ("code,unit\nX,BMT\n", "missing column received_at, due_at"),
        ("code,unit,received_at,due_at,colour\n", "unknown column colour"),
        ("", "the file is empty"),
        (HEADER + "H,BMT,land,,yesterday,2026-10-15T17:00:00+07:00,,\n", "line 2: received_at"),
    ):
        data.write_text(content, encoding="utf-8")
        assert expected in one_line_error(run("dossiers", "import", str(data), url=url))
    data.write_bytes(HEADER.encode() + "Đ-1,BMT".encode("cp1258"))  # Windows-1258: neither UTF-8 nor UTF-16
    assert "not UTF-8 or UTF-16 text" in one_line_error(run("dossiers", "import", str(data), url=url))
    assert "cannot read" in one_line_error(run("dossiers", "import", str(tmp_path / "missing.csv"), url=url))


def test_what_excel_saves_imports(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    """Issue 21 item 18: Excel with a Vietnamese locale saves "CSV UTF-8" with a BOM, `;` between cells and CRLF
    line ends ("Unicode Text" is UTF-16 with tabs); the dossiers import reads them as the counters import does."""
    url = db_factory.new_url()
    import_units(url, tmp_path, "BMT,Phường,,phường\n")
    excel = tmp_path / "dossiers-excel.csv"
    rows = [line(i).rstrip("\n").replace(",", ";") for i in range(3)]
    excel.write_bytes("\r\n".join([HEADER.rstrip("\n").replace(",", ";"), *rows, ""]).encode("utf-8-sig"))
    imported = run("dossiers", "import", str(excel), url=url, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "dossiers: 3 created, 0 updated, 0 unchanged"
    assert query(url, "SELECT code FROM dossier ORDER BY code") == [("H12-000000",), ("H12-000001",), ("H12-000002",)]
    unicode_text = tmp_path / "dossiers.txt"
    tabbed = [line(i).rstrip("\n").replace(",", "\t") for i in range(4)]
    unicode_text.write_bytes("\r\n".join([HEADER.rstrip("\n").replace(",", "\t"), *tabbed, ""]).encode("utf-16"))
    again = run("dossiers", "import", str(unicode_text), url=url, cwd=tmp_path)
    assert again.stdout.strip() == "dossiers: 1 created, 0 updated, 3 unchanged", again.stderr
    assert counts(url) == (4, 1, 4)

"""Imports as Vietnamese offices produce them (issue 21 item 18) and huge or deep files (issue 19 finding 9).

`hailong units import` / `counters import` and the admin upload forms share `server.units.service.read_table`.
"""

from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import Counter, Unit
from server.units.service import MAX_DEPTH, CsvImportError, import_counters, import_units
from tests import logins
from tests.server.admin.test_admin import HTML, post
from tests.server.dashboard.world import World

UNITS = [
    ["code", "name", "parent_code", "level"],
    ["W-C", "Khu vực C", "W-ROOT", "khu vực"],
    ["W-C1", "Xã Ea Tu", "W-C", "xã"],
]


def _text(rows: list[list[str]], delimiter: str) -> str:
    return "".join(delimiter.join(r) + "\r\n" for r in rows)


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _unit(session: Session, code: str) -> Unit | None:
    return session.exec(select(Unit).where(Unit.code == code)).first()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_text(UNITS, ";").encode("utf-8-sig"), id="excel-csv-utf8-semicolon-bom"),
        pytest.param(_text(UNITS, ";").encode(), id="semicolon-no-bom"),
        pytest.param(_text(UNITS, "\t").encode("utf-16"), id="excel-unicode-text-utf16-tabs"),
        pytest.param(_text(UNITS, ";").encode("utf-16-le"), id="utf16-le-no-bom"),
        pytest.param(_text(UNITS, ",").encode("utf-16-be"), id="utf16-be-no-bom"),
        pytest.param(_xlsx(UNITS), id="xlsx"),  # type: ignore[arg-type]
    ],
)
def test_item_18_units_import_reads_what_offices_produce(session: Session, world: World, data: bytes) -> None:
    result = import_units(session=session, data=data)
    assert (result.created, result.updated) == (2, 0)
    c1 = _unit(session, "W-C1")
    assert c1 is not None and c1.name == "Xã Ea Tu" and c1.level == "xã"
    assert c1.path.startswith(world.root.path)


def test_item_18_xlsx_with_an_empty_last_column_and_formatted_empty_cells(session: Session, world: World) -> None:
    rows: list[list[object]] = [
        ["code", "name", "parent_code", "level", None],
        ["W-E", "Khu vực E", "W-ROOT", None, None],
    ]
    assert import_units(session=session, data=_xlsx(rows)).created == 1
    semicolons = "code;name;parent_code;level;;\r\nW-F;Khu vực F;W-ROOT;;;\r\n".encode("utf-8-sig")
    assert import_units(session=session, data=semicolons).created == 1
    unit = _unit(session, "W-F")
    assert unit is not None and unit.level == ""


def test_item_18_xlsx_numbers_and_trailing_empty_cells(session: Session, world: World) -> None:
    data = _xlsx(
        [["code", "unit_code", "name", None], [101, "W-A1", "Quầy 1", None], [None, None, None], [102.0, "W-A1", 7]]
    )
    assert import_counters(session=session, data=data).created == 2
    assert session.exec(select(Counter).where(Counter.code == "102")).one().name == "7"


def test_item_18_a_damaged_workbook_is_a_clear_error(session: Session) -> None:
    with pytest.raises(CsvImportError, match="not a readable Excel workbook"):
        import_units(session=session, data=b"PK\x03\x04 not really a zip")


def test_item_18_templates_download_and_import_back(client: TestClient, session: Session, csrf: str) -> None:
    for section, code in (("units", "BMT"), ("counters", "BMT-Q01")):
        for fmt in ("csv", "xlsx"):
            template = client.get(f"/admin/{section}/template.{fmt}")
            assert template.status_code == 200, (section, fmt)
            assert f"hai-long_{section}_template.{fmt}" in template.headers["content-disposition"]
            done = post(client, f"/admin/{section}/import", csrf, files={"file": (f"t.{fmt}", template.content)})
            assert done.status_code == 303, BeautifulSoup(done.text, "html.parser").get_text()
        model = Unit if section == "units" else Counter
        assert session.exec(select(model).where(model.code == code)).one()  # type: ignore[attr-defined]
    assert client.get("/admin/officers/template.csv").status_code == 404
    assert client.get("/admin/units/template.ods").status_code == 404
    logins.login(client, build_world_manager(session))
    assert client.get("/admin/units/template.csv", headers=HTML).status_code == 403


def build_world_manager(session: Session):  # type: ignore[no-untyped-def]
    from server.models import User

    return session.exec(select(User).where(User.role == "manager")).first()


def test_item_18_errors_in_vietnamese(client: TestClient, session: Session, csrf: str) -> None:
    broken = _text([["code", "unit_code", "name"], ["Q9", "W-A1", "Quầy"], ["Q9", "W-A1", "Quầy"]], ";")
    page = post(client, "/admin/counters/import", csrf, files={"file": ("c.csv", broken.encode("utf-16"))})
    assert page.status_code == 422
    assert (
        "Dòng 3: quầy 'Q9' xuất hiện hai lần (lần đầu ở dòng 2)" in BeautifulSoup(page.text, "html.parser").get_text()
    )
    latin1 = post(client, "/admin/units/import", csrf, files={"file": ("u.csv", "code;name\nA;Tên\n".encode("cp1258"))})
    text = BeautifulSoup(latin1.text, "html.parser").get_text()
    assert latin1.status_code == 422 and "hãy lưu lại dưới dạng CSV UTF-8 hoặc .xlsx" in text
    english = post(client, "/admin/units/import?lang=en", csrf, files={"file": ("u.xlsx", b"PK\x03\x04broken")})
    assert english.status_code == 422 and "not a readable Excel workbook" in english.text


# --- issue 19 finding 9 ---------------------------------------------------------------------------------------


def _chain(depth: int) -> str:
    lines = ["code,name,parent_code,level"]
    lines += [f"D{i},Cấp {i},{f'D{i - 1}' if i else ''}," for i in range(depth)]
    return "\n".join(lines) + "\n"


def test_finding_9_a_1500_level_chain_is_a_clear_error_not_a_500(
    client: TestClient, session: Session, csrf: str
) -> None:
    """Issue 19 finding 9: a units CSV with a parent chain 1,500 levels deep answered 500 (recursion)."""
    with (
        pytest.raises(
            CsvImportError,
            match=f"line {MAX_DEPTH + 2}: unit 'D{MAX_DEPTH}' would be more than {MAX_DEPTH} levels deep",
        ),
        session.begin_nested(),
    ):  # rolled back, as the CLI's and the admin form's transactions are
        import_units(session=session, data=_chain(1500))
    page = post(client, "/admin/units/import", csrf, files={"file": ("deep.csv", _chain(1500).encode())})
    assert page.status_code == 422
    assert f"sâu quá {MAX_DEPTH} cấp" in BeautifulSoup(page.text, "html.parser").get_text()
    assert _unit(session, "D0") is None  # all or nothing


def test_finding_9_a_chain_as_deep_as_allowed_imports_in_any_order(session: Session) -> None:
    lines = _chain(MAX_DEPTH).splitlines()
    data = "\n".join([lines[0], *reversed(lines[1:])]) + "\n"  # children before their parents
    assert import_units(session=session, data=data).created == MAX_DEPTH
    deepest = _unit(session, f"D{MAX_DEPTH - 1}")
    assert deepest is not None and deepest.path.count("/") == MAX_DEPTH + 1


def test_finding_9_a_cycle_is_named_without_recursion(session: Session) -> None:
    data = "code,name,parent_code,level\nA,A,C,\nB,B,A,\nC,C,B,\n"
    with pytest.raises(CsvImportError, match="cycle"):
        import_units(session=session, data=data)


def test_finding_9_large_counter_import_creates_and_updates_in_bulk(session: Session, world: World) -> None:
    """A counters file of 12,000 rows (the bench runs 200,000): created, then re-imported as updates."""
    rows = [["code", "unit_code", "name"], *([f"BULK-{i:05d}", "W-A1", f"Quầy {i}"] for i in range(12_000))]
    assert import_counters(session=session, data=_text(rows, ",")).created == 12_000
    rows[1:] = [[code, "W-A2", name + " mới"] for code, _, name in rows[1:]]
    result = import_counters(session=session, data=_text(rows, ";").encode("utf-8-sig"))
    assert (result.created, result.updated) == (0, 12_000)
    moved = session.execute(
        sa.select(sa.func.count())
        .select_from(Counter)
        .where(Counter.unit_id == world.a2.id, Counter.code.startswith("BULK-"))  # type: ignore[attr-defined]
    ).scalar_one()
    assert moved == 12_000
    assert session.exec(select(Counter).where(Counter.code == "BULK-00007")).one().name == "Quầy 7 mới"


def test_finding_9_counters_page_is_paginated_and_searchable(
    client: TestClient, session: Session, world: World, csrf: str
) -> None:
    """Issue 19 finding 9: /admin/counters rendered every counter (48 MB for 200,000)."""
    rows = [["code", "unit_code", "name"], *([f"PG-{i:04d}", "W-A1", f"Quầy {i}"] for i in range(250))]
    import_counters(session=session, data=_text(rows, ","))
    session.flush()
    first = BeautifulSoup(client.get("/admin/counters", headers=HTML).text, "html.parser")
    assert len(first.select("#counters-table tbody tr")) == 100
    next_link = first.select_one("a[rel=next]")
    assert next_link is not None and next_link["href"] == "/admin/counters?page=2"
    total = session.execute(sa.select(sa.func.count()).select_from(Counter)).scalar_one()
    last_page = -(-total // 100)
    last = BeautifulSoup(client.get(f"/admin/counters?page={last_page}", headers=HTML).text, "html.parser")
    assert len(last.select("#counters-table tbody tr")) == total - 100 * (last_page - 1)
    assert last.select_one("a[rel=next]") is None
    found = BeautifulSoup(client.get("/admin/counters?q=PG-01", headers=HTML).text, "html.parser")
    codes = [th.get_text() for th in found.select("#counters-table tbody th")]
    assert codes == [f"PG-{i:04d}" for i in range(100, 200)]
    assert found.select_one("a[rel=next]") is None
    assert client.get("/admin/counters?q=PG_0", headers=HTML).text.count("<tr>") == 1 + 1  # `_` is no wildcard
    assert client.get("/admin/counters?page=0", headers=HTML).status_code == 422


def test_finding_9_the_pairing_form_lists_counters_only_while_few(
    client: TestClient, session: Session, world: World, csrf: str
) -> None:
    """Issue 19 finding 9: the kiosks page listed every counter in its pairing form too."""
    page = BeautifulSoup(client.get("/admin/kiosks", headers=HTML).text, "html.parser")
    assert page.select_one("select#k-counter") is not None
    rows = [["code", "unit_code", "name"], *([f"KS-{i:04d}", "W-A1", f"Quầy {i}"] for i in range(501))]
    import_counters(session=session, data=_text(rows, ","))
    session.flush()
    page = BeautifulSoup(client.get("/admin/kiosks", headers=HTML).text, "html.parser")
    assert page.select_one("select#k-counter") is None and page.select("option") == []
    typed = page.select_one("input#k-counter")
    assert typed is not None and typed["name"] == "counter_code"
    issued = post(client, "/admin/kiosks/pairing-codes", csrf, {"counter_code": "KS-0500"})
    assert issued.status_code == 201

"""The unit tree: subtrees at any depth, moves, CSV import with line-numbered errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from server.errors import Invalid
from server.models import Counter, Unit
from server.units.service import (
    CsvImportError,
    ancestors,
    get_unit,
    import_counters,
    import_units,
    is_in_subtree,
    move_unit,
    subtree_ids,
)
from tests import factories


def _codes(session: Session, root: Unit) -> set[str]:
    return set(session.exec(select(Unit.code).where(Unit.id.in_(subtree_ids(root)))).all())  # type: ignore[union-attr]


def test_subtree_at_depth_five(session: Session) -> None:
    a = factories.unit(session, code="A")
    b = factories.unit(session, a, code="B")
    c = factories.unit(session, b, code="C")
    d = factories.unit(session, c, code="D")
    e = factories.unit(session, d, code="E")
    b2 = factories.unit(session, a, code="B2")
    factories.unit(session, code="OTHER")
    assert _codes(session, a) == {"A", "B", "C", "D", "E", "B2"}
    assert _codes(session, b) == {"B", "C", "D", "E"}
    assert _codes(session, d) == {"D", "E"}
    assert _codes(session, e) == {"E"}
    assert is_in_subtree(unit=e, root=b) and not is_in_subtree(unit=b2, root=b)
    assert [u.code for u in ancestors(session=session, unit=e)] == ["A", "B", "C", "D", "E"]


def test_subtree_does_not_confuse_id_prefixes(session: Session) -> None:
    """Unit 1's subtree must not include unit 12 (paths end in a slash)."""
    roots = [factories.unit(session) for _ in range(12)]
    for root in roots:
        assert _codes(session, root) == {root.code}


def test_move_carries_the_subtree(session: Session) -> None:
    a = factories.unit(session, code="MA")
    b = factories.unit(session, a, code="MB")
    c = factories.unit(session, b, code="MC")
    x = factories.unit(session, code="MX")
    move_unit(session=session, unit=b, new_parent=x)
    session.refresh(c)
    assert _codes(session, x) == {"MX", "MB", "MC"}
    assert _codes(session, a) == {"MA"}
    assert is_in_subtree(unit=c, root=x)
    with pytest.raises(Invalid, match="own subtree"):
        move_unit(session=session, unit=x, new_parent=c)


def test_import_units_and_counters(session: Session) -> None:
    csv_units = (
        "\ufeffcode,name,parent_code,level\n"
        "XA1,Xã Ea Tu,TINH,xã\n"  # parent defined later in the file
        "TINH,Trung tâm tỉnh,,tỉnh\n"
        "KV,Khu vực,TINH,khu vực\n"
        "XA2,Phường Tân Lợi,KV,phường\n"
    )
    result = import_units(session=session, data=csv_units.encode())
    assert (result.created, result.updated) == (4, 0)
    assert _codes(session, get_unit(session=session, code="TINH")) == {"TINH", "XA1", "KV", "XA2"}
    # Re-import moves XA1 under KV and renames it.
    again = "code,name,parent_code,level\nXA1,Xã Ea Tu (mới),KV,xã\n"
    assert import_units(session=session, data=again).updated == 1
    session.expire_all()
    assert get_unit(session=session, code="XA1").name == "Xã Ea Tu (mới)"
    assert _codes(session, get_unit(session=session, code="KV")) == {"KV", "XA1", "XA2"}
    counters = "code,unit_code,name\nXA2-Q1,XA2,Quầy 1\nXA2-Q2,XA2,Quầy 2\n"
    assert import_counters(session=session, data=counters).created == 2
    assert session.exec(select(sa.func.count()).select_from(Counter).where(Counter.code.like("XA2-%"))).one() == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("code,name\nA,B\n", "line 1: expected the header"),
        ("code,name,parent_code,level\nA,Tên,,\nB,,A,\n", "line 3: name is empty"),
        ("code,name,parent_code,level\nA,Tên,,\nA,Tên,,\n", "line 3: unit 'A' appears twice"),
        ("code,name,parent_code,level\nA,Tên,NOPE,\n", "line 2: parent_code 'NOPE' is not a known unit"),
        ("code,name,parent_code,level\nA,Tên,B,\nB,Tên,A,\n", "cycle"),
        ("code,name,parent_code,level\nA,Tên,,,extra\n", "line 2: expected 4 columns, found 5"),
        (b"code,name,parent_code,level\nA,T\xe9n,,\n", "not UTF-8"),
    ],
)
def test_import_units_errors_name_the_line(session: Session, content: str | bytes, message: str) -> None:
    before = session.exec(select(sa.func.count()).select_from(Unit)).one()
    with pytest.raises(CsvImportError, match=message):
        import_units(session=session, data=content)
    session.rollback()
    assert session.exec(select(sa.func.count()).select_from(Unit)).one() == before


def test_import_counters_unknown_unit(session: Session) -> None:
    with pytest.raises(CsvImportError, match="line 2: unit_code 'NOWHERE' is not a known unit"):
        import_counters(session=session, data="code,unit_code,name\nQ1,NOWHERE,Quầy\n")

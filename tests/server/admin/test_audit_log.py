"""Issue 21 item 20: the audit log readable: action names in words, local time, filters by user, action and
date, paging that keeps the filters."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.admin.service import ACTION_NAMES
from server.i18n import english_catalog
from server.models import AuditLog
from tests.server.admin.test_admin import HTML


def _rows(client: TestClient, query: str = "") -> tuple[BeautifulSoup, list[list[str]]]:
    response = client.get("/admin/audit" + query, headers=HTML)
    assert response.status_code == 200, response.text
    soup = BeautifulSoup(response.text, "html.parser")
    rows = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in soup.select("#audit-table tbody tr")]
    return soup, rows


def _seed(session: Session) -> None:
    # 2026-11-30 17:30 UTC is 1 December 00:30 in Ho Chi Minh City (UTC+7).
    session.add(
        AuditLog(actor="chi", action="export.xlsx", target="W-A", at=datetime(2026, 11, 30, 17, 30, tzinfo=UTC))
    )
    session.add(
        AuditLog(actor="chi", action="admin.kiosk.revoke", target="7", at=datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    )
    session.add(AuditLog(actor="binh", action="export.pdf", target="W-B", at=datetime(2026, 12, 2, 3, 0, tzinfo=UTC)))
    session.add(AuditLog(actor="binh", action="future.thing", target="x", at=datetime(2026, 12, 3, 3, 0, tzinfo=UTC)))
    for i in range(55):
        session.add(AuditLog(actor="an", action="login", target="an", at=datetime(2026, 10, 1, 2, i, tzinfo=UTC)))
    session.flush()


def test_actions_in_words_local_time_and_filters(client: TestClient, session: Session, csrf: str) -> None:
    _seed(session)
    soup, rows = _rows(client, "?actor=chi")
    assert [r[2] for r in rows] == ["Xuất báo cáo Excel export.xlsx", "Thu hồi màn hình admin.kiosk.revoke"]
    assert rows[0][0] == "01/12/2026 00:30"  # local time (UTC+7), not 30/11 17:30
    assert soup.select_one("time")["datetime"].startswith("2026-11-30T17:30")  # type: ignore[index]
    # By local day: 1 December holds the 00:30 export only; 30 November the revocation at 23:00.
    _, rows = _rows(client, "?date_from=2026-12-01&date_to=2026-12-01")
    assert [(r[1], r[3]) for r in rows] == [("chi", "W-A")]
    _, rows = _rows(client, "?date_to=2026-11-30&actor=chi")
    assert [r[3] for r in rows] == ["7"]
    _, rows = _rows(client, "?action=export.pdf")
    assert [(r[1], r[2]) for r in rows] == [("binh", "Xuất báo cáo PDF export.pdf")]
    _, rows = _rows(client, "?action=future.thing")
    assert rows[0][2] == "future.thing"  # an action without a name yet shows its code
    _, rows = _rows(client, "?actor=nobody")
    assert rows == [["Không có dòng nhật ký nào."]]
    # The filters offer the actors present and every named action.
    actors = [o["value"] for o in soup.select("#a-actor option")]
    assert {"an", "binh", "chi", "w-admin"} <= set(actors)
    assert {o["value"] for o in soup.select("#a-action option")} >= set(ACTION_NAMES)


def test_paging_keeps_the_filters(client: TestClient, session: Session, csrf: str) -> None:
    _seed(session)
    soup, rows = _rows(client, "?actor=an&action=login")
    assert len(rows) == 50
    link = soup.select_one("a[rel=next]")
    assert link is not None and link["href"] == "/admin/audit?actor=an&action=login&page=2"
    soup, rows = _rows(client, "?actor=an&action=login&page=2")
    assert len(rows) == 5 and soup.select_one("a[rel=next]") is None
    assert soup.select_one("a[rel=prev]")["href"] == "/admin/audit?actor=an&action=login&page=1"  # type: ignore[index]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?date_from=2026-13-01", "Từ ngày '2026-13-01' không phải là một ngày (YYYY-MM-DD)"),
        ("?date_from=2026-12-02&date_to=2026-12-01", "Đến ngày phải sau Từ ngày"),
    ],
)
def test_bad_filters_are_a_friendly_422(client: TestClient, csrf: str, query: str, message: str) -> None:
    response = client.get("/admin/audit" + query, headers=HTML)
    assert response.status_code == 422
    assert message in BeautifulSoup(response.text, "html.parser").select_one("#form-error").get_text()  # type: ignore[union-attr]


ACTION = r"[a-z_]+(\.[a-z_]+)+"


def audited_actions() -> set[str]:
    """Every action name the server's code passes to `audit(action=...)`, `FiguresAsked.audit(action)` or a module's
    `_audit(...)` helper (any dotted literal among its arguments); an f-string such as `export.{fmt}` as `export.*`."""
    found: set[str] = set()
    for path in Path(__file__).resolve().parents[3].joinpath("server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "audit" and isinstance(node.func, ast.Attribute) and node.args:  # FiguresAsked.audit(action)
                values = [node.args[0]]
            elif name == "audit":
                values = [k.value for k in node.keywords if k.arg == "action"]
            elif name == "_audit":
                values = [a for a in node.args if isinstance(a, ast.Constant) and re.fullmatch(ACTION, str(a.value))]
            else:
                continue
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.add(value.value)
                elif isinstance(value, ast.JoinedStr) and isinstance(value.values[0], ast.Constant):
                    prefix = str(value.values[0].value)
                    found.add(f"{prefix}*")
    return found


def test_every_audited_action_has_a_name_on_the_audit_log_page() -> None:
    """Issue 21 (the audit log): an action without a name shows its code to the administrator."""
    actions = audited_actions()
    assert {"login", "petition.contact_view", "appraisal.me", "export.*"} <= actions  # the scan finds them
    named = set(ACTION_NAMES) | {f"{name.rsplit('.', 1)[0]}.*" for name in ACTION_NAMES}
    assert sorted(actions - named) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?date_to=9999-12-31", "Đến ngày '9999-12-31': chỉ nhận các năm từ 1900 đến 2999"),
        ("?date_from=0001-01-01", "Từ ngày '0001-01-01': chỉ nhận các năm từ 1900 đến 2999"),
    ],
)
def test_days_at_the_ends_of_the_calendar_are_a_friendly_422(
    client: TestClient, csrf: str, query: str, message: str
) -> None:
    """Issue 21 item 20 (third round): `date_to=9999-12-31` (its next day) and `date_from=0001-01-01` (its local
    midnight in UTC) raised OverflowError, a 500; years are those periods take (1900-2999)."""
    response = client.get("/admin/audit" + query, headers=HTML)
    assert response.status_code == 422
    assert message in BeautifulSoup(response.text, "html.parser").select_one("#form-error").get_text()  # type: ignore[union-attr]


def test_every_action_name_has_an_english_entry() -> None:
    catalog = english_catalog()
    assert [name for name in ACTION_NAMES.values() if name not in catalog] == []

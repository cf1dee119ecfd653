"""The inbox's filters by due date and category, and the words that mark overdue and due-soon petitions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from server.config import Settings
from tests import factories, logins


def _rows(html: str) -> dict[str, str]:
    """The inbox's table rows by petition id."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    rows = {}
    for row in re.findall(r"<tr>.*?</tr>", body, flags=re.S):
        match = re.search(r'href="/petitions/([0-9a-f-]{36})"', row)
        assert match, row
        rows[match.group(1)] = row
    return rows


def test_due_and_category_filters_and_labels(client: TestClient, session: Session, settings: Settings) -> None:
    unit = factories.unit(session, code="PI-WARD", name="Phường Một")
    now = datetime.now(UTC)
    overdue = factories.petition(
        session, settings, unit, category="staff", content="Quá hạn rồi", received_at=now - timedelta(days=90)
    )
    soon = factories.petition(session, settings, unit, category="tthc", content="Sắp tới hạn")
    soon.due_at = now + timedelta(hours=1)  # due within 2 working days, whatever today is
    calm = factories.petition(session, settings, unit, category="tthc", content="Còn nhiều thời gian")  # 15 days
    session.add(soon)
    session.flush()
    ids = {"overdue": str(overdue.id), "soon": str(soon.id), "calm": str(calm.id)}
    logins.login(client, logins.user(session, "manager", unit))

    def listed(query: str) -> dict[str, str]:
        page = client.get(f"/petitions{query}")
        assert page.status_code == 200, page.text
        return _rows(page.text)

    everything = listed("")
    assert set(everything) == set(ids.values())
    assert '<span class="due-overdue">Quá hạn</span>' in everything[ids["overdue"]]
    assert '<span class="due-soon">Sắp đến hạn</span>' in everything[ids["soon"]]
    assert "due-" not in everything[ids["calm"]]
    assert set(listed("?due=overdue")) == {ids["overdue"]}
    assert set(listed("?due=soon")) == {ids["soon"]}
    assert set(listed("?category=tthc")) == {ids["soon"], ids["calm"]}
    assert set(listed("?category=staff")) == {ids["overdue"]}
    assert set(listed("?due=soon&category=staff")) == set()
    english = client.get("/petitions?lang=en").text
    assert "Overdue</span>" in english and "Due soon</span>" in english
    assert client.get("/petitions?due=later", headers={"accept": "text/html"}).status_code == 422

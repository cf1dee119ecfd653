"""The appraisal pages: a manager's subtree, an officer's own line (and nobody else's), every string in English."""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from server.appraisal import words
from server.config import Settings
from server.dashboard.pages import today
from server.i18n import english_catalog
from server.models import AuditLog
from tests import logins
from tests.server.appraisal.data import build_ward

ROOT = Path(__file__).resolve().parents[3]


def test_the_manager_sees_ranked_officers_and_the_few_apart(client: TestClient, session: Session) -> None:
    ward = build_ward(session)
    logins.login(client, logins.user(session, "manager", ward.root))
    page = client.get("/dashboard/appraisal", params={"period": "2026", "unit": "AP-DESK"})
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    ranked = soup.select_one("section[aria-labelledby=h-ap-ranked]")
    few = soup.select_one("section[aria-labelledby=h-ap-few]")
    assert ranked is not None and few is not None
    assert "(AP-LAND)" in ranked.text and "(AP-JUST)" in ranked.text and "(AP-FEW)" not in ranked.text
    assert "(AP-FEW)" in few.text and "Chưa đủ số đánh giá" in few.text
    assert soup.select_one('a[href^="/exports/appraisal.pdf?unit=AP-DESK&period=2026"]') is not None
    assert "Phương pháp đánh giá" in page.text
    assert session.exec(select(AuditLog).where(AuditLog.action == "appraisal.view")).one().target == "AP-DESK"
    english = client.get("/dashboard/appraisal", params={"period": "2026", "unit": "AP-DESK", "lang": "en"})
    assert "Officers with too few ratings (not ranked)" in english.text
    table = BeautifulSoup(english.text, "html.parser").select_one("section[aria-labelledby=h-ap-ranked]")
    assert table is not None and "As expected" in table.text and "Above expected" not in table.text
    # Without a period: this year (the appraisal is yearly); a malformed one is a friendly 422 page.
    assert client.get("/dashboard/appraisal").status_code == 200
    assert client.get("/dashboard/appraisal", params={"period": "2026-13"}).status_code == 422


def test_an_officer_sees_only_their_own_line(client: TestClient, session: Session) -> None:
    ward = build_ward(session)
    logins.login(client, ward.land_user)
    page = client.get("/dashboard/me", params={"period": "2026"})
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    mine = soup.select_one("section[aria-labelledby=h-me-appraisal]")
    assert mine is not None
    text = mine.get_text(" ", strip=True)
    assert "Tương đương kỳ vọng" in text and "70,0%" in text
    assert "Đánh giá chỉ vài giây sau khi mời: 1" in text
    for colleague in ("AP-JUST", "AP-FEW"):
        assert colleague not in page.text
    # The managers' page and the API are not theirs.
    assert client.get("/dashboard/appraisal", headers={"accept": "application/json"}).status_code == 403
    assert client.get("/exports/appraisal.xlsx", params={"period": "2026"}).status_code == 403


def test_my_results_open_on_this_year_name_the_reference_unit_and_are_audited(
    client: TestClient, session: Session, settings: Settings
) -> None:
    ward = build_ward(session)
    logins.login(client, ward.land_user)
    page = client.get("/dashboard/me", params={"period": "2026"})
    mine = BeautifulSoup(page.text, "html.parser").select_one("section[aria-labelledby=h-me-appraisal]")
    assert mine is not None
    assert "tỷ lệ hài lòng từng lĩnh vực của Phường AP (AP-DESK)" in mine.get_text(" ", strip=True)
    english = client.get("/dashboard/me", params={"period": "2026", "lang": "en"})
    english_text = BeautifulSoup(english.text, "html.parser").get_text(" ", strip=True)
    assert "each field's satisfaction rate at Phường AP (AP-DESK)" in english_text, english_text[-1500:]
    # Without a period: this year, as the appraisal is yearly (not last month, as the dashboard).
    assert client.get("/dashboard/me").status_code == 200
    audits = session.exec(select(AuditLog).where(AuditLog.action == "appraisal.me").order_by(col(AuditLog.id))).all()
    this_year = str(today(settings).year)
    assert [(a.actor, a.target, a.detail) for a in audits] == [
        ("ap-land", "AP-LAND", "2026"),
        ("ap-land", "AP-LAND", "2026"),
        ("ap-land", "AP-LAND", this_year),
    ]


def test_every_appraisal_string_has_an_english_entry() -> None:
    catalog = english_catalog()
    pattern = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")
    found = [
        m.group(1) or m.group(2)
        for path in sorted((ROOT / "templates" / "appraisal").glob("*.html"))
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    found += re.findall(r"""\bt\(\s*"((?:[^"\\]|\\.)*)"\s*\)""", (ROOT / "server/appraisal/export.py").read_text())
    found += [*words.STATUS_WORDS.values(), *words.REASON_WORDS.values(), *words.WEEKDAY_WORDS.values()]
    found += [words.METHOD_TITLE, *words.METHOD_PARAGRAPHS]
    assert len(found) > 50
    assert [text for text in found if text not in catalog] == []
    # The English method names the same placeholders as the Vietnamese.
    for text in words.METHOD_PARAGRAPHS:
        assert set(re.findall(r"{\w+}", text)) == set(re.findall(r"{\w+}", catalog[text]))

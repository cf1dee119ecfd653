"""The QĐ 766 score on the dashboard and its drill-down, built through the public API, as a manager sees them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from server.models import Unit
from tests import logins
from tests.server.dashboard.test_routes import page, text


def test_the_dashboard_shows_the_score_beside_the_index(
    client: TestClient, session: Session, province: dict[str, Unit]
) -> None:
    logins.login(client, logins.user(session, "manager", province["root"]))
    card = page(client, "/dashboard?unit=DLK&period=2026-10").select_one("#score766")
    assert card is not None
    words = text(card)
    # Dossiers 14 − 2 − 1 = 11: 6 × 11/14 ÷ 0.9 = 5.24; the late petition: 0 + 0 → total 5.24.
    assert "5,24 / 18 điểm" in words
    assert "tỷ lệ lượt đánh giá hài lòng" in words  # the one-sentence difference from the index
    assert "11 14 78,6% 5,24 / 6 0,76" in words
    link = card.select_one("a[href^='/dashboard/score766']")
    assert link is not None and link["href"] == "/dashboard/score766?unit=DLK&period=2026-10"
    english = text(page(client, "/dashboard?unit=DLK&period=2026-10&lang=en").select_one("#score766"))
    assert "Satisfaction score under Decision 766/QĐ-TTg" in english and "5.24 / 18 points" in english


def test_the_drill_down_says_where_the_points_were_lost(
    client: TestClient, session: Session, province: dict[str, Unit]
) -> None:
    logins.login(client, logins.user(session, "manager", province["root"]))
    soup = page(client, "/dashboard/score766?unit=DLK&period=2026-10")
    units = [text(tr) for tr in soup.select("[aria-labelledby=h-766-units] tbody tr")]
    # BMT holds all of DLK's failures (its own score: dossiers 7/10 → 4,67, its late petition 0 + 0); KRP has every
    # dossier on time and no petition: 6 + 6 + 6 = 18, and costs DLK nothing.
    assert units[0].startswith("Phường Buôn Ma Thuột 10 2 1 1 0 0 4,67")
    assert units[1] == "Xã Krông Pắc 4 0 0 0 0 0 18,00 0,00"
    fields = [text(tr) for tr in soup.select("[aria-labelledby=h-766-fields] tbody tr")]
    assert fields[0].startswith("Xây dựng 2 2 0") and fields[1].startswith("Đất đai 12 0 1")
    months = [text(tr) for tr in soup.select("[aria-labelledby=h-766-months] tbody tr")]
    assert len(months) == 12 and months[-1].startswith("Tháng 10/2026 14 1 5,24 0,00 0,00 5,24")
    assert months[0].startswith("Tháng 11/2025 0 0 0,00 6,00 6,00 12,00")
    listed = [text(tr) for tr in soup.select("#dossiers tbody tr")]
    assert [row.split()[0] for row in listed] == ["BMT-5", "BMT-0", "BMT-1"]
    assert "Người dân đánh giá không hài lòng" in listed[0] and "Hồ sơ trễ hạn" in listed[1]
    # The disliked dossier links to its own rating, although it has no comment and was given after the month.
    link = soup.select("#dossiers tbody tr")[0].select_one("a[href^='/dashboard/comments']")
    assert link is not None and link["href"].endswith("&dossier=BMT-5")
    ratings = page(client, link["href"]).select("#comment-results .comments li")
    assert len(ratings) == 1 and "Không hài lòng" in text(ratings[0]) and "Không để lại ý kiến" in text(ratings[0])
    assert page(client, link["href"].replace("BMT-5", "BMT-4")).select("#comment-results .comments li") == []
    overdue = page(client, "/dashboard/score766?unit=DLK&period=2026-10&show=overdue")
    assert [text(tr).split()[0] for tr in overdue.select("#dossiers tbody tr")] == ["BMT-0", "BMT-1"]
    english = text(page(client, "/dashboard/score766?unit=BMT&period=2026-10&lang=en"))
    assert "Points lost by field" in english and "This unit has no units below it." in english


def test_the_drill_down_is_scoped_and_refuses_bad_input(
    client: TestClient, session: Session, province: dict[str, Unit]
) -> None:
    logins.login(client, logins.user(session, "manager", province["krp"]))
    assert "Xã Krông Pắc" in text(page(client, "/dashboard/score766?period=2026-10"))
    outside = page(client, "/dashboard/score766?unit=BMT&period=2026-10", status=403)
    assert "BMT-0" not in text(outside)
    page(client, "/dashboard/score766?unit=KRP&period=2026-13", status=422)
    page(client, "/dashboard/score766?unit=KRP&period=2026-10&show=everything", status=422)
    page(client, "/dashboard/score766?unit=KRP&period=2026-10&page=0", status=422)

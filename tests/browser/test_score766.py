"""The QĐ 766 score card and its drill-down in real Chromium: links, the htmx period picker, English, axe."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from server.dossiers.service import upsert_dossiers
from server.models import Petition
from tests.browser.conftest import ConsoleWatcher, assert_accessible, log_in, site_fixture
from tests.factories import HCM
from tests.server.dashboard.world import build_world

pytestmark = pytest.mark.browser


def seed(session: Session) -> None:
    """The dashboard world, and October dossiers at Xã A1 and A2: 3 of 12 late, one named by a petition."""
    world = build_world(session)
    received = datetime(2026, 10, 2, 8, tzinfo=HCM)
    items = [
        {
            "code": f"HS-{i:02d}",
            "unit": "W-A1" if i % 2 else "W-A2",
            "field": "land" if i < 6 else "justice",
            "received_at": received.isoformat(),
            "due_at": (received + timedelta(days=7)).isoformat(),
            "completed_at": (received + timedelta(days=9 if i < 3 else 5)).isoformat(),
            "status": "completed",
        }
        for i in range(12)
    ]
    upsert_dossiers(session=session, items=items, scope=None, tz=HCM)
    session.add(
        Petition(
            unit_id=world.a1.id,  # type: ignore[arg-type]
            category="tthc",
            dossier_code="HS-07",
            received_at=received,
            due_at=received + timedelta(days=21),
            answered_at=received + timedelta(days=3),
            source="form",
            token="browser-766",
            content="Hồ sơ HS-07",
        )
    )


site = site_fixture(seed)


def test_the_score_card_leads_to_where_the_points_were_lost(page: Page, site: str, console: ConsoleWatcher) -> None:
    log_in(page, site, "w-manager-a", axe=True)
    page.goto(site + "/dashboard?period=2026-10")
    card = page.locator("#score766")
    # 12 − 3 late − 1 disliked = 8: 6 × 8/12 ÷ 0.9 = 4.44; one petition, on time, no reaction: 6 + 6.
    expect(card).to_contain_text("16,44")
    assert_accessible(page)

    card.get_by_role("link", name="Vì sao mất điểm: theo đơn vị, lĩnh vực, tháng và từng hồ sơ").click()
    expect(page.locator("h1")).to_contain_text("Điểm QĐ 766: Khu vực A")
    expect(page.locator("#dossiers tbody tr")).to_have_count(4)
    assert_accessible(page)

    # The filter, then the period picker (htmx swaps the body and updates the address).
    page.locator("#dossiers").get_by_role("link", name="Hồ sơ trễ hạn").click()
    expect(page.locator("#dossiers tbody tr")).to_have_count(3)
    page.get_by_label("Kỳ báo cáo").select_option("2026-09")
    page.get_by_role("button", name="Xem").click()
    expect(page).to_have_url(f"{site}/dashboard/score766?unit=W-A&period=2026-09")
    expect(page.locator("#dossiers")).to_contain_text("Không có hồ sơ nào làm mất điểm trong kỳ.")
    assert_accessible(page)

    # A child unit's own page, in English.
    page.goto(site + "/dashboard/score766?unit=W-A1&period=2026-10&lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#dossiers")).to_contain_text("View petition")
    assert_accessible(page)
    assert console.errors == [], console.errors

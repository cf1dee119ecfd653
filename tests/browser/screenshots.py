"""Regenerate the kiosk screenshots in docs/screenshots/ (1280×800 landscape and 800×1280 portrait).

Run once after changing a screen: `.venv/bin/python -m tests.browser.screenshots`. A central server (SQLite, in a
temporary database) and a paired kiosk run on loopback, and real Chromium walks each screen as a citizen would.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright
from sqlmodel import select

from server.db import make_engine, session_scope
from server.models import Counter
from tests import factories
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.browser.test_kiosk import LANDSCAPE, PORTRAIT, kiosk_site
from tests.databases import factory_for
from tests.kiosk.conftest import CentralServer, central_server

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shoot(page: Page, name: str, size: str) -> None:
    page.wait_for_timeout(300)  # fonts and the pressed-state outline settle
    path = OUT / f"kiosk-{name}-{size}.png"
    page.screenshot(path=str(path))
    print(path.relative_to(OUT.parents[1]), file=sys.stderr)


def walk(page: Page, url: str, central: CentralServer, size: str) -> None:
    page.goto(url + "/")
    expect(page.locator('[data-screen="idle"]')).to_be_visible()
    shoot(page, "1-faces-first", size)
    page.locator('[data-level="1"]').tap()
    expect(page.locator('[data-screen="fields"]')).to_be_visible()
    shoot(page, "2-field-after-the-face", size)
    page.locator('[data-field="land"]').tap()
    expect(page.locator('[data-screen="reasons"]')).to_be_visible()
    page.locator('[data-reason="waiting"]').tap()
    shoot(page, "3-reasons", size)
    page.locator("[data-timeout-submit]").tap()
    expect(page.locator('[data-screen="thanks"]')).to_be_visible()
    shoot(page, "4-thanks", size)
    engine = make_engine(central.db_url)
    with session_scope(engine) as session:
        counter = session.exec(select(Counter).where(Counter.code == central.counter_code)).one()
        factories.counter_visit(session, counter, field_code="justice")
    engine.dispose()
    expect(page.locator('[data-screen="faces"]')).to_be_visible(timeout=15_000)
    shoot(page, "5-invited-by-the-counter", size)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        sync_playwright() as p,
        factory_for("sqlite") as factory,
        central_server(factory.new_url()) as central,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        for viewport, size in ((LANDSCAPE, "1280x800"), (PORTRAIT, "800x1280")):
            with kiosk_site(central, visit_poll_seconds=0.5, thanks_seconds=2) as url:
                context = browser.new_context(viewport=viewport, has_touch=True, locale="vi-VN")  # type: ignore[arg-type]
                walk(context.new_page(), url, central, size)
                context.close()
        browser.close()


if __name__ == "__main__":
    main()

"""The printed slips in Chromium: A6 is printed on an A6 page (explicit millimetres), and the 80 mm receipt never
breaks the short link inside the token a citizen may have to type."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlmodel import Session, select

from server.models import Visit
from tests import factories, logins
from tests.browser.conftest import log_in
from tests.browser.test_phone import site
from tests.databases import DatabaseFactory

pytestmark = pytest.mark.browser

#: Splits the text of the slip's link into lines as printed: the token's characters must share one line box.
TOKEN_LINES = """(token) => {
  const url = document.querySelector('#slip .slip-url');
  const walker = document.createTreeWalker(url, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.data.indexOf(token);
    if (at >= 0) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + token.length);
      return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
    }
  }
  return -1;
}"""
#: Lengthens the printed address before the token (as a longer public address would) by `n` characters.
LONGER_ADDRESS = """(n) => {
  const url = document.querySelector('#slip .slip-url');
  const first = url.firstChild;
  if (!url.dataset.base) { url.dataset.base = first.data; }
  first.data = url.dataset.base.replace('://', '://' + 'x'.repeat(n) + '.');
}"""


def test_a6_prints_on_a6_and_the_80mm_slip_keeps_the_token_whole(
    browser: Browser, db_factory: DatabaseFactory, tmp_path: Path
) -> None:
    with site(db_factory) as s:
        with Session(s.engine, expire_on_commit=False) as session:
            user = logins.user(session, "officer", s.unit, officer=factories.officer(session, s.unit))
            session.commit()
        token = s.visit()
        with Session(s.engine) as session:  # the officer's own invitation: only its author may open its slip
            visit = session.exec(select(Visit).where(Visit.token == token)).one()
            visit.created_by_kind, visit.created_by_user_id = "officer_session", user.id
            session.add(visit)
            session.commit()
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        log_in(page, s.url, user.username, next="/console")

        page.goto(f"{s.url}/console/visits/{token}?format=a6")
        page.emulate_media(media="print")
        pdf = tmp_path / "a6.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True)
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        width, height = (float(v) / 72 * 25.4 for v in info.split("Page size:")[1].split("pts")[0].split("x"))
        assert (round(width), round(height)) == (105, 148), info  # A6, not Letter
        assert "Pages:           1" in info
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        assert token in text

        page.goto(f"{s.url}/console/visits/{token}?format=80mm")
        page.emulate_media(media="print")
        assert page.evaluate(TOKEN_LINES, token) == 1
        wrapped = 0
        for extra in range(0, 48):  # addresses of every length: wherever the line ends, it is not inside the token
            page.evaluate(LONGER_ADDRESS, extra)
            assert page.evaluate(TOKEN_LINES, token) == 1, f"the token is split with {extra} more characters"
            height = page.evaluate("() => document.querySelector('#slip .slip-url').getClientRects()[0].height")
            wrapped += height > 40  # more than one line: the address did wrap somewhere
        assert wrapped > 0, "the test never made the address wrap"
        pdf = tmp_path / "80mm.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True)
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert abs(float(info.split("Page size:")[1].split("x")[0]) / 72 * 25.4 - 80) < 0.5
        context.close()

"""Real Chromium (Debian's package) driven by Playwright, against real servers on loopback ports.

Never `playwright install`: the browser is /usr/bin/chromium. A missing browser fails the run loudly.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from sqlmodel import Session

from server.app import create_app
from tests.conftest import make_settings
from tests.databases import DatabaseFactory
from tests.logins import PASSWORD
from tests.server.dashboard.world import build_world

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text(encoding="utf-8")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """An ASGI app served by uvicorn in a background thread, stoppable."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve `app` on loopback for the block; yields its base URL."""
    server = ServerThread(app, port).start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def serve_seeded(db_factory: DatabaseFactory, seed: Callable[[Session], object]) -> Iterator[str]:
    """A fresh migrated database that `seed` fills (committed), served by the app for the block; yields its base
    URL."""
    with serve(create_app(make_settings(db_factory.seeded_url(seed)))) as base:
        yield base


def site_fixture(seed: Callable[[Session], object]) -> Any:
    """A `site` fixture: the base URL of the app serving a fresh database that `seed` filled."""

    @pytest.fixture
    def site(db_factory: DatabaseFactory) -> Iterator[str]:
        with serve_seeded(db_factory, seed) as base:
            yield base

    return site


#: The dashboard's world (tests.server.dashboard.world), served.
site = site_fixture(build_world)


def submit_login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fill in the login form the page shows and send it."""
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def log_in(page: Page, base: str, username: str, *, next: str | None = None, axe: bool = False) -> None:
    """Log `username` in through the login page at `base` (axe-checked first with `axe`); with `next`, the login
    goes there afterwards and this waits until the page is there."""
    page.goto(base + "/login" + (f"?next={next}" if next else ""))
    if axe:
        assert_accessible(page)
    submit_login(page, username)
    if next:
        page.wait_for_url(base + next)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail("browser tests need Debian's chromium at /usr/bin/chromium (make test installs it as root)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium with the flags this closed network needs."""
    b = playwright_instance.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
    yield b
    b.close()


class ConsoleWatcher:
    """Collects console errors and page errors (CSP violations included) of a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)


@pytest.fixture
def watch_console() -> Callable[[Page], ConsoleWatcher]:
    """`watcher = watch_console(page)`; assert `watcher.errors == []` at the end."""
    return ConsoleWatcher


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new page of the browser, closed after the test if the test has not closed it."""
    new = browser.new_page()
    yield new
    if not new.is_closed():
        new.close()


@pytest.fixture
def console(page: Page) -> ConsoleWatcher:
    """The console errors of `page`, watched from its start; assert `console.errors == []` at the end."""
    return ConsoleWatcher(page)


def axe_violations(page: Page, tags: tuple[str, ...] = ("wcag2a", "wcag2aa")) -> list[dict[str, Any]]:
    """Run axe-core (vendored) on the current page; returns the violations (id, impact, nodes' targets)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) does not block it.
        page.evaluate(AXE_SOURCE + "\n;undefined")
    result = page.evaluate(
        "async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " targets: v.nodes.map(n => n.target.join(' '))})); }",
        list(tags),
    )
    return list(result)


def assert_accessible(page: Page) -> None:
    """Fail with axe-core's findings when the page has WCAG 2 A/AA violations."""
    violations = axe_violations(page)
    assert violations == [], "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {v['targets'][:3]}" for v in violations
    )

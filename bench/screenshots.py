"""Screenshots of the phone rating page for the docs, in Debian's Chromium on an emulated phone.

    .venv/bin/python -m bench.screenshots [--out docs/screenshots]

Serves the app on a loopback port with a fresh SQLite database and one visit (as `bench.phone_page` does) and
writes `phone-rate.png` (the form as it opens, a not-satisfied answer chosen so the reasons show) and
`phone-errors.png` (the form sent back with mistakes: the error summary, focused, and the messages at the fields).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.phone_page import CHROME_FLAGS, serve_site
from server import PROJECT_ROOT

PHONE = {"viewport": {"width": 412, "height": 915}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="hailong-shots-") as tmp,
        serve_site(Path(tmp)) as (base, token),
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROME_FLAGS.split()[1:], headless=True)
        page = browser.new_context(**PHONE).new_page()  # type: ignore[arg-type]
        page.goto(f"{base}/r/{token}")
        page.get_by_text("Không hài lòng", exact=True).tap()
        page.get_by_label("Thời gian chờ đợi lâu").check()
        page.screenshot(path=str(args.out / "phone-rate.png"), full_page=True)
        page.goto(f"{base}/r/{token}")
        page.get_by_label("Số điện thoại hoặc email").fill("0905 000 111")
        page.get_by_role("button", name="Gửi đánh giá").tap()
        page.wait_for_selector("#error-summary:focus")
        page.screenshot(path=str(args.out / "phone-errors.png"), full_page=True)
        browser.close()
    for name in ("phone-rate.png", "phone-errors.png"):
        path = args.out / name
        print(f"{path}: {path.stat().st_size:,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())

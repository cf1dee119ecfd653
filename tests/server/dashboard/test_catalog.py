"""Every string the dashboard, login, admin and export templates show has an English entry (Vietnamese first)."""

from __future__ import annotations

import re
from pathlib import Path

from server.i18n import english_catalog

ROOT = Path(__file__).resolve().parents[3]
TRANSLATED = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")
AREAS = ("dashboard", "auth", "admin", "exports")


def test_every_template_string_has_an_english_entry() -> None:
    catalog = english_catalog()
    seen = 0
    missing = []
    for area in AREAS:
        for path in sorted((ROOT / "templates" / area).rglob("*.html")):
            for match in TRANSLATED.finditer(path.read_text(encoding="utf-8")):
                text = match.group(1) if match.group(1) is not None else match.group(2)
                seen += 1
                if text not in catalog:
                    missing.append(f"{path.relative_to(ROOT)}: {text}")
    assert seen > 100
    assert missing == []

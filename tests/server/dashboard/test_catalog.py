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


def test_every_export_string_has_an_english_entry() -> None:
    """XLSX labels are `t("…")` calls in server/exports; status words are translated the same way."""
    catalog = english_catalog()
    pattern = re.compile(r"""\bt\(\s*"((?:[^"\\]|\\.)*)"\s*\)""")
    found = [
        m.group(1)
        for path in sorted((ROOT / "server" / "exports").glob("*.py"))
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    from server.exports.xlsx_export import STATUS_WORDS

    found += list(STATUS_WORDS.values())
    assert len(found) > 30
    assert [text for text in found if text not in catalog and text != "Vietnamese text"] == []

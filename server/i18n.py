"""Vietnamese first, English second: every visible string is a Vietnamese source text looked up in a catalog.

Catalogs are JSON files `server/locales/en*.json` mapping the Vietnamese text to English; each surface keeps
its own file (`en.json`, `en_dashboard.json`, …) and they are merged at start-up. A missing entry falls back to
the Vietnamese text, and the test suite checks that every string used in a template has an English entry.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fastapi import Request

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LANG_COOKIE = "lang"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


@lru_cache(maxsize=1)
def english_catalog() -> dict[str, str]:
    """All English catalogs merged (file order is alphabetical; later files may not redefine a key)."""
    merged: dict[str, str] = {}
    for path in sorted(LOCALES_DIR.glob("en*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        clashes = {k for k in entries if k in merged and merged[k] != entries[k]}
        if clashes:
            raise ValueError(f"{path.name} translates {sorted(clashes)[0]!r} differently from another catalog")
        merged.update(entries)
    return merged


def translate(text: str, lang: str) -> str:
    """The text in `lang` (Vietnamese source text in, the same text out for `vi`)."""
    if lang == "vi":
        return text
    return english_catalog().get(text, text)


def request_language(request: Request) -> str:
    """`?lang=` wins, then the `lang` cookie, then Vietnamese."""
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT_LANGUAGE
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE

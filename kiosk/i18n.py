"""Vietnamese first: screens are written in Vietnamese; the gettext catalog `kiosk/locales/en/LC_MESSAGES/messages.po`
(read with Babel, as the server reads its own) maps each text to English."""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from babel.messages.pofile import read_po

from kiosk import KIOSK_DIR

LANGUAGES = ("vi", "en")
CATALOG = KIOSK_DIR / "locales" / "en" / "LC_MESSAGES" / "messages.po"


class Named(Protocol):
    name_vi: str
    name_en: str


@lru_cache(maxsize=1)
def english() -> dict[str, str]:
    """The English catalog (Vietnamese text → English), entries with a translation only."""
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale="en")
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and isinstance(m.id, str)}


def translate(text: str, lang: str) -> str:
    """`text` (Vietnamese) in `lang`; a missing entry falls back to the Vietnamese."""
    return text if lang == "vi" else english().get(text, text)


def pick_language(*candidates: str | None) -> str:
    """The first supported language among the candidates, else Vietnamese."""
    return next((c for c in candidates if c in LANGUAGES), "vi")


def name_in(item: Named, lang: str) -> str:
    """The display name of a field, reason or level in `lang`."""
    return item.name_en if lang == "en" and item.name_en else item.name_vi

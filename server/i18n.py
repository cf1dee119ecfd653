"""Vietnamese first, English second: every visible string is a Vietnamese source text looked up in a catalog.

Catalogs are JSON files `server/locales/en*.json` mapping the Vietnamese text to English; each surface keeps
its own file (`en.json`, `en_dashboard.json`, …) and they are merged at start-up. A missing entry falls back to
the Vietnamese text, and the test suite checks that every string used in a template has an English entry.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class LanguageCookieMiddleware:
    """Remembers a `?lang=` choice in the `lang` cookie (pure ASGI: no cost for requests without it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lang = None
        # Not on the public pages: their language is the URL's alone, and a Set-Cookie would keep proxies from
        # caching them (server/public/routes.py).
        if (
            scope["type"] == "http"
            and b"lang=" in scope.get("query_string", b"")
            and not scope.get("path", "").startswith("/cong-khai")
        ):
            values = parse_qs(scope["query_string"].decode("latin-1")).get("lang", [])
            lang = values[-1] if values and values[-1] in LANGUAGES else None
        if lang is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

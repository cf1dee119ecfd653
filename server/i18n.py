"""Vietnamese first, English second: every visible string is a Vietnamese source text looked up in a catalog.

The catalog is a gettext PO file, `server/locales/en/LC_MESSAGES/messages.po` (msgid the Vietnamese text, msgstr
the English), read with Babel as the kiosk reads its own (`kiosk/i18n.py`). A new string gets its entry there; a
missing or empty one falls back to the Vietnamese text, and the test suite lists every string used in a template
without an English entry.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from babel.messages.pofile import read_po
from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LANG_COOKIE = "lang"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


CATALOG = LOCALES_DIR / "en" / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path) -> dict[str, str]:
    """A PO file's translations: msgid → msgstr, for the entries that have one."""
    with path.open("rb") as f:
        catalog = read_po(f, locale="en")
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and isinstance(m.id, str)}


@lru_cache(maxsize=1)
def english_catalog() -> dict[str, str]:
    """The English catalog (Vietnamese text → English)."""
    return read_catalog(CATALOG)


def translate(text: str, lang: str) -> str:
    """The text in `lang` (Vietnamese source text in, the same text out for `vi`)."""
    if lang == "vi":
        return text
    return english_catalog().get(text, text)


def language_href(request: Request, lang: str) -> str:
    """A relative link to the same page in `lang`: never built from the `Host` header, which a client chooses
    (issue 19, finding 11), and never `//host…` (a link to another site)."""
    path = "/" + request.url.path.lstrip("/")
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
    return f"{path}?{urlencode(query)}"


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

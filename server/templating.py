"""Jinja2 set-up: one environment for the central server, with translation and language in every template."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from server import PROJECT_ROOT
from server.contracts import face_drawing
from server.i18n import language_href, request_language, translate
from server.messages import Message, in_language
from server.presentation.formatting import FILTERS

TEMPLATES_DIR = PROJECT_ROOT / "templates"

#: The HTTP status texts people see on the friendly error page (Vietnamese source text).
ERROR_TITLES = {
    400: "Yêu cầu không hợp lệ",
    401: "Cần đăng nhập",
    403: "Không có quyền truy cập",
    404: "Không tìm thấy trang",
    409: "Đã được ghi nhận trước đó",
    410: "Liên kết đã hết hạn",
    413: "Dữ liệu gửi lên quá lớn",
    422: "Dữ liệu chưa hợp lệ",
    429: "Quá nhiều yêu cầu",
}


def language_context(lang: str) -> dict[str, Any]:
    """`lang` and the `_()` translating into it: what a template rendered outside a request needs."""
    return {"lang": lang, "_": lambda text: translate(text, lang)}


def _language_context(request: Request) -> dict[str, Any]:
    return {**language_context(request_language(request)), "lang_href": functools.partial(language_href, request)}


def _auth_context(request: Request) -> dict[str, Any]:
    # Set by server.auth.deps.get_auth when the request has a live session (the user menu, the CSRF meta tag).
    auth = getattr(request.state, "auth", None)
    return {"current_user": auth.user if auth else None, "csrf_token": auth.csrf_token if auth else ""}


def make_templates() -> Jinja2Templates:
    """The template environment; `_()` and `lang` come from the request (`?lang=` or the `lang` cookie).

    Templates are read and compiled once per process (restart the server after editing one): Jinja2's
    `auto_reload` would stat every template file, and each one it extends or includes, on every render."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[_language_context, _auth_context])
    templates.env.auto_reload = False
    templates.env.globals["error_titles"] = ERROR_TITLES
    templates.env.globals["face_drawing"] = lambda kind: Markup(face_drawing(kind))
    templates.env.filters.update(FILTERS)
    return templates


def app_templates(request: Request) -> Jinja2Templates:
    """The app's template environment (`make_templates`, built once in `create_app`)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


def is_htmx(request: Request) -> bool:
    """Whether htmx made the request (answer with the partial, not the full page)."""
    return request.headers.get("HX-Request") == "true"


def render_error_page(
    request: Request, status_code: int, message: str | Message, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """The friendly error page people see instead of JSON (the services' messages in the page's language)."""
    text = in_language(message, request_language(request))
    return app_templates(request).TemplateResponse(
        request,
        "error.html",
        {"status_code": status_code, "message": text},
        status_code=status_code,
        headers=headers,
    )

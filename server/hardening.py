"""Defences against bad input that no single surface owns: a cap on request bodies and NUL characters in text.

- `BodySizeLimitMiddleware`: every request body is capped (64 KB; CSV uploads of the admin pages 6 MB; ingest
  routes as `ROUTE_BODY_LIMITS` sizes them, e.g. 1 MB for 1,000 dossiers, 8 MB for 500 petitions). A declared
  `Content-Length` over the cap is refused before anything is read; a body that grows past it while streaming is
  refused as soon as it does.
  Either way the answer is 413 (`{"detail"}` or the friendly page) and no handler runs, so nothing is half-written.
  `POST /api/v1/ratings` and the phone form enforce their own caps.
- `install_nul_guard(engine)`: PostgreSQL cannot store NUL (U+0000) in text, and refuses it even in a lookup. Any
  string parameter holding one is answered 422 on every backend (the same behaviour on SQLite), never a 500.
- `clean_text(...)`: free text from citizens (comments, contacts) without NUL and other invisible control
  characters (newlines and tabs kept); what remains is stored as typed and always rendered escaped.
- `harden_engine(engine)`: the NUL guard, and SQL debug logs without result rows.
- `install_log_redaction()`: uvicorn's access log shows `/r/…` instead of a visit's token (a rating link).
- `client_source(ip)`: what a per-address limit counts (an IPv4 address, an IPv6 /64).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import Invalid, PayloadTooLarge, error_response

#: The largest body of an ordinary request (forms, JSON).
MAX_BODY_BYTES = 64 * 1024
#: The largest body of an admin CSV upload (the file itself is capped at 5 MB by the admin pages).
MAX_UPLOAD_BODY_BYTES = 6 * 1024 * 1024
#: Paths that read and cap their own bodies (the ingest's limit depends on HAILONG_MAX_BATCH); the phone form
#: (`/r/...`) caps its own at 16 KB, with a friendly page of its own.
SELF_CAPPED = ("/api/v1/ratings",)
#: Ingest routes whose bodies are larger than an ordinary request's, sized for what each carries: 1,000 dossiers;
#: 500 petitions (`server.petitions.api.MAX_IMPORT`) of up to 4,000 characters each, which in Vietnamese sent as
#: JSON `\uXXXX` escapes take about 2.5 bytes a character: 10 KB an item, 5 MB a full batch, 8 MB with room to spare.
ROUTE_BODY_LIMITS = {"/api/v1/dossiers": 1024 * 1024, "/api/v1/petitions": 8 * 1024 * 1024}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """`value` without NUL and other C0 control characters except tab, newline and carriage return."""
    return _CONTROL.sub("", value)


def client_source(ip: str | None) -> str:
    """The source a per-address limit counts: an IPv4 address itself, an IPv6 address's /64 (one subscriber gets a
    whole /64, so counting single IPv6 addresses would let one caller rotate through 2^64 of them)."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def body_limit(path: str) -> int | None:
    """The body cap of a path (None: the route enforces its own)."""
    if path in SELF_CAPPED or path.startswith("/r/"):
        return None
    if path in ROUTE_BODY_LIMITS:
        return ROUTE_BODY_LIMITS[path]
    if path.startswith("/admin/") and path.endswith("/import"):
        return MAX_UPLOAD_BODY_BYTES
    return MAX_BODY_BYTES


class BodyTooLarge(PayloadTooLarge):
    """Raised from `receive` when a streamed body passes its cap."""


class BodySizeLimitMiddleware:
    """413 for any request body larger than `body_limit(path)`, before a handler can act on it (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = body_limit(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge("the request body is larger than {kb} KB", kb=limit // 1024)
        message = too_large.text
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(Request(scope), 413, message)(scope, receive, send)
            return

        received = 0
        exceeded = False
        replaced = False

        async def capped_receive() -> Message:
            nonlocal received, exceeded
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise too_large
            return msg

        async def guarded_send(msg: Message) -> None:
            nonlocal replaced
            if msg["type"] == "http.response.start" and exceeded and msg["status"] != 413:
                # The framework turned the refusal into another error (e.g. a body parse error): answer 413.
                replaced = True
                await error_response(Request(scope), 413, message)(scope, receive, send)
                return
            if not replaced:
                await send(msg)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except BodyTooLarge:
            # Raised where no handler turns it into a response (server/admission.py reads bodies before the app).
            if not exceeded:
                raise
            await error_response(Request(scope), 413, message)(scope, receive, send)


class DropResultRows(logging.Filter):
    """SQLAlchemy at DEBUG logs every result row (tokens, comments, contacts): those records are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


def harden_engine(engine: sa.Engine) -> None:
    """The NUL guard below, and SQL logs without result rows (parameters are hidden by `make_engine`)."""
    install_nul_guard(engine)
    sql_log = logging.getLogger("sqlalchemy.engine.Engine")
    if not any(isinstance(f, DropResultRows) for f in sql_log.filters):
        sql_log.addFilter(DropResultRows())


def install_nul_guard(engine: sa.Engine) -> None:
    """Refuse (422) any statement whose string parameters contain NUL, before the database sees it."""

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse_nul(
        conn: sa.Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if _has_nul(parameters):
            raise Invalid("text may not contain NUL (U+0000) characters")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


#: Paths whose segment after the prefix is a capability (a visit's rating link and QR codes, a petition's link).
_CAPABILITY_PATH = re.compile(r"(/r/|/api/v1/visits/|/console/visits/|/pakn/)[^/?\s\"]+")


def redact_path(text: str) -> str:
    """`text` with visit tokens in paths replaced by `…` (access logs must not hand out rating links)."""
    return _CAPABILITY_PATH.sub(r"\1…", text)


class RedactCapabilitiesFilter(logging.Filter):
    """Log filter for uvicorn's access log: the path of a rating link or QR code loses its token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True


def install_log_redaction() -> None:
    """Add the redacting filter to uvicorn's access logger once per process."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactCapabilitiesFilter) for f in access.filters):
        access.addFilter(RedactCapabilitiesFilter())

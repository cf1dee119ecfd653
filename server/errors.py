"""Application errors carry their HTTP status; one set of handlers turns them into JSON or a friendly page."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from server.contracts import NOT_PRINTABLE, PRINTABLE, PRINTABLE_NONEMPTY
from server.messages import Message

log = logging.getLogger("hailong")


class AppError(Exception):
    """An error a caller can act on: a message and the HTTP status it maps to.

    The message is an English template and its values (`NotFound("unknown unit {unit!r}", unit=code)`, see
    server/messages.py): `message` is the English text (the API's `detail`, the CLI's error), `text` the
    `Message` a page shows in its own language (`in_language`).
    """

    status_code = 400

    def __init__(
        self, message: str, status_code: int | None = None, headers: dict[str, str] | None = None, **values: object
    ) -> None:
        self.text = Message(message, **values)
        self.message = str(self.text)
        super().__init__(self.message)
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers

    def in_language(self, lang: str) -> str:
        """The message in `lang` (from the error catalog; English when it has no entry)."""
        return self.text.in_language(lang)


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class Gone(AppError):
    status_code = 410


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class PayloadTooLarge(AppError):
    status_code = 413


class Invalid(AppError):
    status_code = 422


class TooManyRequests(AppError):
    status_code = 429


class ErrorDetail(BaseModel):
    """Every API error: `{"detail": "..."}` with a 4xx status (docs/API.md)."""

    detail: str


#: What each error status means to an API caller, for the OpenAPI schema.
ERROR_MEANINGS: dict[int, str] = {
    400: "Bad request",
    401: "Missing, unknown or revoked credentials",
    403: "Not allowed for these credentials (e.g. a unit outside the key's subtree)",
    404: "Not found",
    409: "Conflict with the stored state",
    410: "Gone (expired)",
    408: "The request body did not arrive in time (no progress for HAILONG_BODY_TIMEOUT_SECONDS)",
    413: "Request body too large",
    422: "Malformed or invalid input",
    429: "Too many requests; retry later",
}


def error_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented with the `{"detail": str}` body (`descriptions` by `s401`)."""
    return {
        status: {"model": ErrorDetail, "description": descriptions.get(f"s{status}", ERROR_MEANINGS[status])}
        for status in statuses
    }


def document_errors_in_openapi(app: FastAPI) -> None:
    """FastAPI documents its 422 as a list of validation errors; this app answers every error `{"detail": str}`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = ErrorDetail.model_json_schema() | {"title": "HTTPValidationError"}
                schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


#: FastAPI's message when a JSON body cannot be decoded.
BODY_PARSE_ERROR = "There was an error parsing the body"


def wants_json(request: Request) -> bool:
    """API paths and clients that do not ask for HTML get JSON errors; people get a page."""
    path = request.url.path
    if path.startswith("/api/") or path in ("/healthz", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" not in accept


_PRINTABLE = (PRINTABLE, PRINTABLE_NONEMPTY)


def describe_validation_errors(errors: Any) -> str:
    """Turn pydantic's error list into one sentence a person can act on."""
    parts = []
    for err in list(errors)[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form"))
        msg = err.get("msg", "invalid value")
        if err.get("type") == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") in _PRINTABLE:
            msg = NOT_PRINTABLE  # rather than the pattern itself
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def error_response(
    request: Request, status_code: int, message: str | Message, headers: dict[str, str] | None = None
) -> Response:
    """JSON `{"detail": ...}` (English) for the API, the friendly error page (in the page's language) for browsers."""
    if wants_json(request):
        return JSONResponse({"detail": str(message)}, status_code=status_code, headers=headers)
    from server.templating import render_error_page  # late import: templating needs settings from the app

    return render_error_page(request, status_code, message, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error a status, a message and no traceback."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return error_response(request, exc.status_code, exc.text, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, describe_validation_errors(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 400 and message == BODY_PARSE_ERROR:
            # FastAPI's answer to a body that is not JSON (or not UTF-8): a malformed request, like any other.
            return error_response(request, 422, "the request body is not valid JSON (UTF-8)")
        return error_response(request, exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def _database_unavailable(request: Request, exc: sqlalchemy.exc.OperationalError) -> Response:
        # The database is down or restarting (not a bug here): 503 so that kiosks and people simply try again.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, str(exc.orig).strip())
        return error_response(
            request, 503, "the database is unavailable for a moment; try again shortly", {"Retry-After": "5"}
        )

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect) -> Response:
        from server.hardening import redact_path  # late import: hardening builds on this module

        # The client hung up before its whole body arrived (a timeout, a kiosk on a bad line): nothing was done
        # and nobody reads the answer. Under overload (bench.soak) these came by the hundred as tracebacks.
        log.info(
            "client disconnected before sending its request body: %s %s", request.method, redact_path(request.url.path)
        )
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        from server.hardening import redact_path  # late import: hardening builds on this module

        log.exception("unhandled error on %s %s", request.method, redact_path(request.url.path))
        return error_response(request, 500, "internal error; it has been logged")

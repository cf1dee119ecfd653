"""Public disclosure without a login: `/cong-khai` (page), `data.json`, `data.csv` and a badge per unit.

The one surface anyone can hit, thousands at once after a newspaper article: every answer is built once per worker
from one snapshot of precomputed figures (`service.build_snapshot`) and kept, rendered and gzipped, for
`HAILONG_PUBLIC_CACHE_SECONDS` (`app.state.public_cache`, by what was asked); the finished answer is also kept by its
exact URL (`app.state.public_answers`, apart, so that made-up URLs cannot push the figures out), from which
`PublicCacheMiddleware` answers before routing: a hit costs no database work, no routing and no thread. Answers carry a
strong ETag (a hash of the bytes, which carry the data's own time, never the clock's: every worker agrees),
`Cache-Control: public, max-age` and `Last-Modified` (when the data last changed), so a reverse proxy or the reader's
browser can answer repeats (304). The language comes from `?lang=` alone (not the cookie), so one URL is one answer
for every reader and cache.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import format_datetime
from typing import Annotated, Any, TypeVar

import anyio
import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from server.cache import TimedCache
from server.deps import SessionDep
from server.errors import NotFound, error_responses
from server.exports.service import content_disposition
from server.i18n import LANGUAGES
from server.indices.periods import Period, period_choices
from server.presentation.charts import trend_chart
from server.presentation.formatting import format_period
from server.public import opendata, service
from server.templating import language_context

T = TypeVar("T")
log = logging.getLogger("hailong")

router = APIRouter(prefix="/cong-khai", tags=["public disclosure"])

UnitQuery = Annotated[
    str | None,
    Query(max_length=64, description="Unit code; its row and every published unit below it. Default: the province."),
]
PeriodQuery = Annotated[
    str | None,
    Query(
        max_length=32,
        description="`YYYY-MM`, `YYYY-Qn` or `YYYY`. Default: the last whole month.",
        examples=["2026-10"],
    ),
]
LangQuery = Annotated[str | None, Query(max_length=8, description="`vi` (default) or `en`")]
SortQuery = Annotated[str | None, Query(max_length=8, description="ranking order: rate (default), name or n")]
ERRORS = error_responses(404, 422, s404="Unknown or unpublished unit", s422="Malformed period")


@dataclass(frozen=True)
class Rendered:
    """An answer kept in the cache: its bytes, gzipped too, its ETag and when its data last changed."""

    body: bytes
    gzipped: bytes
    etag: str
    media_type: str
    generated_at: datetime
    headers: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def of(body: bytes, media_type: str, generated_at: datetime, headers: dict[str, str] | None = None) -> Rendered:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        extra = tuple((headers or {}).items())
        return Rendered(body, gzip.compress(body, 6, mtime=0), etag, media_type, generated_at, extra)

    def answer(self, *, if_none_match: str, accept_encoding: str, seconds: int) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a reader: 304 when it holds this ETag already, gzip when it accepts it."""
        headers = {
            "ETag": self.etag,
            "Cache-Control": f"public, max-age={seconds}" if seconds > 0 else "no-cache",
            "Last-Modified": format_datetime(self.generated_at, usegmt=True),
            "Vary": "Accept-Encoding",
            **dict(self.headers),
        }
        if if_none_match and (
            if_none_match.strip() == "*"
            or self.etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        ):
            return 304, headers, b""
        headers["Content-Type"] = self.media_type
        if "gzip" in accept_encoding:
            headers["Content-Encoding"] = "gzip"
            return 200, headers, self.gzipped
        return 200, headers, self.body


class _Miss(Exception):
    """Not in the cache (fresh or being refreshed): compute it off the event loop."""


def _raise_miss() -> Any:
    raise _Miss


async def _cached(request: Request, session: Session, key: tuple[Any, ...], build: Callable[[Session], T]) -> T:
    """`build(session)` kept in the public cache under `key`. A hit is answered on the event loop; a miss computes
    in the thread pool with the request's session; an expired value is served while a refresh with a session of
    its own replaces it."""
    cache: TimedCache = request.app.state.public_cache
    engine = request.app.state.engine

    def refresh() -> T:
        with Session(engine) as own:
            return build(own)

    try:
        return cache.get_or_compute(key, _raise_miss, refresh=refresh)
    except _Miss:
        return await anyio.to_thread.run_sync(
            lambda: cache.get_or_compute(key, lambda: build(session), refresh=refresh)
        )


def _cached_sync(request: Request, session: Session, key: tuple[Any, ...], build: Callable[[Session], T]) -> T:
    """The same cache from code already running in a worker thread (a page being built needs its snapshot)."""
    cache: TimedCache = request.app.state.public_cache
    engine = request.app.state.engine

    def refresh() -> T:
        with Session(engine) as own:
            return build(own)

    return cache.get_or_compute(key, lambda: build(session), refresh=refresh)


def _language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else "vi"


def _today(request: Request) -> date:
    return datetime.now(request.app.state.settings.tz).date()


def _publication(request: Request, session: Session) -> service.Publication:
    settings = request.app.state.settings
    return _cached_sync(request, session, ("publication",), lambda s: service.publication(session=s, settings=settings))


def _snapshot(request: Request, session: Session, code: str | None, period: Period) -> tuple[service.Snapshot, str]:
    """The snapshot that publishes `code` (default: the province) for `period`, and the unit's code."""
    settings = request.app.state.settings
    pub = _publication(request, session)
    if code:
        unit = pub.units.get(code)
        if unit is None:
            raise NotFound("unit {code!r} is not published", code=code)
    else:
        unit = pub.default_unit()
    top = pub.top_of(unit.code)

    def build(s: Session) -> service.Snapshot:
        current = service.publication(session=s, settings=settings)
        return service.build_snapshot(
            session=s, publication=current, top=current.top_of(top.code), period=period, tz=settings.tz
        )

    return _cached_sync(request, session, ("snapshot", top.code, period.code), build), unit.code


def _respond(request: Request, rendered: Rendered) -> Response:
    """The kept answer with its caching headers; also kept under the request's own path and query, from which
    `PublicCacheMiddleware` answers the next identical requests before routing."""
    answers: TimedCache = request.app.state.public_answers
    answers.get_or_compute(raw_key(request.url.path, request.scope.get("query_string", b"")), lambda: rendered)
    status, headers, body = rendered.answer(
        if_none_match=request.headers.get("if-none-match", ""),
        accept_encoding=request.headers.get("accept-encoding", ""),
        seconds=int(request.app.state.settings.public_cache_seconds),
    )
    media_type = headers.pop("Content-Type", None)
    return Response(body, status_code=status, headers=headers, media_type=media_type)


def raw_key(path: str, query_string: bytes) -> tuple[str, str, bytes]:
    """The cache key of an answer by its URL exactly as requested."""
    return ("raw", path, query_string)


class PublicCacheMiddleware:
    """Answers a GET under /cong-khai from the public cache by its exact URL, before routing and dependencies (a warm
    answer then costs about what a static file does); anything not kept, or kept longer ago than the cache's
    lifetime, goes on to the routes, which compute, refresh and keep it."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith("/cong-khai"):
            await self.app(scope, receive, send)
            return
        answers: TimedCache = self.state.public_answers
        try:
            rendered: Rendered = answers.get_or_compute(
                raw_key(scope["path"], scope.get("query_string", b"")), _raise_miss
            )
        except _Miss:
            await self.app(scope, receive, send)
            return
        wanted = {k: v for k, v in scope["headers"] if k in (b"if-none-match", b"accept-encoding")}
        status, headers, body = rendered.answer(
            if_none_match=wanted.get(b"if-none-match", b"").decode("latin-1"),
            accept_encoding=wanted.get(b"accept-encoding", b"").decode("latin-1"),
            seconds=int(self.state.settings.public_cache_seconds),
        )
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if status == 200:
            raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def _query(**params: str | None) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in params.items() if v})


@router.get("", include_in_schema=False)
async def public_page(
    request: Request,
    session: SessionDep,
    unit: UnitQuery = None,
    period: PeriodQuery = None,
    lang: LangQuery = None,
    sort: SortQuery = None,
) -> Response:
    """The public page of a unit (default: the province): rate, interval, trend, fields and the ranking below it."""
    language = _language(lang)
    chosen = service.public_period(period, today=_today(request))
    order = service.parse_sort(sort)
    settings = request.app.state.settings
    templates = request.app.state.templates

    def build(s: Session) -> Rendered:
        snapshot, code = _snapshot(request, s, unit, chosen)
        row = snapshot.row(code)
        months = service.trend(
            session=s, unit_id=snapshot.ids[code], period=chosen, min_sample=snapshot.min_sample, settings=settings
        )
        rank, few = service.ranked(snapshot.below(code), order)
        crumbs = [snapshot.rows[c] for c in snapshot.rows if snapshot.paths[code].startswith(snapshot.paths[c])]
        base = {"unit": code, "period": chosen.code, "lang": "en" if language == "en" else None}
        context = {
            "row": row,
            "period": chosen,
            "snapshot": snapshot,
            "crumbs": crumbs[:-1],
            "fields": service.unit_fields(
                session=s,
                unit_id=snapshot.ids[code],
                period=chosen,
                min_sample=snapshot.min_sample,
                settings=settings,
                total_withheld=row.withheld,
            ),
            "trend_rows": months,
            "chart": trend_chart(months, row.target),
            "ranked": rank,
            "few": few,
            "sort": order,
            "choices": period_choices(today=_today(request), selected=chosen),
            "query": lambda **over: _query(**{**base, **over}),
            "switch": _query(**{**base, "lang": None if language == "en" else "en", "sort": order if sort else None}),
            "licence": settings.public_licence,
            "licence_url": settings.public_licence_url,
            "base_url": settings.public_base_url,
            "tz": settings.tz,
            **language_context(language),
        }
        html = templates.get_template("public/page.html").render(context)
        return Rendered.of(html.encode("utf-8"), "text/html; charset=utf-8", snapshot.generated_at)

    key = ("page", unit or "", chosen.code, language, order)
    return _respond(request, await _cached(request, session, key, build))


def _data(request: Request, unit: str | None, period: str | None, kind: str) -> Callable[[Session], Rendered]:
    settings = request.app.state.settings
    chosen = service.public_period(period, today=_today(request))
    licence = {"Link": f'<{settings.public_licence_url}>; rel="license"', "Access-Control-Allow-Origin": "*"}

    def build(s: Session) -> Rendered:
        snapshot, code = _snapshot(request, s, unit, chosen)
        rows = snapshot.subtree(code)
        if kind == "csv":
            disposition = content_disposition("cong-khai", code, chosen.code, fmt="csv", sep="-", disposition="inline")
            headers = {**licence, "Content-Disposition": disposition}
            return Rendered.of(
                opendata.data_csv(rows, generated_at=snapshot.generated_at),
                "text/csv; charset=utf-8",
                snapshot.generated_at,
                headers,
            )
        body = opendata.data_json(
            period=chosen.code,
            unit=code,
            generated_at=snapshot.generated_at,
            licence={"name": settings.public_licence, "url": settings.public_licence_url},
            min_sample=snapshot.min_sample,
            rows=rows,
        )
        return Rendered.of(body, "application/json", snapshot.generated_at, licence)

    return build


@router.get(
    "/data.json",
    response_class=Response,
    summary="Published figures of a unit and every published unit below it",
    responses=ERRORS,
)
async def data_json(
    request: Request, session: SessionDep, unit: UnitQuery = None, period: PeriodQuery = None
) -> Response:
    """`{"period", "unit", "generated_at", "licence", "min_sample", "rows"}`: one row per unit (its whole subtree's
    figures): `unit`, `name`, `parent`, `n`, `rate`, `ci_low`, `ci_high`, `status`, `score_766`. Below the minimum
    sample `rate` and the interval are null, and so where they would let a reader subtract a smaller figure (status
    `withheld`); `score_766` is null where the unit's ratings, dossiers or petitions are under the minimum sample.
    The same numbers as `/api/v1/indices` otherwise; no login."""
    build = _data(request, unit, period, "json")
    chosen = service.public_period(period, today=_today(request))
    return _respond(request, await _cached(request, session, ("json", unit or "", chosen.code), build))


@router.get("/data.csv", response_class=Response, summary="The same rows as data.json, as CSV", responses=ERRORS)
async def data_csv(
    request: Request, session: SessionDep, unit: UnitQuery = None, period: PeriodQuery = None
) -> Response:
    """RFC 4180, UTF-8 with a BOM, a header line then one line per row (columns as data.json's rows, then
    `generated_at`)."""
    build = _data(request, unit, period, "csv")
    chosen = service.public_period(period, today=_today(request))
    return _respond(request, await _cached(request, session, ("csv", unit or "", chosen.code), build))


@router.get(
    "/badge/{code}.svg",
    response_class=Response,
    summary="An SVG badge of a unit's rate, to embed on its own website",
    responses=ERRORS,
)
async def badge(
    request: Request, session: SessionDep, code: str, period: PeriodQuery = None, lang: LangQuery = None
) -> Response:
    """The unit's satisfaction rate for the period (or "chưa đủ số đánh giá"), 20 px high."""
    language = _language(lang)
    chosen = service.public_period(period, today=_today(request))

    def build(s: Session) -> Rendered:
        snapshot, unit_code = _snapshot(request, s, code, chosen)
        row = snapshot.row(unit_code)
        body = opendata.badge_svg(
            name=row.name, row=row, period_label=format_period(chosen.code, language), lang=language
        )
        return Rendered.of(body, "image/svg+xml", snapshot.generated_at, {"Access-Control-Allow-Origin": "*"})

    return _respond(request, await _cached(request, session, ("badge", code[:64], chosen.code, language), build))


async def warm_up_public_page(app: Any) -> None:
    """Answer the default public page once, in process, when a worker starts and before it serves: every code path
    of a page (statements compiled and planned, templates rendered, number and date formats loaded, gzip) runs once,
    so that a reader's first page pays only for its own figures. The answer stays in the worker's cache like any
    other; a failure is logged and changes nothing."""
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.get("/cong-khai", headers={"Accept-Encoding": "gzip"})
    except Exception:
        log.exception("warming up the public page failed (nothing else changes)")

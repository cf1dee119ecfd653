"""The kiosk's touch UI: a small FastAPI app that Chromium shows full-screen, served from local files only.

Screens are server-rendered and swapped by htmx into `#app`; each one is a form carrying the rating in progress
(id, field, visit, level, language), so the server keeps no per-citizen state. A face tap commits the rating to
the outbox and answers "thank you" without touching the network.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiosk import KIOSK_DIR, __version__
from kiosk.central import CentralError, Refused
from kiosk.config import KioskSettings
from kiosk.i18n import name_in, pick_language, translate
from kiosk.icons import CHECK_SVG, face_kind, face_svg, field_icon, reason_icon
from kiosk.runtime import Runtime, TapRefused, dumps
from server.contracts import ChoiceInfo

log = logging.getLogger("hailong.kiosk")

STAFF_COOKIE = "kiosk_staff"
# The header htmx adds to every request from the kiosk's own screens (`hx-headers` in _app.html), carrying the
# token this process made when it started; every POST must carry it (issue 19, finding 8).
SCREEN_HEADER = "X-Kiosk-Screen"
REFUSED = (
    "Yêu cầu bị từ chối: chỉ màn hình của chính máy đánh giá này được gửi yêu cầu này. / "
    "Request refused: only this kiosk's own screens may send this."
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class NotOwnScreen(Exception):
    """A POST that did not come from the kiosk's own screens; `stale` when it came from one of its pages that an
    earlier run of the app served (the token changed when the app restarted): that page reloads itself."""

    def __init__(self, stale: bool) -> None:
        super().__init__(REFUSED)
        self.stale = stale


class SecurityHeaders:
    """CSP without inline scripts on every response; pages are never cached (the screen is always current)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [h for h in HEADERS if not (static and h[0] == b"cache-control")]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def screen_language(lang: str | None = None, set_lang: str | None = None) -> str:
    """The language a screen is shown in: the toggle's `set_lang`, else the screen's own `lang`, else Vietnamese."""
    return pick_language(set_lang, lang)


ScreenLanguage = Annotated[str, Depends(screen_language)]


def create_kiosk_app(settings: KioskSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the kiosk app; the lifespan starts forwarding, heartbeats and the visit watch."""
    settings = settings or KioskSettings()
    rt = runtime or Runtime.open(settings)
    screen_token = secrets.token_urlsafe(32)  # this process's own: a new one at every start

    def own_screens_only(request: Request) -> None:
        """Every state-changing request (ratings, "Bỏ qua", the staff screens) must come from the kiosk's own
        screens: see `_from_own_screen`, and the token of this run of the app, which its pages carry and a blind
        client (`curl -H 'HX-Request: true' …` on the loopback) does not have."""
        if request.method in ("GET", "HEAD"):
            return
        if not _from_own_screen(request, settings):
            raise NotOwnScreen(stale=False)
        sent = request.headers.get(SCREEN_HEADER, "").encode("latin-1")  # headers arrive as latin-1
        if not secrets.compare_digest(sent, screen_token.encode()):
            raise NotOwnScreen(stale=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    app = FastAPI(
        title="Hài Lòng kiosk",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(own_screens_only)],
    )
    app.state.runtime = rt

    @app.exception_handler(NotOwnScreen)
    async def refuse(request: Request, exc: NotOwnScreen) -> HTMLResponse:
        """403 and nothing stored; a page of the kiosk's from before a restart reloads (htmx's `HX-Refresh`), so
        the screen in Chromium gets the new token instead of refusing every tap until someone restarts it."""
        refresh = exc.stale and request.headers.get("HX-Request") == "true"
        return HTMLResponse(REFUSED, status_code=403, headers={"HX-Refresh": "true"} if refresh else None)

    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=KIOSK_DIR / "static"), name="static")
    templates = Jinja2Templates(directory=str(KIOSK_DIR / "templates"))
    templates.env.globals.update(
        face_svg=face_svg,
        face_kind=face_kind,
        field_icon=field_icon,
        reason_icon=reason_icon,
        check_svg=CHECK_SVG,
        dumps=dumps,
        name_in=name_in,
        version=__version__,
        screen_headers=dumps({SCREEN_HEADER: screen_token}),
    )

    def render(request: Request, screen: str, lang: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """The screen as the `#app` content for htmx, or as a whole page."""
        choices = rt.choices()
        pairing = rt.pairing
        context.update(
            screen=screen,
            lang=lang,
            other_lang="en" if lang == "vi" else "vi",
            _=lambda text, **kw: translate(text, lang).format(**kw) if kw else translate(text, lang),
            choices=choices,
            pairing=pairing,
            settings=settings,
            indicator=indicator_context(lang),
        )
        name = "_app.html" if request.headers.get("HX-Request") == "true" else "page.html"
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def indicator_context(lang: str) -> dict[str, Any]:
        pending = rt.outbox.counts(counter=rt.pairing.counter if rt.pairing else None).pending
        sync = rt.sync
        if sync.online is False and sync.offline_since is not None:
            since = sync.offline_since.astimezone(settings.tz).strftime("%H:%M")
            return {"state": "offline", "text": translate("Mất kết nối từ {time}", lang).format(time=since)}
        if pending:
            return {"state": "waiting", "text": translate("{n} đánh giá đang chờ gửi", lang).format(n=pending)}
        if sync.online:
            return {"state": "synced", "text": translate("Đã đồng bộ", lang)}
        return {"state": "unknown", "text": translate("Đang kết nối…", lang)}

    def start_screen(request: Request, lang: str) -> HTMLResponse:
        if rt.pairing is None:
            return render(request, "unpaired", lang)
        if rt.sync.revoked:
            return render(request, "out_of_service", lang)
        if rt.choices() is None:  # paired by an older server: the first heartbeat brings the lists
            return render(request, "connecting", lang)
        return render(request, "idle", lang, rid=str(uuid.uuid4()))

    def pressed_at(at: str) -> str:
        """When the face was pressed: as the previous screen said, else now (the kiosk's time)."""
        return at or settings.now().astimezone(settings.tz).isoformat()

    def closed_screen(request: Request, lang: str, state: str) -> HTMLResponse:
        """The visit on screen can no longer be rated here (rated by phone, cancelled, …): say so, then idle."""
        return render(request, "visit_closed", lang, state=state)

    # --- citizen screens ----------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    @app.get("/screen/idle", response_class=HTMLResponse)
    def idle(request: Request, set_lang: str | None = None) -> HTMLResponse:
        """The invitation to rate (Vietnamese unless the citizen switched language here)."""
        return start_screen(request, pick_language(set_lang))

    @app.get("/screen/fields", response_class=HTMLResponse)
    def fields(
        request: Request,
        lang: ScreenLanguage,
        level: int = 0,
        rid: str = "",
        at: str = "",
    ) -> HTMLResponse:
        """After a face, at a counter serving several fields: large tiles, most frequent here first."""
        choices = rt.choices()
        scale = choices.level(level) if choices else None
        if not rt.in_service or scale is None:
            return start_screen(request, lang)
        return render(
            request,
            "fields",
            lang,
            level=scale,
            rid=_valid_rid(rid),
            at=pressed_at(at),
        )

    @app.get("/screen/faces", response_class=HTMLResponse)
    def faces(
        request: Request,
        lang: ScreenLanguage,
        field: str = "",
        visit: str = "",
        rid: str = "",
    ) -> HTMLResponse:
        """The four faces (most positive first) for the chosen field."""
        if not rt.in_service:
            return start_screen(request, lang)
        chosen = _field_for(rt, field, visit)
        if chosen is None:
            return start_screen(request, lang)
        if visit and (state := rt.visit_closed(visit)):
            return closed_screen(request, lang, state)
        return render(request, "faces", lang, field=chosen, visit=visit, rid=_valid_rid(rid))

    @app.get("/screen/reasons", response_class=HTMLResponse)
    def reasons(
        request: Request,
        lang: ScreenLanguage,
        field: str = "",
        visit: str = "",
        rid: str = "",
        level: int = 0,
        at: str = "",
        chosen: Annotated[list[str] | None, Query(alias="reasons")] = None,
    ) -> HTMLResponse:
        """Not satisfied: what went wrong (several allowed), then send or skip."""
        choices = rt.choices()
        scale = choices.level(level) if choices else None
        chosen_field = _field_for(rt, field, visit)
        if not rt.in_service or chosen_field is None or scale is None:
            return start_screen(request, lang)
        return render(
            request,
            "reasons",
            lang,
            field=chosen_field,
            visit=visit,
            rid=_valid_rid(rid),
            level=scale,
            at=pressed_at(at),
            chosen=set(chosen or []),
        )

    @app.post("/ratings", response_class=HTMLResponse)
    def rate(
        request: Request,
        rid: Annotated[str, Form()],
        level: Annotated[int, Form()],
        field: Annotated[str, Form()],
        visit: Annotated[str, Form()] = "",
        at: Annotated[str, Form()] = "",
        lang: Annotated[str, Form()] = "vi",
        skip: Annotated[str, Form()] = "",
        reasons: Annotated[list[str] | None, Form()] = None,
    ) -> HTMLResponse:
        """Commit the rating to the outbox, then thank the citizen (the network is never waited for).

        Only the kiosk's own screens may post here (issue 19, finding 8; `own_screens_only`). The time is the
        kiosk's: the face press (`at`, from the reasons screen) counts only when it lies within the reasons screen's
        life (`idle_reset_seconds`) before now.
        """
        started = time.perf_counter()
        lang = pick_language(lang)
        now = settings.now()
        pressed = _parse_time(at)
        if pressed is None or not now - timedelta(seconds=settings.idle_reset_seconds + 5) <= pressed <= now:
            pressed = now
        if visit and (state := rt.visit_closed(visit)):
            return closed_screen(request, lang, state)  # never thank for a rating the server will refuse
        choices = rt.choices()
        if not field and not visit and choices is not None and (only := choices.only_field) is not None:
            field = only.code
        try:
            rt.record_rating(
                rating_id=rid,
                level=level,
                field_code=field,
                visit_token=visit or None,
                reasons=[] if skip else list(reasons or []),
                rated_at=pressed,
            )
        except TapRefused:
            return start_screen(request, lang)
        except sqlite3.Error:
            log.exception("cannot store a rating in the outbox")
            return render(request, "sorry", lang)
        stored = time.perf_counter()
        response = render(request, "thanks", lang)
        # Server-Timing: how long the tap took here (stored durably, then "thank you" rendered), for bench/.
        done = time.perf_counter()
        response.headers["Server-Timing"] = (
            f"store;dur={(stored - started) * 1000:.2f}, total;dur={(done - started) * 1000:.2f}"
        )
        return response

    @app.get("/poll", response_class=HTMLResponse)
    def poll(request: Request) -> Response:
        """Asked by the idle screen: the faces for a visit the counter just started, or nothing (204)."""
        if rt.choices() is None:  # no faces to show yet: the visit stays offered
            return Response(status_code=204)
        visit = rt.take_offered_visit()
        chosen = _field_for(rt, visit.field, visit.token) if visit else None
        if visit is None or chosen is None:
            return Response(status_code=204)
        return render(request, "faces", "vi", field=chosen, visit=visit.token, rid=str(uuid.uuid4()))

    @app.get("/visit-check", response_class=HTMLResponse)
    def visit_check(request: Request, visit: str = "", lang: str | None = None) -> Response:
        """Asked by a visit's faces and reasons screens: nothing (204) while the visit is open; once the server
        says it was rated (by phone), cancelled or expired, the screen that says so."""
        state = rt.watch_shown(visit) if visit else None
        if state is None:
            return Response(status_code=204)
        return closed_screen(request, pick_language(lang), state)

    @app.post("/visits/decline", response_class=HTMLResponse)
    def decline(
        request: Request, visit: Annotated[str, Form()] = "", lang: Annotated[str, Form()] = "vi"
    ) -> HTMLResponse:
        """ "Bỏ qua" on a visit's faces: the citizen does not want to rate here; the console learns it (from the
        kiosk's own screens only, as for ratings)."""
        if visit:
            rt.decline_visit(visit)
        return start_screen(request, "vi")

    @app.get("/indicator", response_class=HTMLResponse)
    def indicator(request: Request, lang: str | None = None) -> HTMLResponse:
        """The small sync-state corner (refreshed every few seconds)."""
        lang = pick_language(lang)
        return templates.TemplateResponse(
            request, "_indicator.html", {"indicator": indicator_context(lang), "lang": lang, "settings": settings}
        )

    # --- staff --------------------------------------------------------------------------------------------------

    def staff_screen(request: Request, lang: str, **context: Any) -> HTMLResponse:
        return render(request, "staff_status", lang, status=rt.status(), **context)

    @app.get("/staff", response_class=HTMLResponse)
    def staff(request: Request, lang: str | None = None) -> HTMLResponse:
        """After the hidden long press: the PIN keypad (or the status screen when already unlocked)."""
        lang = pick_language(lang)
        if rt.is_staff(request.cookies.get(STAFF_COOKIE)):
            return staff_screen(request, lang)
        return render(request, "staff_pin", lang, message=None)

    @app.post("/staff/login", response_class=HTMLResponse)
    def staff_login(
        request: Request, pin: Annotated[str, Form()] = "", lang: Annotated[str, Form()] = "vi"
    ) -> HTMLResponse:
        """Check the PIN; open a short staff session."""
        lang = pick_language(lang)
        try:
            session = rt.check_pin(pin)
        except TapRefused:
            locked = "Nhập sai quá nhiều lần: bàn phím tạm khoá. Vui lòng thử lại sau."
            return render(request, "staff_pin", lang, message=locked)
        if session is None:
            return render(request, "staff_pin", lang, message="Mã PIN không đúng.")
        response = staff_screen(request, lang)
        response.set_cookie(STAFF_COOKIE, session, httponly=True, samesite="strict", max_age=600)
        return response

    @app.post("/staff/pair", response_class=HTMLResponse)
    async def staff_pair(
        request: Request, code: Annotated[str, Form()] = "", lang: Annotated[str, Form()] = "vi"
    ) -> HTMLResponse:
        """Exchange a pairing code for a device token (the set-up step)."""
        lang = pick_language(lang)
        if not rt.is_staff(request.cookies.get(STAFF_COOKIE)):
            return render(request, "staff_pin", lang, message=None)
        try:
            paired = await rt.pair(code.strip())
        except Refused as exc:
            return staff_screen(request, lang, pair_error=str(exc))
        except CentralError as exc:
            return staff_screen(request, lang, pair_error=translate("Không kết nối được máy chủ", lang) + f": {exc}")
        return staff_screen(request, lang, pair_ok=f"{paired.counter} · {paired.unit}")

    @app.post("/staff/requeue", response_class=HTMLResponse)
    def staff_requeue(request: Request, lang: Annotated[str, Form()] = "vi") -> HTMLResponse:
        """Send refused ratings again (after the administrator fixed the cause)."""
        lang = pick_language(lang)
        if not rt.is_staff(request.cookies.get(STAFF_COOKIE)):
            return render(request, "staff_pin", lang, message=None)
        rt.outbox.requeue_dead()
        rt.wake_forwarder()
        return staff_screen(request, lang)

    @app.post("/staff/adopt", response_class=HTMLResponse)
    def staff_adopt(request: Request, lang: Annotated[str, Form()] = "vi") -> HTMLResponse:
        """Send ratings kept from an earlier pairing under the current counter."""
        lang = pick_language(lang)
        pairing = rt.pairing
        if not rt.is_staff(request.cookies.get(STAFF_COOKIE)) or pairing is None:
            return render(request, "staff_pin", lang, message=None)
        rt.outbox.adopt_stranded(pairing.counter)
        rt.wake_forwarder()
        return staff_screen(request, lang)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """The kiosk app runs; its outbox counts and link state (for monitoring on the mini-PC)."""
        pairing = rt.pairing
        counts = rt.outbox.counts(counter=pairing.counter if pairing else None)
        return {
            "status": "ok",
            "paired": pairing is not None,
            "revoked": rt.sync.revoked,
            "online": rt.sync.online,
            "pending": counts.pending,
            "sent": counts.sent,
            "dead": counts.dead,
            "stranded": counts.stranded,
            "version": __version__,
        }

    return app


def _field_for(rt: Runtime, code: str, visit: str) -> ChoiceInfo | None:
    """The field to show; a visit's field the kiosk does not know yet (added since the last heartbeat) is shown
    by its code rather than dropped: the server takes the field from the visit anyway. Without one, the counter's
    only field when it serves only one. None before the central server's lists came."""
    choices = rt.choices()
    if choices is None:
        return None
    if not code and not visit:
        return choices.only_field
    known = choices.field(code)
    if known is None and visit and code:
        return ChoiceInfo(code=code, name_vi=code, name_en=code)
    return known


def _from_own_screen(request: Request, settings: KioskSettings) -> bool:
    """Whether a POST comes from this kiosk's own touch screens as far as headers tell (the screen token aside):
    htmx's `HX-Request` header, which no other site's page can add without a CORS preflight this app never allows,
    an `Origin` (browsers send one with every POST) naming this kiosk's own loopback address (not a page elsewhere,
    not a rebound DNS name), and no cross-site fetch."""
    if request.headers.get("HX-Request") != "true":
        return False
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (a browser always sends Origin with a POST): the screen token decides
    # Same origin as the request, and that origin is this machine (a rebound DNS name would be same-origin too).
    parsed = urlsplit(origin)
    loopback = {settings.host, "127.0.0.1", "localhost", "::1"}
    return parsed.netloc == request.headers.get("Host") and parsed.hostname in loopback


def _valid_rid(rid: str) -> str:
    try:
        return str(uuid.UUID(rid))
    except ValueError:
        return str(uuid.uuid4())


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None

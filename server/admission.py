"""Admission: a request enters the app once its body has arrived, and then only while a database slot is free.

A request holds its pooled connection across several thread-pool hops (dependencies, handler, commit). Under
overload, with more requests in flight than connections, the thread pool filled with requests waiting for a
connection while the requests holding one waited for a thread; nothing moved until the 30 s pool timeout, again
and again (found by `python -m bench.soak`). Waiting here, before the app, holds neither a thread nor a connection.

The body is read before the slot is taken (issue 19, finding 2): 20 sockets declaring a 60 KB login form and
sending 9 bytes of it took every slot, and `/healthz`, `/login` and `/r/…` timed out. A body that makes no
progress for `body_timeout` seconds is answered 408 and the connection closed; bodies up to `PREREAD_BYTES` are
held here until complete (the caps of server/hardening.py still apply), a larger one (a kiosk batch) streams into
the app under its slot, still timed. `/healthz` is never held back: it must answer while the app is full.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import messages
from server.errors import error_response

#: Paths admitted without a slot: the health check, and static files (no database).
UNLIMITED_PATHS = ("/healthz",)
#: Bodies up to this size are read completely before the request takes a slot.
PREREAD_BYTES = 1024 * 1024
#: Seconds a request body may make no progress before the request is answered 408.
BODY_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_MESSAGE = messages.Message("the request body did not arrive in time")


class BodyTimeout(Exception):
    """A request body made no progress for the allowed time."""


SLOT_KEY = "hailong.admission_slot"


class Slot:
    """A request's admission slot: taken before the app, given back after it, or for a while in between."""

    def __init__(self, gate: AdmissionLimitMiddleware) -> None:
        self.gate = gate
        self.held = False

    async def take(self) -> None:
        gate = self.gate
        if gate._slots is None:
            gate._slots = asyncio.Semaphore(gate.limit or 1)
        gate.waiting += 1
        try:
            await gate._slots.acquire()
        finally:
            gate.waiting -= 1
        self.held = True
        gate.inside += 1

    def give_back(self) -> None:
        if self.held and self.gate._slots is not None:
            self.held = False
            self.gate.inside -= 1
            self.gate._slots.release()


@asynccontextmanager
async def outside_admission(scope: Scope) -> AsyncIterator[None]:
    """Give the request's slot back for a wait that holds no connection (a queued password check), so that such
    waits cannot fill the app and hold everyone else at the door; take a slot again afterwards."""
    slot: Slot | None = scope.get(SLOT_KEY)
    if slot is None or not slot.held:
        yield
        return
    slot.give_back()
    try:
        yield
    finally:
        await slot.take()


class AdmissionLimitMiddleware:
    """Bodies first (timed), then at most `limit` HTTP requests inside the wrapped app at once (None: no limit)."""

    def __init__(self, app: ASGIApp, limit: int | None, body_timeout: float = BODY_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.limit = limit
        self.body_timeout = body_timeout
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop, on first use
        self.inside = 0  # requests in the wrapped app now
        self.waiting = 0  # requests queued for a slot now
        self.reading = 0  # requests whose body is being read now (before admission)
        self.timed_out = 0  # requests answered 408 since start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        timed_receive = self._timed(receive)
        self.reading += 1
        try:
            early, complete = await self._read_body(scope, timed_receive)
        except BodyTimeout:
            await self._answer_timeout(scope, receive, send)
            return
        finally:
            self.reading -= 1

        body_done = complete

        async def replay() -> Message:
            nonlocal body_done
            if early:
                return early.pop(0)
            if body_done:
                return await receive()  # only a disconnect is left to wait for: untimed
            message = await timed_receive()
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        if self.limit is None or scope["path"] in UNLIMITED_PATHS:
            await self._run(scope, replay, send)
            return
        slot = Slot(self)
        await slot.take()
        scope[SLOT_KEY] = slot
        try:
            await self._run(scope, replay, send)
        finally:
            slot.give_back()

    def _timed(self, receive: Receive) -> Receive:
        async def timed_receive() -> Message:
            try:
                return await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                raise BodyTimeout from None

        return timed_receive

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[list[Message], bool]:
        """The body's first messages (all of it up to `PREREAD_BYTES`, or up to the client's disconnect) and whether
        nothing more is to be read."""
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length", b"")
        if b"transfer-encoding" not in headers and (not declared.isdigit() or int(declared) == 0):
            return [], True  # no body to wait for (GET, HEAD, an empty POST)
        messages: list[Message] = []
        size = 0
        while size <= PREREAD_BYTES:
            message = await receive()
            messages.append(message)
            if message["type"] == "http.disconnect":  # the app answers (and logs) a client gone mid-body as before
                return messages, True
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return messages, True
        return messages, False

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except BodyTimeout:
            if started:
                raise
            await self._answer_timeout(scope, receive, send)

    async def _answer_timeout(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.timed_out += 1
        response = error_response(Request(scope), 408, BODY_TIMEOUT_MESSAGE, {"Connection": "close"})
        await response(scope, receive, send)

"""Admission limit: no more requests inside the app at once than the database pool has connections.

A request holds its pooled connection across several thread-pool hops (dependencies, handler, commit). Under
overload, with more requests in flight than connections, the thread pool filled with requests waiting for a
connection while the requests holding one waited for a thread; nothing moved until the 30 s pool timeout, again
and again (found by `python -m bench.soak`). Waiting here, before the app, holds neither a thread nor a connection.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class AdmissionLimitMiddleware:
    """At most `limit` HTTP requests (static files excepted) inside the wrapped app at once; the others wait."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop, on first use
        self.inside = 0  # requests in the wrapped app now
        self.waiting = 0  # requests queued for a slot now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.inside += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inside -= 1
            self._slots.release()

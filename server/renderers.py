"""XLSX and PDF files rendered in processes of their own, so that a long render never slows the requests around it.

A server worker runs every request on one interpreter. A render is pure Python for tenths of a second (a province's
XLSX) to seconds (a yearly PDF); in the worker, it would hold the interpreter lock while the kiosk batches and phone
pages the worker serves meanwhile wait for it between their database round trips. A render needs only the figures
already read, so the request's thread hands them to a small pool of processes, at a lower priority than the server's
(requests first), and waits without holding the lock. The processes are forked from a server process that imported
the renderers once (`forkserver`): starting one costs milliseconds, not the imports.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from fastapi import Request
from sqlmodel import Session

P = ParamSpec("P")
R = TypeVar("R")

#: What every render process needs, imported once in the fork server.
PRELOAD = [
    "server.exports.service",
    "server.exports.xlsx_export",
    "server.exports.pdf_export",
    "server.appraisal.export",
]
#: How much lower a render process's priority is than the server's (`nice`).
NICENESS = 10

logger = logging.getLogger(__name__)


def _lower_priority() -> None:
    os.nice(NICENESS)


class RenderPool:
    """Runs renders in up to `processes` processes, started on the first render (0: in the caller's thread)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, render: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """`render(*args, **kwargs)` in a render process (its exceptions raised here). Should a process die (killed
        for memory, say), the pool is replaced and this render done in the caller's thread: the file still comes."""
        if self.processes == 0:
            return render(*args, **kwargs)
        pool = self._started()
        try:
            return pool.submit(render, *args, **kwargs).result()
        except BrokenProcessPool:
            logger.warning("a render process stopped unexpectedly; rendering in the server and starting new ones")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return render(*args, **kwargs)

    def pids(self) -> list[int]:
        """The render processes running now (none before the first render)."""
        pool = self._pool
        return sorted(pool._processes) if pool is not None and pool._processes else []

    def close(self) -> None:
        """Stop the render processes (renders under way finish first)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
                self._pool = ProcessPoolExecutor(self.processes, mp_context=context, initializer=_lower_priority)
            return self._pool


def render_file(request: Request, session: Session, render: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """A file of figures already read: end the request's transaction first, so the render holds neither a connection
    nor, on SQLite, anything a writer waits for (issue 19, finding 1), then render in the app's render processes.
    What the request writes afterwards (its audit row) goes in a transaction of its own."""
    session.commit()
    pool: RenderPool = request.app.state.renderer
    return pool.run(render, *args, **kwargs)

"""FastAPI dependencies shared by every surface: settings, the request's database session, the caller's address."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Annotated, ParamSpec, TypeVar

import anyio
from fastapi import Depends, Header, Request
from sqlmodel import Session

from server.auth.service import bearer_token, device_from_token
from server.config import Settings
from server.db import has_writes_after, run_writes_after
from server.models import KioskDevice

P = ParamSpec("P")
R = TypeVar("R")


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with (async: pure, so no trip through the thread pool)."""
    settings: Settings = request.app.state.settings
    return settings


def client_ip(request: Request) -> str | None:
    """The caller's address (uvicorn applies trusted proxy headers before this)."""
    return request.client.host if request.client else None


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request owns the transaction: commit when the handler succeeds, roll back when it raises.

    Declared with `scope="function"` below, so the commit happens *before* the response is sent: a client that
    sees a success (a kiosk dropping ratings from its outbox) never sees one for data that was not committed.

    Async, so that opening the session (no I/O: the connection is taken at the first statement) costs no trip
    through the thread pool; only the commit or rollback, which waits for the database, is sent there. A handler
    that committed itself (`commits_in_thread`: the kiosk ingest, the phone steps) leaves nothing to do but close,
    unless it queued a bookkeeping write (`server.db.write_after`: a session's `last_seen_at`), run after the commit.
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    except BaseException:
        await _finish(session, commit=False)
        raise
    await _finish(session, commit=True)


async def _finish(session: Session, *, commit: bool) -> None:
    """End the request's transaction off the event loop (shielded: a client hanging up must not leave it open).

    Outside the thread pool's limit, as FastAPI runs a dependency's exit: a transaction holding locks that others
    wait for (a rating's unique visit, SQLite's single writer) must never wait for a thread those others hold.
    """
    try:
        if session.in_transaction() or has_writes_after(session):
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_end, session, commit, limiter=anyio.CapacityLimiter(1))
    finally:
        session.close()  # no transaction left: nothing to send


def _end(session: Session, commit: bool) -> None:
    """Commit or roll back, then the bookkeeping writes (`last_seen_at`, …) in a short transaction of their own."""
    if session.in_transaction():
        (session.commit if commit else session.rollback)()
    run_writes_after(session)


def commits_in_thread(endpoint: Callable[P, R]) -> Callable[P, R]:
    """For busy sync endpoints (a `session` parameter): commit in the endpoint's own worker thread when it returns.

    The same outcome as `get_session`'s commit (before the response, only when the endpoint returns), without a
    second trip through the thread pool for it; `get_session` then finds no transaction left to end.
    """

    @functools.wraps(endpoint)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        result = endpoint(*args, **kwargs)
        session = kwargs["session"]
        assert isinstance(session, Session)
        session.commit()
        return result

    return run


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_device(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> KioskDevice:
    """The paired kiosk calling (device bearer token); 401 when unknown or revoked."""
    return device_from_token(session=session, token=bearer_token(authorization))


DeviceDep = Annotated[KioskDevice, Depends(get_device)]

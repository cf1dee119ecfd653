"""FastAPI dependencies shared by every surface: settings and the request's database session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Header, Request
from sqlmodel import Session

from server.auth.service import bearer_token, device_from_token
from server.config import Settings
from server.models import KioskDevice


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with (async: pure, so no trip through the thread pool)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request owns the transaction: commit when the handler succeeds, roll back when it raises.

    Declared with `scope="function"` below, so the commit happens *before* the response is sent: a client that
    sees a success (a kiosk dropping ratings from its outbox) never sees one for data that was not committed.

    Async, so that opening the session (no I/O until first used) costs no trip through the thread pool; the commit
    or rollback runs in a worker thread, shielded from cancellation and outside the pool's capacity limit (as
    FastAPI does for the exit of a sync dependency: a full pool must not keep a transaction from ending). A handler
    that committed itself (the kiosk ingest) leaves nothing to do here but close, in the event loop.
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_end, session, False, limiter=anyio.CapacityLimiter(1))
        raise
    if session.in_transaction():
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_end, session, True, limiter=anyio.CapacityLimiter(1))
    else:
        session.close()  # nothing open: no I/O


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_device(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> KioskDevice:
    """The paired kiosk calling (device bearer token); 401 when unknown or revoked."""
    return device_from_token(session=session, token=bearer_token(authorization))


DeviceDep = Annotated[KioskDevice, Depends(get_device)]

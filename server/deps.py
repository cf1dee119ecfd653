"""FastAPI dependencies shared by every surface: settings and the request's database session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlmodel import Session

from server.auth.service import bearer_token, device_from_token
from server.config import Settings
from server.models import KioskDevice


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with (async: no thread-pool hop for reading an attribute)."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """The request owns the transaction: commit when the handler succeeds, roll back when it raises.

    Declared with `scope="function"` below, so the commit happens *before* the response is sent: a client that
    sees a success (a kiosk dropping ratings from its outbox) never sees one for data that was not committed.
    """
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_device(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> KioskDevice:
    """The paired kiosk calling (device bearer token); 401 when unknown or revoked."""
    return device_from_token(session=session, token=bearer_token(authorization))


DeviceDep = Annotated[KioskDevice, Depends(get_device)]

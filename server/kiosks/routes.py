"""Kiosk endpoints: pairing, heartbeat, configuration and the visit to preselect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from server.auth.service import bearer_token, device_from_token
from server.cache import TimedCache
from server.contracts import (
    CurrentVisit,
    HeartbeatRequest,
    KioskConfig,
    PairRequest,
    PairResponse,
    VisitEvent,
    VisitState,
)
from server.deps import DeviceDep, SessionDep
from server.errors import AppError, TooManyRequests, error_responses
from server.hardening import client_source
from server.kiosks.service import current_visit, kiosk_config, pair_device, record_heartbeat, report_visit_event
from server.models import KioskDevice

router = APIRouter(prefix="/api/v1/kiosks", tags=["kiosks"])


def get_device_for_reading(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> KioskDevice:
    """The calling kiosk, for read-only endpoints polled every second: on SQLite the request's transaction starts
    deferred, so a thousand idle kiosks asking for visits never queue for the write lock."""
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_begin": "DEFERRED"})
    return device_from_token(session=session, token=bearer_token(authorization))


ReadingDeviceDep = Annotated[KioskDevice, Depends(get_device_for_reading)]


def _field_order(request: Request) -> TimedCache:
    """The worker's cache of each counter's field counts (`HAILONG_FIELD_ORDER_CACHE_SECONDS`)."""
    cache: TimedCache = request.app.state.field_order_cache
    return cache


@router.post(
    "/pair",
    status_code=201,
    response_model=PairResponse,
    summary="Exchange a pairing code for a device token",
    responses=error_responses(
        404, 409, 410, 422, 429, s404="unknown code", s409="code already used", s429="too many wrong codes"
    ),
)
def pair(request: PairRequest, session: SessionDep, http: Request) -> PairResponse | JSONResponse:
    """A single-use code from `hailong pairing-code` → the device token (shown once), counter and unit codes."""
    client = client_source(http.client.host if http.client else None)
    try:
        return pair_device(session=session, code=request.code, client=client, field_order=_field_order(http))
    except TooManyRequests:
        raise
    except AppError as exc:
        # Answered rather than raised, so the request's transaction still commits the failed attempt: the
        # attempts are what slows guessing down.
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=exc.headers)


@router.post(
    "/heartbeat",
    response_model=KioskConfig,
    summary="Report the outbox; receive the configuration",
    responses=error_responses(401, 422),
)
def heartbeat(report: HeartbeatRequest, device: DeviceDep, session: SessionDep, http: Request) -> KioskConfig:
    """Records `last_seen_at`, `backlog`, `app_version` and the clock offset; answers what the kiosk should show."""
    record_heartbeat(session=session, device=device, report=report)
    return kiosk_config(session=session, device=device, field_order=_field_order(http))


@router.get(
    "/config",
    response_model=KioskConfig,
    summary="The kiosk's counter, unit, fields, reasons and scale",
    responses=error_responses(401, 422),
)
def config(device: ReadingDeviceDep, session: SessionDep, http: Request) -> KioskConfig:
    """What the kiosk shows (also answered by every heartbeat)."""
    return kiosk_config(session=session, device=device, field_order=_field_order(http))


@router.get(
    "/current-visit",
    response_model=CurrentVisit,
    summary="The visit the counter just started, if any",
    responses=error_responses(401, 422),
)
def get_current_visit(device: ReadingDeviceDep, session: SessionDep) -> CurrentVisit:
    """The newest unrated, unexpired visit started at this device's counter in the last 10 minutes, or null."""
    return current_visit(session=session, device=device)


@router.post(
    "/visit-status",
    response_model=VisitState,
    summary="Report that a visit's faces are shown or were declined; learn whether it is still open",
    responses=error_responses(401, 422),
)
def visit_status(event: VisitEvent, device: DeviceDep, session: SessionDep) -> VisitState:
    """While a kiosk shows a visit it reports `shown` (the console then says so) and learns whether the visit was
    meanwhile rated by phone, cancelled at the console or expired (`state` other than `open`: leave it). `declined`:
    the citizen skipped it on the kiosk, which will not offer it again."""
    return report_visit_event(session=session, device=device, event=event)

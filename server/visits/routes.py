"""The visits API: register a visit (one-stop system or counter console) and its QR codes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from server.auth.deps import AuthDep, CsrfFailed
from server.auth.service import api_key_from_token, audit, bearer_token
from server.auth.sessions import CSRF_HEADER, tokens_match
from server.contracts import PRINTABLE
from server.deps import SessionDep, SettingsDep, client_ip, commits_in_thread
from server.errors import Forbidden, Gone, NotFound, TooManyRequests, Unauthorized, error_responses
from server.models import Unit, User
from server.visits import qr, service
from server.visits.console import CONSOLE_ROLES, console_unit
from server.visits.limiter import FailureLimiter, app_limiter

router = APIRouter(prefix="/api/v1/visits", tags=["visits"])

QR_CACHE_CONTROL = "private, max-age=86400"
QR_ERRORS = error_responses(404, 410, 422, 429, s404="unknown visit", s410="expired visit")


class VisitCreate(BaseModel):
    """A visit to register: the counter and field are required."""

    counter: str = Field(min_length=1, max_length=64, pattern=PRINTABLE, examples=["C01"])
    field: str = Field(min_length=1, max_length=64, pattern=PRINTABLE, examples=["land"])
    procedure_code: str | None = Field(None, max_length=64, pattern=PRINTABLE, examples=["1.004227"])
    dossier_code: str | None = Field(None, max_length=128, pattern=PRINTABLE, examples=["000.00.00.H12-261005-0001"])
    officer: str | None = Field(None, max_length=64, pattern=PRINTABLE, examples=["OFF-12"])


class VisitCreated(BaseModel):
    """The new visit's token, rating link, QR code addresses and expiry."""

    token: str
    rating_url: str
    qr_png_url: str
    qr_svg_url: str
    expires_at: datetime


@dataclass(frozen=True)
class VisitCreator:
    """Who registers a visit (as recorded on it and in the audit log), and the subtree they may register visits for."""

    scope: Unit
    actor: str
    recorded: service.VisitCreator
    officer_id: int | None = None


@dataclass(frozen=True)
class CreatorCredentials:
    """Checked credentials of a visit registration; `creator` looks them up in the endpoint's own worker thread
    (a second trip through the thread pool for the dependency would cost more than the lookup)."""

    key_token: str | None = None  # an integration key of kind `visits`
    user: User | None = None  # or a logged-in counter user (session and CSRF header already checked)

    def creator(self, session: Session) -> VisitCreator:
        """Who registers the visit and the units they may register visits for (401 for an unknown key)."""
        if self.key_token is not None:
            key, unit = api_key_from_token(session=session, token=self.key_token, kind="visits")
            return VisitCreator(
                scope=unit, actor=f"apikey:{key.prefix}", recorded=service.VisitCreator(kind="api_key", key_id=key.id)
            )
        assert self.user is not None
        unit = console_unit(session=session, user=self.user)
        return VisitCreator(
            scope=unit,
            actor=self.user.username,
            recorded=service.VisitCreator.session_of(self.user),
            officer_id=self.user.officer_id,
        )


async def visit_creator(
    auth: AuthDep,
    authorization: Annotated[str | None, Header()] = None,
    x_csrf_token: Annotated[str | None, Header(alias=CSRF_HEADER)] = None,
) -> CreatorCredentials:
    """An integration key of kind `visits` (Bearer), or a logged-in counter user with the session's CSRF token in
    `X-CSRF-Token`."""
    if authorization:
        return CreatorCredentials(key_token=bearer_token(authorization))
    if auth is None:
        raise Unauthorized(
            "send an integration key (Authorization: Bearer <key>) or log in (/login) as a counter user",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not tokens_match(x_csrf_token, auth.csrf_token):
        raise CsrfFailed("send the session's CSRF token in the X-CSRF-Token header")
    if auth.user.role not in CONSOLE_ROLES:
        raise Forbidden("your account may not register visits")
    return CreatorCredentials(user=auth.user)


def link_failures(request: Request) -> FailureLimiter:
    """The limiter of failed rating-link lookups (shared by the QR codes and the phone page)."""
    settings = request.app.state.settings
    return app_limiter(
        request.app.state,
        "links",
        limit=settings.phone_failure_limit,
        window=settings.phone_failure_window_seconds,
    )


@router.post(
    "",
    status_code=201,
    response_model=VisitCreated,
    responses=error_responses(
        401,
        403,
        422,
        s403="the counter lies outside the key's unit, an officer's session names another officer, "
        "or a missing console CSRF token",
    ),
)
@commits_in_thread
def create_visit(
    body: VisitCreate,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[CreatorCredentials, Depends(visit_creator)],
) -> VisitCreated:
    """Register a visit at a counter; answers its rating link and QR codes (422 for unknown names)."""
    creator = credentials.creator(session)
    visit = service.create_visit(
        session=session,
        settings=settings,
        scope=creator.scope,
        counter_code=body.counter,
        field_code=body.field,
        procedure_code=body.procedure_code,
        dossier_code=body.dossier_code,
        officer_code=body.officer,
        officer_id=creator.officer_id,
        creator=creator.recorded,
    )
    audit(session=session, actor=creator.actor, action="visit.create", target=body.counter, detail=body.field)
    links = service.visit_links(settings=settings, token=visit.token)
    return VisitCreated(
        token=visit.token,
        rating_url=links.rating_url,
        qr_png_url=links.qr_png_url,
        qr_svg_url=links.qr_svg_url,
        expires_at=visit.expires_at.astimezone(settings.tz),
    )


def _qr_response(request: Request, session: SessionDep, settings: SettingsDep, token: str, kind: str) -> Response:
    limiter = link_failures(request)
    host = client_ip(request)
    verdict = limiter.check(host)
    if not verdict.allowed:
        raise TooManyRequests(
            "too many unknown or expired visit tokens from this address; try again later",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    try:
        visit = service.live_visit(session=session, token=token)
    except (NotFound, Gone):
        limiter.fail(host)
        raise
    url = service.visit_links(settings=settings, token=visit.token).rating_url
    etag = '"' + hashlib.sha256(f"{kind}|{qr.ERROR_CORRECTION}|{qr.QUIET_ZONE}|{url}".encode()).hexdigest()[:32] + '"'
    headers = {"Cache-Control": QR_CACHE_CONTROL, "ETag": etag}
    if etag in (request.headers.get("if-none-match") or ""):
        return Response(status_code=304, headers=headers)
    if kind == "png":
        return Response(qr.qr_png(url), media_type="image/png", headers=headers)
    return Response(qr.qr_svg(url), media_type="image/svg+xml", headers=headers)


@router.get(
    "/{token}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 304: {"description": "Not modified"}, **QR_ERRORS},
)
def visit_qr_png(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The visit's rating link as a QR code (PNG, error correction Q, 4-module quiet zone); 404 unknown, 410 expired."""
    return _qr_response(request, session, settings, token, "png")


@router.get(
    "/{token}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, 304: {"description": "Not modified"}, **QR_ERRORS},
)
def visit_qr_svg(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The visit's rating link as a QR code (SVG, scalable for print); 404 unknown, 410 expired."""
    return _qr_response(request, session, settings, token, "svg")

"""`POST /api/v1/petitions` (import, idempotent by id) and `GET /api/v1/petitions/<id>` (docs/API.md, Petitions)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, select

from server.auth.deps import Auth, AuthDep, LoginRequired, visible_root
from server.auth.service import api_key_from_token, bearer_token
from server.config import Settings
from server.deps import SessionDep, SettingsDep
from server.errors import AppError, Forbidden, Unauthorized, describe_validation_errors, error_responses
from server.hardening import clean_text
from server.models import Petition, Unit
from server.petitions import service
from server.petitions.calendar import load_calendar
from server.units.service import is_in_subtree

router = APIRouter(prefix="/api/v1/petitions", tags=["petitions"])

MAX_IMPORT = 500
#: Times outside these are mistakes (and beyond the working-day calendar).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class PetitionIn(BaseModel):
    """One petition to create or import; `answered_at`, `reaction`, `reopened` carry an outcome handled elsewhere."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID = Field(description="client UUID: the idempotency key")
    unit: str = Field(min_length=1, max_length=64)
    category: Literal["tthc", "staff", "other"]
    dossier_code: str | None = Field(None, max_length=128)
    received_at: AwareDatetime
    content: str = Field(min_length=1, max_length=service.MAX_CONTENT)
    answered_at: AwareDatetime | None = None
    reaction: Literal["satisfied", "not_satisfied"] | None = None
    reopened: bool = False


class PetitionsImport(BaseModel):
    """`POST /api/v1/petitions` body (items are checked one by one: a bad one is `invalid`, the rest go in)."""

    petitions: list[Any] = Field(max_length=MAX_IMPORT)


class ImportResult(BaseModel):
    """The fate of one item: `created`, `updated`, `unchanged` or `invalid` (with `detail`)."""

    id: str | None
    status: Literal["created", "updated", "unchanged", "invalid"]
    detail: str | None = None


class ImportResults(BaseModel):
    """One result per item, in order."""

    results: list[ImportResult]


class PetitionOut(BaseModel):
    """A petition as an integration reads it (contacts are never included)."""

    id: uuid.UUID
    unit: str
    category: str
    dossier_code: str | None
    received_at: datetime
    due_at: datetime
    answered_at: datetime | None
    reaction: str | None
    reopened: bool
    status: str
    source: str
    content: str = Field(description="what the citizen wrote (contacts are never included)")


async def petition_importer(authorization: Annotated[str | None, Header()] = None) -> str:
    """The bearer token of an integration (`visits`) key; 401 without one (the key is looked up in the endpoint)."""
    if not authorization:
        raise Unauthorized(
            "send an integration key (Authorization: Bearer <key>)", headers={"WWW-Authenticate": "Bearer"}
        )
    return bearer_token(authorization)


@dataclass(frozen=True)
class PetitionReaderCredentials:
    """An integration or read key's token, or a manager/admin session."""

    token: str | None
    auth: Auth | None


async def petition_reader(
    auth: AuthDep, authorization: Annotated[str | None, Header()] = None
) -> PetitionReaderCredentials:
    """A `visits` or `read` key (Bearer), or a logged-in manager/admin; 401/403 otherwise."""
    if authorization:
        return PetitionReaderCredentials(bearer_token(authorization), None)
    if auth is None:
        raise LoginRequired("log in, or send Authorization: Bearer <key>")
    if auth.user.role not in ("admin", "manager"):
        raise Forbidden("only managers and administrators may read petitions")
    return PetitionReaderCredentials(None, auth)


def _key_scope(session: Session, token: str, kinds: tuple[str, ...]) -> tuple[Unit, str]:
    last: AppError | None = None
    for kind in kinds:
        try:
            key, unit = api_key_from_token(session=session, token=token, kind=kind)
        except Unauthorized as exc:
            last = exc
            continue
        return unit, f"apikey:{key.prefix}"
    assert last is not None
    raise last


@router.post(
    "",
    response_model=ImportResults,
    responses=error_responses(401, 413, 422, s422=f"malformed body, or more than {MAX_IMPORT} petitions"),
)
def import_petitions(
    body: PetitionsImport,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Depends(petition_importer)],
) -> ImportResults:
    """Create or import petitions with an integration (`visits`) key; one result per item, in order."""
    scope, actor = _key_scope(session, token, ("visits",))
    calendar = load_calendar(session=session)
    results = [_import_item(session, settings, scope, actor, calendar, raw) for raw in body.petitions]
    return ImportResults(results=results)


def _import_item(
    session: Session, settings: Settings, scope: Unit, actor: str, calendar: Any, raw: Any
) -> ImportResult:
    raw_id = str(raw.get("id")) if isinstance(raw, dict) and raw.get("id") is not None else None
    try:
        item = PetitionIn.model_validate(raw)
    except ValidationError as exc:
        return ImportResult(id=raw_id, status="invalid", detail=describe_validation_errors(exc.errors()))
    unit = session.exec(select(Unit).where(Unit.code == item.unit)).first()
    if unit is None:
        return ImportResult(id=str(item.id), status="invalid", detail=f"unknown unit {item.unit!r}")
    if not is_in_subtree(unit=unit, root=scope):
        return ImportResult(id=str(item.id), status="invalid", detail=f"unit {item.unit!r} is outside the key's units")
    for name, when in (("received_at", item.received_at), ("answered_at", item.answered_at)):
        if when is not None and not EARLIEST <= when <= LATEST:
            return ImportResult(id=str(item.id), status="invalid", detail=f"{name} is out of range (2000-2100)")
    if item.answered_at is not None and item.answered_at < item.received_at:
        return ImportResult(id=str(item.id), status="invalid", detail="answered_at is before received_at")
    if item.reaction is not None and item.answered_at is None:
        return ImportResult(id=str(item.id), status="invalid", detail="a reaction needs answered_at")
    values = item.model_dump()
    values["unit_id"] = unit.id
    values["content"] = clean_text(item.content).strip()
    values["dossier_code"] = clean_text(item.dossier_code).strip() or None if item.dossier_code else None
    if not values["content"]:
        return ImportResult(id=str(item.id), status="invalid", detail="content is empty")
    try:
        with session.begin_nested():
            status = service.import_one(
                session=session, settings=settings, calendar=calendar, values=values, actor=actor
            )
    except AppError as exc:
        return ImportResult(id=str(item.id), status="invalid", detail=exc.message)
    return ImportResult(id=str(item.id), status=status)


@router.get("/{petition_id}", response_model=PetitionOut, responses=error_responses(401, 403, 404))
def get_petition(
    petition_id: str,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[PetitionReaderCredentials, Depends(petition_reader)],
) -> PetitionOut:
    """A petition with its due date and status: an integration or read key of its unit's subtree, or a manager."""
    if credentials.token is not None:
        root: Unit | None = _key_scope(session, credentials.token, ("visits", "read"))[0]
    else:
        assert credentials.auth is not None
        root = visible_root(session=session, user=credentials.auth.user)
    petition = service.in_scope(session=session, petition_id=petition_id, root=root)
    return to_out(session, settings, petition)


def to_out(session: Session, settings: Settings, petition: Petition) -> PetitionOut:
    """The API view of a petition (times in the reporting zone)."""
    unit = session.get(Unit, petition.unit_id)
    assert unit is not None
    tz = settings.tz
    return PetitionOut(
        id=petition.id,
        unit=unit.code,
        category=petition.category,
        dossier_code=petition.dossier_code,
        received_at=petition.received_at.astimezone(tz),
        due_at=petition.due_at.astimezone(tz),
        answered_at=petition.answered_at.astimezone(tz) if petition.answered_at else None,
        reaction=petition.reaction,
        reopened=petition.reopened,
        status=petition.status,
        source=petition.source,
        content=petition.content,
    )

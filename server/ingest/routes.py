"""`POST /api/v1/ratings`: a paired kiosk delivers its outbox in batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response
from sqlmodel import Session

from server.auth.service import bearer_token
from server.contracts import RatingsBatch, RatingsResult
from server.deps import SessionDep, SettingsDep, commits_in_thread
from server.errors import PayloadTooLarge, error_responses
from server.ingest.device import IngestDevice, device_for_ingest
from server.ingest.parsing import max_body_bytes, parse_batch
from server.ingest.service import ingest_ratings, results_json

router = APIRouter(prefix="/api/v1", tags=["ingest"])


def _inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema with its `$defs` inlined (the body is parsed by hand, so FastAPI does not list it)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return dict(resolve(schema))


BATCH_SCHEMA = _inline_definitions(RatingsBatch.model_json_schema())


async def read_capped_body(request: Request) -> bytes:
    """The request body, or 413 as soon as it grows past the ingest limit."""
    limit = max_body_bytes(request.app.state.settings)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            "request body of {declared} bytes; at most {limit} are accepted", declared=declared, limit=limit
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("request body larger than {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class IngestCredentials:
    """The bearer token of the kiosk delivering; `device` finds it in the endpoint's own worker thread."""

    token: str

    def device(self, session: Session) -> IngestDevice:
        """The paired kiosk holding the token, locked for this batch; 401 when unknown or revoked."""
        return device_for_ingest(session.connection(), self.token)


async def get_ingest_device(authorization: Annotated[str | None, Header()] = None) -> IngestCredentials:
    """The delivering kiosk's credentials (401 without a bearer token). Async and without the database: looking
    the device up here would cost a second trip through the thread pool per batch."""
    return IngestCredentials(bearer_token(authorization))


IngestCredentialsDep = Annotated[IngestCredentials, Depends(get_ingest_device)]


@router.post(
    "/ratings",
    summary="Deliver kiosk ratings (idempotent by rating id)",
    response_model=RatingsResult,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": BATCH_SCHEMA}}}},
    responses=error_responses(
        401,
        413,
        422,
        s401="unknown or revoked device",
        s413="too many ratings or too large a body",
        s422="malformed envelope (not JSON, no `ratings` list, bad `sent_at`)",
    ),
)
@commits_in_thread  # before the answer is sent, in this worker thread: no second trip through the pool for it
def post_ratings(
    # The body first: a slow upload from a rural kiosk must not hold a database connection (or SQLite's write lock).
    body: Annotated[bytes, Depends(read_capped_body)],
    credentials: IngestCredentialsDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> Response:
    """Store each rating once; answer one result per rating, in order: `created`, `duplicate`, `conflict`, `invalid`.

    Unit and counter come from the device. `rated_at` is corrected by the device's clock offset (server time
    minus `sent_at`); ids are answered in canonical UUID form.
    """
    device = credentials.device(session)
    batch = parse_batch(body, max_batch=settings.max_batch)
    reference = request.app.state.ingest_reference
    results = ingest_ratings(session=session, device=device, batch=batch, settings=settings, reference=reference)
    return Response(results_json(results), media_type="application/json")

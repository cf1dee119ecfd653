"""`POST /api/v1/dossiers`: the one-stop electronic system upserts its dossiers (docs/API.md, "Dossiers")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from sqlmodel import Session

from server.auth.service import api_key_from_token, bearer_token
from server.deps import SessionDep, SettingsDep, commits_in_thread
from server.dossiers.service import DossierBatch, DossierIn, DossierResults, upsert_dossiers
from server.errors import error_responses
from server.models import Unit

router = APIRouter(prefix="/api/v1", tags=["dossiers"])


class IntegrationKey:
    """An integration key (`hailong apikey create --kind visits`), looked up in the endpoint's own worker thread."""

    def __init__(self, token: str) -> None:
        self.token = token

    def unit(self, session: Session) -> Unit:
        """The key's unit: the subtree it may write (401 for an unknown, revoked or wrong kind of key)."""
        return api_key_from_token(session=session, token=self.token, kind="visits")[1]


async def integration_key(authorization: Annotated[str | None, Header()] = None) -> IntegrationKey:
    """`Authorization: Bearer <integration key>` (401 without one)."""
    return IntegrationKey(bearer_token(authorization))


@router.post(
    "/dossiers",
    response_model=DossierResults,
    summary="Upsert dossiers from the one-stop electronic system (idempotent by code)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["dossiers"],
                        "properties": {
                            "dossiers": {"type": "array", "maxItems": 1000, "items": DossierIn.model_json_schema()}
                        },
                    }
                }
            }
        }
    },
    responses=error_responses(
        401,
        413,
        422,
        s401="no, unknown, revoked or wrong kind of integration key",
        s413="more than 1,000 dossiers, or a body over 1 MB",
        s422="malformed envelope (not JSON, no `dossiers` list)",
    ),
)
@commits_in_thread
def post_dossiers(
    body: DossierBatch,
    session: SessionDep,
    settings: SettingsDep,
    key: Annotated[IntegrationKey, Depends(integration_key)],
) -> DossierResults:
    """Create or update each dossier by `code`; one result per item, in order: `created`, `updated`, `unchanged` or
    `invalid` (with `detail`: a unit outside the key's subtree, `completed_at` before `received_at`, …).

    A dossier counts in the QĐ 766 score of the month (Asia/Ho_Chi_Minh) of its `completed_at` once `completed` or
    `returned`; it is overdue when completed after `due_at`.
    """
    scope = key.unit(session)
    return DossierResults(results=upsert_dossiers(session=session, items=body.dossiers, scope=scope, tz=settings.tz))

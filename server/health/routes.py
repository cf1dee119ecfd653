"""Liveness and readiness: `/healthz` answers ok only when the database answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from server.db import DatabaseUnavailable, check_database

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Health check: the server runs and its database answers",
    responses={503: {"description": "the database is unreachable"}},
)
def healthz(request: Request) -> JSONResponse:
    """`{"status": "ok", "database": "ok"}`, or 503 with the reason when the database is unreachable."""
    engine: Engine = getattr(request.app.state, "health_engine", request.app.state.engine)
    try:
        check_database(engine)
    except DatabaseUnavailable as exc:
        return JSONResponse({"status": "error", "database": "unreachable", "detail": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "backend": engine.dialect.name})

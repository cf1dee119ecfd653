"""Talking to the central server. Every answer is checked against the contract before the kiosk believes it:
a captive portal or a proxy that answers `200 OK` with a page acknowledges nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from server.contracts import (
    CurrentVisit,
    HeartbeatRequest,
    KioskConfig,
    PairRequest,
    PairResponse,
    RatingResult,
    RatingsResult,
    VisitEvent,
    VisitState,
)

_T = TypeVar("_T", KioskConfig, CurrentVisit, VisitState)


class CentralError(Exception):
    """The server could not be reached or answered something unusable: try again later."""


class Revoked(CentralError):
    """401: the device token is unknown or revoked; the kiosk is out of service until paired again."""


class TooLarge(CentralError):
    """413: the batch (or one rating) is too large for the server."""


class Refused(CentralError):
    """The server refused a request with a reason a person can act on (pairing)."""


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except Exception:
        detail = None
    return str(detail) if detail else f"HTTP {response.status_code}"


class Central:
    """An HTTP client of one central server, with or without a device token."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 15.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.clock = clock
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, follow_redirects=False)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, headers=self._headers(), **kwargs)
        except httpx.HTTPError as exc:
            raise CentralError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        if response.status_code == 401:
            raise Revoked(_detail(response))
        if response.status_code == 413:
            raise TooLarge(_detail(response))
        return response

    async def send_ratings(self, items: list[dict[str, Any]]) -> list[RatingResult]:
        """Deliver a batch; the results, checked one by one against the ids sent (else CentralError)."""
        body = {"ratings": items, "sent_at": self.clock().isoformat()}
        response = await self._request("POST", "/api/v1/ratings", json=body)
        if response.status_code != 200:
            raise CentralError(f"ingest answered {response.status_code}: {_detail(response)}")
        try:
            results = RatingsResult.model_validate_json(response.content).results
        except ValidationError as exc:
            raise CentralError("ingest answered 200 without a valid result list (a proxy or portal?)") from exc
        if len(results) != len(items):
            raise CentralError(f"ingest answered {len(results)} results for {len(items)} ratings")
        for sent, result in zip(items, results, strict=True):
            if not _same_id(result.id, sent["id"]):
                raise CentralError(f"ingest answered for id {result.id!r} where {sent['id']!r} was sent")
        return results

    async def heartbeat(self, *, backlog: int, dead_letters: int, app_version: str) -> KioskConfig:
        """Report the outbox; the answer is the configuration to show."""
        report = HeartbeatRequest(
            backlog=backlog, dead_letters=dead_letters, app_version=app_version, sent_at=self.clock()
        )
        response = await self._request("POST", "/api/v1/kiosks/heartbeat", json=report.model_dump(mode="json"))
        return _parse(response, KioskConfig, "heartbeat")

    async def current_visit(self) -> CurrentVisit:
        """The visit the counter just started, if any."""
        return _parse(await self._request("GET", "/api/v1/kiosks/current-visit"), CurrentVisit, "current-visit")

    async def visit_status(self, token: str, event: str) -> VisitState:
        """Report that a visit's faces are shown (or were declined); the answer says whether it is still open."""
        body = VisitEvent.model_validate({"token": token, "event": event}).model_dump()
        return _parse(await self._request("POST", "/api/v1/kiosks/visit-status", json=body), VisitState, "visit-status")

    async def pair(self, code: str) -> PairResponse:
        """Exchange a pairing code for a device token (Refused with the server's reason when it says no)."""
        response = await self._request("POST", "/api/v1/kiosks/pair", json=PairRequest(code=code).model_dump())
        if 400 <= response.status_code < 500:
            raise Refused(_detail(response))
        if response.status_code != 201:
            raise CentralError(f"pairing answered {response.status_code}: {_detail(response)}")
        try:
            return PairResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise CentralError("pairing answered 201 without a token (a proxy or portal?)") from exc


def _parse(response: httpx.Response, model: type[_T], what: str) -> _T:
    if response.status_code != 200:
        raise CentralError(f"{what} answered {response.status_code}: {_detail(response)}")
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise CentralError(f"{what} answered 200 with something else than the contract") from exc


def _same_id(answered: str | None, sent: str) -> bool:
    if answered is None:
        return False
    try:
        return uuid.UUID(answered) == uuid.UUID(sent)
    except ValueError:
        return False

"""Property-based fuzzing of the public API (schemathesis) against the app's own OpenAPI schema.

Every operation gets bounded, derandomized examples (valid and invalid data) on a freshly migrated database with
realistic fixtures (units, a counter, a paired kiosk, a visits key, a read key, a live visit), so authenticated
endpoints are reached past 401. Checks: never a 5xx, and every answer (status, content type, body) is one the
schema documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from server.app import create_app
from server.auth.service import create_api_key
from server.db import make_engine
from server.kiosks.service import create_pairing_code
from tests import factories
from tests.conftest import make_settings
from tests.databases import DatabaseFactory

#: Examples per operation and generation mode (valid and invalid data): bounded so the file runs in about a minute.
MAX_EXAMPLES = 25
#: Rendering a workbook or a PDF takes a while: fewer examples there (their inputs are the CSV export's anyway).
FEWER_EXAMPLES = {"/exports/monthly.xlsx": 8, "/exports/monthly.pdf": 5}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class World:
    """The app on a fresh database, and the credentials each kind of caller holds."""

    app: FastAPI
    device_token: str
    visits_key: str
    read_key: str
    visit_token: str
    calls: dict[str, int] = field(default_factory=dict)

    def headers_for(self, path: str) -> dict[str, str]:
        """The bearer token a legitimate caller of `path` holds."""
        if path.startswith(("/api/v1/ratings", "/api/v1/kiosks/heartbeat", "/api/v1/kiosks/c")):
            return {"Authorization": f"Bearer {self.device_token}"}
        if path == "/api/v1/visits" or path.startswith("/api/v1/petitions"):
            return {"Authorization": f"Bearer {self.visits_key}"}
        if path.startswith(("/api/v1/indices", "/exports/")):
            return {"Authorization": f"Bearer {self.read_key}"}
        return {}


@pytest.fixture(scope="module")
def world(db_factory: DatabaseFactory) -> Iterator[World]:
    url = db_factory.new_url()
    # A high failure limit: the fuzzer opens many unknown visit tokens from one address on purpose.
    config = make_settings(url, phone_failure_limit=1_000_000)
    app = create_app(config)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        root = factories.unit(session, code="FZ", name="Tỉnh Fuzz")
        child = factories.unit(session, parent=root, code="FZ-1", name="Huyện Fuzz")
        counter = factories.counter(session, child, code="FZC01")
        _, device_token = factories.kiosk_device(session, counter)
        _, visits_key = create_api_key(session=session, kind="visits", unit=root)
        _, read_key = create_api_key(session=session, kind="read", unit=root)
        visit = factories.counter_visit(session, counter)
        for level in (1, 2, 3, 4):
            factories.rating(session, counter, level=level, reasons=("late",) if level < 3 else ())
        create_pairing_code(session=session, counter_code=counter.code, settings=config)
        session.commit()
        world = World(app, device_token, visits_key, read_key, visit.token)
    engine.dispose()
    yield world


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(world: World, operation: Any, mode: GenerationMode) -> None:
    strategy = operation.as_strategy(generation_mode=mode, headers=world.headers_for(operation.path))
    key = f"{operation.method.upper()} {operation.path} {mode.value}"

    @given(case=strategy)
    @settings(
        max_examples=FEWER_EXAMPLES.get(operation.path, MAX_EXAMPLES),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        world.calls[key] = world.calls.get(key, 0) + 1
        case.call_and_validate(checks=CHECKS)

    run()


def test_every_operation_answers_as_documented(world: World) -> None:
    """No 5xx, and only documented statuses, content types and bodies, for valid and invalid requests alike."""
    operations = _operations(world.app)
    assert len(operations) >= 13
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(world, operation, mode)
            except Unsatisfiable:
                # No invalid request exists (no parameters, or free-form text only): nothing to send.
                assert mode is GenerationMode.NEGATIVE, operation.path
                world.calls.setdefault(f"{operation.method.upper()} {operation.path} {mode.value}", 0)
            except (Exception, BaseExceptionGroup) as exc:  # collected: one run shows every operation's findings
                failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: {exc}"[:3000])
    assert not failures, "\n\n".join(failures)
    # Every operation was really exercised, in both modes.
    assert len(world.calls) == 2 * len(operations), world.calls
    print(f"fuzzed {len(operations)} operations with {sum(world.calls.values())} requests: {world.calls}")

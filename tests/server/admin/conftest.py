"""Fixtures of the administration tests: the dashboard's world and an administrator logged in to it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests import logins
from tests.server.dashboard.world import World, build_world


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def csrf(client: TestClient, world: World) -> str:
    """The CSRF token of the world's administrator, logged in on `client`."""
    return logins.login(client, world.admin)

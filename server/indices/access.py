"""Who may read which indices: one dependency answers "the unit whose subtree this caller may see".

Today the caller shows a read key (`hailong apikey create --kind read --unit CODE`). Manager sessions plug in
here, in `read_scope`, and nowhere else: when the request carries no `Authorization` header but a logged-in
manager's session, return that manager's unit (an administrator: the root of the tree) instead of failing. Routes
only ever see the resulting `Unit` through `ReadScopeDep` and check the requested unit with `unit_in_scope`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from server.auth.service import api_key_from_token, bearer_token
from server.deps import SessionDep
from server.errors import Forbidden, Unauthorized
from server.models import Unit
from server.units.service import get_unit, is_in_subtree

read_key = HTTPBearer(
    auto_error=False,
    scheme_name="ReadKey",
    description="A read key for a unit and its subtree: `hailong apikey create --kind read --unit CODE`.",
)


def read_scope(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(read_key)],
) -> Unit:
    """The root of the subtree the caller may read: the read key's unit; 401 without a live read key."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    key = api_key_from_token(session=session, token=bearer_token(header), kind="read")
    unit = session.get(Unit, key.unit_id)
    if unit is None:  # the key's unit is gone: nothing it may read
        raise Unauthorized("this key's unit no longer exists", headers={"WWW-Authenticate": "Bearer"})
    return unit


ReadScopeDep = Annotated[Unit, Depends(read_scope)]


def unit_in_scope(*, session: Session, code: str | None, scope: Unit) -> Unit:
    """The unit `code` (the scope's own unit when None): 404 when unknown, 403 when outside the scope."""
    unit = scope if code is None or code == scope.code else get_unit(session=session, code=code)
    if not is_in_subtree(unit=unit, root=scope):
        raise Forbidden(f"unit {unit.code!r} is outside what this caller may read (unit {scope.code!r} and below)")
    return unit

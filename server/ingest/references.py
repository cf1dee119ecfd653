"""The codes a batch may use (fields, reasons, the scale's levels), read in one round trip and kept by a worker."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from server.ingest.parsing import InvalidItem, Item
from server.tables import FIELD, REASON, SCALE


@dataclass(frozen=True)
class Reference:
    """Codes the batch may use: field and reason ids by code, and each level's `satisfied` flag."""

    fields: dict[str, int]
    reasons: dict[str, int]
    satisfied: dict[int, bool]


# The statements every batch runs are built once: building and cache-keying a SQLAlchemy statement costs about
# as much Python as executing it. One round trip for the three small tables (every request runs it, single
# ratings included).
_REFERENCE = sa.union_all(
    sa.select(sa.literal("f").label("kind"), FIELD.c.code.label("key"), FIELD.c.id.label("value")),
    sa.select(sa.literal("r"), REASON.c.code, REASON.c.id),
    sa.select(sa.literal("s"), sa.cast(SCALE.c.level, sa.String), sa.cast(SCALE.c.satisfied, sa.Integer)),
)


def load_reference(conn: sa.Connection) -> Reference:
    """Field and reason codes (inactive ones too: a kiosk may hold an older list) and the scale."""
    fields: dict[str, int] = {}
    reasons: dict[str, int] = {}
    satisfied: dict[int, bool] = {}
    for kind, key, value in conn.execute(_REFERENCE):
        if kind == "f":
            fields[key] = value
        elif kind == "r":
            reasons[key] = value
        else:
            satisfied[int(key)] = bool(value)
    return Reference(fields=fields, reasons=reasons, satisfied=satisfied)


#: How long a worker reuses the codes it read. Fields, reasons and the scale change only by migration (or by hand in
#: SQL); the application only renames fields and (de)activates them, which the ingest ignores. A batch naming a code
#: or level the cache does not hold reads them again at once, so a new code is never refused for a stale cache.
REFERENCE_SECONDS = 60.0


class ReferenceCache:
    """`load_reference`, kept by a worker for `seconds` (HAILONG_REFERENCE_CACHE_SECONDS): a round trip fewer."""

    def __init__(self, seconds: float = REFERENCE_SECONDS) -> None:
        self.seconds = seconds
        self._held: tuple[float, Reference] | None = None  # replaced whole: safe across the worker's threads

    def get(self, conn: sa.Connection, items: Iterable[Item]) -> Reference:
        """The codes, read again when older than `seconds` or when one of `items` names one they lack."""
        held, now = self._held, time.monotonic()
        if held is not None and now - held[0] < self.seconds and _knows_all(held[1], items):
            return held[1]
        ref = load_reference(conn)
        self._held = (now, ref)
        return ref


def _knows_all(ref: Reference, items: Iterable[Item]) -> bool:
    for item in items:
        if isinstance(item, InvalidItem):
            continue
        if item.level not in ref.satisfied or (item.visit_token is None and item.field not in ref.fields):
            return False
        for code in item.reasons:
            if code not in ref.reasons:
                return False
    return True

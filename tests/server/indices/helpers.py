"""The report the indices tests check: `compute_indices` in Ho Chi Minh time."""

from __future__ import annotations

from typing import cast

from sqlmodel import Session

from server.indices.periods import Period, parse_period
from server.indices.schemas import IndicesReport
from server.indices.service import Source, compute_indices
from server.models import Unit
from tests.factories import HCM


def report(
    session: Session,
    unit: Unit,
    period: str | Period,
    by: str | None = None,
    min_sample: int = 3,
    source: str = "rollup",
    field_id: int | None = None,
) -> IndicesReport:
    """The report of `unit` (its whole subtree) over `period` (a code or a parsed period) grouped `by`, from `source`
    ("rollup" or "raw"), showing rows of at least `min_sample` ratings; with `field_id`, that field's ratings only."""
    return compute_indices(
        session=session,
        unit=unit,
        period=parse_period(period) if isinstance(period, str) else period,
        by=by,
        min_sample=min_sample,
        tz=HCM,
        source=cast(Source, source),
        field_id=field_id,
    )

"""`GET /api/v1/scores/766`: the QĐ 766 satisfaction score of a unit's subtree for a period (docs/API.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from server.auth.deps import ReaderDep, reader_errors
from server.deps import SessionDep, SettingsDep
from server.indices.periods import parse_period
from server.scores.formulas import Score
from server.scores.service import score_766

router = APIRouter(prefix="/api/v1/scores", tags=["scores"])


class MetricOut(BaseModel):
    """One metric: `score` rounded to 2 decimals (null for the explanatory shares, whose `max_score` is 0)."""

    code: str
    numerator: int
    denominator: int
    ratio: float | None
    score: float | None
    max_score: int


class Score766Out(BaseModel):
    """The group "Mức độ hài lòng" of QĐ 766/QĐ-TTg: `total` is the sum of the rounded scores, out of `max` 18."""

    period: str
    unit: str
    total: float
    max: int
    metrics: list[MetricOut]


def score_out(score: Score, *, period: str, unit: str) -> Score766Out:
    """The API's shape of a score."""
    return Score766Out(
        period=period,
        unit=unit,
        total=score.total,
        max=score.max,
        metrics=[MetricOut(**vars(m)) for m in score.metrics],
    )


@router.get(
    "/766",
    response_model=Score766Out,
    summary="QĐ 766 satisfaction score (18 points) of a unit and its subtree",
    responses=reader_errors("Malformed period"),
)
def get_score_766(
    session: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    period: Annotated[
        str,
        Query(
            description="`YYYY-MM`, `YYYY-Qn`, `YYYY` or `YYYY-MM-DD..YYYY-MM-DD`, as for the indices", max_length=32
        ),
    ],
    unit: Annotated[
        str | None, Query(description="Unit code (whole subtree). Default: the caller's own unit.", max_length=64)
    ] = None,
) -> Score766Out:
    """Dossiers completed or returned in the period (overdue, disliked), petitions received in it (on time, to the
    citizen's satisfaction) and the share of each petition category; see docs/API.md, "Official scores"."""
    chosen = parse_period(period)
    target = reader.unit(session=session, code=unit)
    score = score_766(session=session, unit=target, period=chosen, tz=settings.tz)
    return score_out(score, period=chosen.code, unit=target.code)

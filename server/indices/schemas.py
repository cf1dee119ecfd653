"""The shapes of `/api/v1/indices` (docs/API.md, "Indices"); the dashboard and exports use the same objects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Grouping = Literal["field", "group", "unit", "counter", "officer", "channel", "month"]
GROUPINGS: tuple[str, ...] = ("field", "group", "unit", "counter", "officer", "channel", "month")


class IndexRow(BaseModel):
    """The index for one thing a report groups by (or the overall row)."""

    key: str = Field(
        description="code of what the row groups by: field, group, unit, counter, officer, channel or YYYY-MM"
    )
    label: str = Field(description="Vietnamese name")
    label_en: str = Field(description="English name")
    n: int = Field(description="valid ratings (misuse excluded)")
    satisfied: int = Field(description="valid ratings at a satisfied level")
    rate: float | None = Field(description="satisfied ÷ n (0..1); null when n = 0")
    ci_low: float | None = Field(description="Wilson 95 % interval, lower bound")
    ci_high: float | None = Field(description="Wilson 95 % interval, upper bound")
    target: float | None = Field(description="the milestone in force for the period's year (0..1)")
    target_2030: float | None = Field(description="the 2030 milestone, for the distance still to go")
    status: Literal["met", "not_met", "insufficient_data"] | None = Field(
        description="met / not_met against target; insufficient_data below the minimum sample; null: no target"
    )
    misuse: int = Field(description="ratings flagged as misuse (kept, excluded from n)")
    levels: dict[str, int] = Field(description="valid ratings per scale level")
    reasons: dict[str, int] = Field(description="reason codes chosen with valid ratings")


class ResponseRate(BaseModel):
    """Rated visits ÷ visits registered in the period (where the one-stop system registers visits)."""

    visits: int
    rated: int
    rate: float | None


class IndicesReport(BaseModel):
    """The answer of `/api/v1/indices`."""

    period: str
    unit: str
    by: Grouping | None
    min_sample: int
    timezone: str
    overall: IndexRow
    rows: list[IndexRow]
    response_rate: ResponseRate

"""The appraisal as the API answers it; the XLSX and PDF files print the same object, so their numbers agree."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, time

from pydantic import BaseModel, Field

from server.appraisal.method import AppraisalStatus
from server.appraisal.service import Appraisal, FieldFigure
from server.satisfaction import wilson_interval


class Doubtful(BaseModel):
    """Ratings an officer could have influenced: counted apart, excluded from the rates, never deleted."""

    n: int
    reasons: dict[str, int] = Field(
        description="`rated_seconds_after_invite`, `registered_for_another_officer`, `after_hours_burst` (a rating "
        "may give several)"
    )


class FieldRow(BaseModel):
    """Valid, not doubtful ratings of one field."""

    key: str
    label: str
    label_en: str
    n: int
    satisfied: int
    rate: float | None


class Overall(BaseModel):
    """The unit's (whole subtree's) valid ratings, doubtful ones excluded."""

    n: int
    satisfied: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


class OfficerRow(BaseModel):
    """An officer's figures against the unit's rates for the same mix of fields."""

    key: str = Field(description="officer code")
    label: str = Field(description="officer name")
    unit: str = Field(description="the officer's unit code")
    n: int
    satisfied: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    expected: float | None = Field(description="the unit's rate for the officer's mix of fields")
    expected_low: float | None
    expected_high: float | None
    difference: float | None = Field(description="rate − expected")
    difference_low: float | None
    difference_high: float | None
    status: AppraisalStatus
    rank: int | None = Field(description="by difference, highest first; null for insufficient_data")
    doubtful: Doubtful
    fields: list[FieldRow]


class Rules(BaseModel):
    """The settings the doubtful rules used."""

    opening_time: time
    closing_time: time
    opening_weekdays: list[int]
    rapid_seconds: float
    burst_count: int
    burst_minutes: float


class AppraisalReport(BaseModel):
    """Officers' appraisal of a unit's subtree for a period (`GET /api/v1/appraisal`)."""

    period: str
    unit: str
    generated_at: datetime
    min_sample: int
    method: str = "indirect_standardisation"
    overall: Overall
    doubtful: Doubtful
    fields: list[FieldRow] = Field(description="the unit's rate per field: the reference of the comparison")
    officers: list[OfficerRow] = Field(description="ranked officers by rank, then those with too few ratings")
    rules: Rules


def _field(f: FieldFigure) -> FieldRow:
    return FieldRow(key=f.code, label=f.name_vi, label_en=f.name_en, n=f.n, satisfied=f.satisfied, rate=f.rate)


def to_report(appraisal: Appraisal) -> AppraisalReport:
    """The API's shape of an appraisal."""
    interval = wilson_interval(appraisal.overall.satisfied, appraisal.overall.n)
    rules = appraisal.rules
    return AppraisalReport(
        period=appraisal.period.code,
        unit=appraisal.unit.code,
        generated_at=appraisal.generated_at,
        min_sample=appraisal.min_sample,
        overall=Overall(
            n=appraisal.overall.n,
            satisfied=appraisal.overall.satisfied,
            rate=appraisal.overall.rate,
            ci_low=interval[0] if interval else None,
            ci_high=interval[1] if interval else None,
        ),
        doubtful=Doubtful(n=appraisal.doubtful, reasons=appraisal.doubtful_reasons),
        fields=[_field(f) for f in appraisal.fields],
        officers=[
            OfficerRow(
                key=o.code,
                label=o.name,
                unit=o.unit_code,
                **asdict(o.comparison),  # n, satisfied, rate and interval, expected, difference, status
                rank=o.rank,
                doubtful=Doubtful(n=o.doubtful, reasons=o.doubtful_reasons),
                fields=[_field(f) for f in o.fields],
            )
            for o in appraisal.officers
        ],
        rules=Rules(
            opening_time=rules.opening.opens,
            closing_time=rules.opening.closes,
            opening_weekdays=sorted(rules.opening.weekdays),
            rapid_seconds=rules.rapid_seconds,
            burst_count=rules.burst_count,
            burst_minutes=rules.burst_minutes,
        ),
    )

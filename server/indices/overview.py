"""A unit's report for a period, as the dashboard and the monthly exports show it.

Every figure comes from `server.indices.service.compute_indices`; this module picks the reports (overall, groups,
fields, child units, the 12-month trend, reasons) and orders their rows. The dashboard (`server.dashboard`) and the
exports (`server.exports`) both read it; neither owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from server.config import Settings
from server.db import utcnow
from server.indices.periods import Period, add_months, parse_period
from server.indices.schemas import IndexRow, IndicesReport, ResponseRate
from server.indices.service import compute_indices
from server.models import Reason, Unit

TREND_MONTHS = 12


def report(*, session: Session, settings: Settings, unit: Unit, period: Period, by: str | None) -> IndicesReport:
    """`compute_indices` with the server's minimum sample and time zone."""
    return compute_indices(
        session=session, unit=unit, period=period, by=by, min_sample=settings.min_sample, tz=settings.tz
    )


def trend_period(period: Period, months: int = TREND_MONTHS) -> Period:
    """The `months` calendar months ending with the month of the period's last day."""
    last_month = date(period.last_day.year, period.last_day.month, 1)
    start = add_months(last_month, 1 - months)
    end = add_months(last_month, 1) - timedelta(days=1)
    return parse_period(f"{start.isoformat()}..{end.isoformat()}")


def rank_rows(rows: list[IndexRow]) -> tuple[list[IndexRow], list[IndexRow]]:
    """Rows with enough ratings, best rate first; and the rest (too few ratings: shown apart, never ranked)."""
    ranked = [r for r in rows if r.status != "insufficient_data" and r.rate is not None]
    ranked.sort(key=lambda r: (-(r.rate or 0.0), -(r.ci_low or 0.0), r.key))
    ranked_keys = {r.key for r in ranked}  # by key: comparing whole rows would be quadratic in model equality
    few = [r for r in rows if r.key not in ranked_keys]
    few.sort(key=lambda r: (-r.n, r.key))
    return ranked, few


def sort_by_rate(rows: list[IndexRow]) -> list[IndexRow]:
    """Weakest first among rows with enough ratings, then rows with too few, then rows without any."""

    def key(r: IndexRow) -> tuple[int, float, str]:
        if r.n == 0 or r.rate is None:
            return (2, 0.0, r.key)
        if r.status == "insufficient_data":
            return (1, -r.n, r.key)
        return (0, r.rate, r.key)

    return sorted(rows, key=key)


@dataclass(frozen=True)
class ReasonCount:
    """A follow-up reason and how often dissatisfied citizens chose it."""

    code: str
    label: str
    label_en: str
    count: int
    share: float  # of the largest count, for bar lengths


@dataclass(frozen=True)
class Overview:
    """Everything a unit's monthly dashboard (and the monthly report) shows."""

    unit: Unit
    period: Period
    overall: IndexRow
    groups: list[IndexRow]
    fields: list[IndexRow]  # weakest first
    field_rows: list[IndexRow]  # in the field list's own order
    children: list[IndexRow]
    children_few: list[IndexRow]
    own: IndexRow | None  # ratings at the unit itself, when it also has children
    trend: list[IndexRow]
    trend_period: Period
    reasons: list[ReasonCount]
    response_rate: ResponseRate
    min_sample: int
    timezone: str
    generated_at: datetime = field(default_factory=utcnow)


def reason_counts(*, session: Session, counts: dict[str, int]) -> list[ReasonCount]:
    """Reason rows in the scale's order with their counts, most frequent first."""
    reasons = session.exec(select(Reason).order_by(col(Reason.sort_order))).all()
    top = max(counts.values(), default=0)
    out = [
        ReasonCount(r.code, r.name_vi, r.name_en, counts.get(r.code, 0), counts.get(r.code, 0) / top if top else 0.0)
        for r in reasons
        if r.active or counts.get(r.code)
    ]
    return sorted(out, key=lambda r: -r.count)


def overview(*, session: Session, settings: Settings, unit: Unit, period: Period, with_trend: bool = True) -> Overview:
    """The dashboard's figures for `unit` (with its subtree) over `period`."""
    by_group = report(session=session, settings=settings, unit=unit, period=period, by="group")
    by_field = report(session=session, settings=settings, unit=unit, period=period, by="field")
    by_unit = report(session=session, settings=settings, unit=unit, period=period, by="unit")
    trend_span = trend_period(period)
    trend = (
        report(session=session, settings=settings, unit=unit, period=trend_span, by="month").rows if with_trend else []
    )
    child_rows = [r for r in by_unit.rows if r.key != unit.code]
    own = next((r for r in by_unit.rows if r.key == unit.code), None)
    ranked, few = rank_rows(child_rows)
    return Overview(
        unit=unit,
        period=period,
        overall=by_group.overall,
        groups=by_group.rows,
        fields=sort_by_rate(by_field.rows),
        field_rows=by_field.rows,
        children=ranked,
        children_few=few,
        own=own if own is not None and child_rows and own.n > 0 else None,
        trend=trend,
        trend_period=trend_span,
        reasons=reason_counts(session=session, counts=by_group.overall.reasons),
        response_rate=by_group.response_rate,
        min_sample=settings.min_sample,
        timezone=settings.timezone,
    )

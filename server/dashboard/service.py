"""What the dashboard and the monthly exports show for a unit and a period.

Every figure comes from `server.indices.service.compute_indices`; this module only picks reports, orders rows and
reads the few things the indices do not cover (comments, kiosk status, names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.config import Settings
from server.db import utcnow
from server.errors import Invalid, NotFound
from server.indices.periods import Period, add_months, parse_period
from server.indices.schemas import IndexRow, IndicesReport, ResponseRate
from server.indices.service import compute_indices
from server.models import (
    Counter,
    KioskDevice,
    ProcedureField,
    Rating,
    RatingReason,
    Reason,
    ScaleLevel,
    Unit,
)
from server.units.service import ancestors, is_in_subtree, subtree_ids

TREND_MONTHS = 12
#: A kiosk not heard from for this long is shown as out of touch.
KIOSK_STALE_AFTER = timedelta(hours=24)
COMMENTS_SHOWN = 20


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


@dataclass(frozen=True)
class FieldDrilldown:
    """One field of a unit: its figures per child unit and per month."""

    unit: Unit
    period: Period
    field: ProcedureField
    overall: IndexRow
    children: list[IndexRow]
    children_few: list[IndexRow]
    months: list[IndexRow]
    reasons: list[ReasonCount]  # why citizens were not satisfied in this field, most chosen first


def get_field(*, session: Session, code: str) -> ProcedureField:
    """The procedure field with this code, or 404."""
    row = session.exec(select(ProcedureField).where(ProcedureField.code == code)).first()
    if row is None:
        raise NotFound("unknown field {code!r}", code=code)
    return row


def field_drilldown(
    *, session: Session, settings: Settings, unit: Unit, period: Period, field_code: str
) -> FieldDrilldown:
    """A field's figures for the unit, for each child unit and for each of the last twelve months (two reports)."""
    field_row = get_field(session=session, code=field_code)
    field_id = int(field_row.id or 0)

    def field_report(period: Period, by: str) -> IndicesReport:
        return compute_indices(
            session=session,
            unit=unit,
            period=period,
            by=by,
            min_sample=settings.min_sample,
            tz=settings.tz,
            field_id=field_id,
        )

    by_unit = field_report(period, "unit")
    overall = by_unit.overall.model_copy(
        update={"key": field_row.code, "label": field_row.name_vi, "label_en": field_row.name_en}
    )
    ranked, few = rank_rows([r for r in by_unit.rows if r.key != unit.code])
    months = field_report(trend_period(period), "month").rows
    reasons = reason_counts(session=session, counts=overall.reasons)
    return FieldDrilldown(unit, period, field_row, overall, ranked, few, months, reasons)


@dataclass(frozen=True)
class CommentView:
    """A comment a dissatisfied citizen left, for a manager to read."""

    rated_at: datetime
    unit_code: str
    unit_name: str
    field_label: str
    field_label_en: str
    level: int
    level_label: str
    level_label_en: str
    comment: str
    reasons: list[tuple[str, str]]  # (Vietnamese, English) names
    contact: str | None


def latest_comments(
    *,
    session: Session,
    unit: Unit,
    period: Period,
    field_code: str | None = None,
    show_contact: bool,
    limit: int = COMMENTS_SHOWN,
) -> list[CommentView]:
    """Newest comments left with not-satisfied ratings in `unit`'s subtree; contacts only when consented and allowed."""
    # `local_date` decides; the `rated_at` window around it (a day wider on each side than any time zone needs)
    # lets the database walk the small index of commented ratings newest first instead of a whole month.
    window_start = datetime.combine(period.start, time(), UTC) - timedelta(days=1)
    window_end = datetime.combine(period.end, time(), UTC) + timedelta(days=1)
    conditions = [
        col(Rating.comment).is_not(None),
        col(Rating.rated_at) >= window_start,
        col(Rating.rated_at) < window_end,
        col(Rating.unit_id).in_(subtree_ids(unit)),
        col(Rating.local_date) >= period.start,
        col(Rating.local_date) < period.end,
        col(Rating.satisfied).is_(False),
        col(Rating.comment) != "",
    ]
    if field_code:
        conditions.append(col(Rating.field_id) == get_field(session=session, code=field_code).id)
    stmt = (
        sa.select(Rating, Unit, ProcedureField, ScaleLevel)
        .join(Unit, col(Unit.id) == Rating.unit_id)
        .join(ProcedureField, col(ProcedureField.id) == Rating.field_id)
        .join(ScaleLevel, col(ScaleLevel.level) == Rating.level)
        .where(*conditions)
        .order_by(col(Rating.rated_at).desc())
        .limit(limit)
    )
    found = session.execute(stmt).all()
    reasons: dict[object, list[tuple[str, str]]] = {}
    if found:
        ids = [r[0].id for r in found]
        for rating_id, name_vi, name_en in session.execute(
            sa.select(col(RatingReason.rating_id), col(Reason.name_vi), col(Reason.name_en))
            .join(Reason, col(Reason.id) == RatingReason.reason_id)
            .where(col(RatingReason.rating_id).in_(ids))
            .order_by(col(Reason.sort_order))
        ).all():
            reasons.setdefault(rating_id, []).append((name_vi, name_en))
    out = []
    for rating, unit_row, field_row, level in found:
        contact = rating.contact if (show_contact and rating.contact_consent and rating.contact) else None
        out.append(
            CommentView(
                rated_at=rating.rated_at,
                unit_code=unit_row.code,
                unit_name=unit_row.name,
                field_label=field_row.name_vi,
                field_label_en=field_row.name_en,
                level=rating.level,
                level_label=level.name_vi,
                level_label_en=level.name_en,
                comment=rating.comment or "",
                reasons=reasons.get(rating.id, []),
                contact=contact,
            )
        )
    return out


@dataclass(frozen=True)
class KioskStatus:
    """A paired kiosk of the subtree: when it last called and how many ratings wait in its outbox."""

    device_id: int
    counter_code: str
    counter_name: str
    unit_name: str
    last_seen_at: datetime | None
    backlog: int
    state: Literal["ok", "stale", "never"]
    clock_flagged: bool


def kiosk_status(*, session: Session, unit: Unit, now: datetime | None = None, limit: int = 50) -> list[KioskStatus]:
    """Live (not revoked) kiosks of the subtree, those needing attention first."""
    now = now or utcnow()
    stmt = (
        sa.select(KioskDevice, Counter, Unit)
        .join(Counter, col(Counter.id) == KioskDevice.counter_id)
        .join(Unit, col(Unit.id) == Counter.unit_id)
        .where(col(Counter.unit_id).in_(subtree_ids(unit)), col(KioskDevice.revoked_at).is_(None))
    )
    out = []
    for device, counter, unit_row in session.execute(stmt).all():
        seen = device.last_seen_at
        state: Literal["ok", "stale", "never"] = (
            "never" if seen is None else ("stale" if now - seen > KIOSK_STALE_AFTER else "ok")
        )
        out.append(
            KioskStatus(
                int(device.id or 0),
                counter.code,
                counter.name,
                unit_row.name,
                seen,
                device.backlog,
                state,
                device.clock_flagged,
            )
        )
    order = {"never": 0, "stale": 1, "ok": 2}
    out.sort(key=lambda k: (order[k.state], -k.backlog, k.counter_code))
    return out[:limit]


def breadcrumbs(*, session: Session, unit: Unit, root: Unit | None) -> list[Unit]:
    """The chain of units from the user's root (or the tree's root, for admins) down to `unit`."""
    chain = ancestors(session=session, unit=unit)
    if root is None:
        return chain
    return [u for u in chain if is_in_subtree(unit=u, root=root)]


def period_choices(*, today: date, selected: Period) -> dict[str, list[str]]:
    """Options of the period picker: the last 24 months, 8 quarters and 5 years (and the selected one)."""
    this_month = date(today.year, today.month, 1)
    months = [add_months(this_month, -i).strftime("%Y-%m") for i in range(24)]
    quarter = (today.month - 1) // 3 + 1
    quarters = []
    y, q = today.year, quarter
    for _ in range(8):
        quarters.append(f"{y}-Q{q}")
        y, q = (y, q - 1) if q > 1 else (y - 1, 4)
    years = [str(today.year - i) for i in range(5)]
    choices = {"month": months, "quarter": quarters, "year": years}
    if selected.kind in choices and selected.code not in choices[selected.kind]:
        choices[selected.kind].insert(0, selected.code)
    return choices


def default_period(*, today: date) -> Period:
    """The month the dashboard opens on: the last complete one (the current month is still filling up)."""
    return parse_period(add_months(date(today.year, today.month, 1), -1).strftime("%Y-%m"))


def reporting_period(text: str | None, *, today: date, kinds: tuple[str, ...] = ("month", "quarter", "year")) -> Period:
    """Parse a `period` parameter (month, quarter or year); the last complete month when absent."""
    if not text:
        return default_period(today=today)
    period = parse_period(text)
    if period.kind not in kinds:
        raise Invalid("period {text!r}: use a month (2026-10), a quarter (2026-Q3) or a year (2026)", text=text)
    return period

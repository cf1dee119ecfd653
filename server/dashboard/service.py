"""What the dashboard shows beside a unit's report (`server.indices.overview`): a field's drill-down, the latest
comments, the kiosks' status and the breadcrumbs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.config import Settings
from server.db import utcnow
from server.errors import NotFound
from server.indices.overview import ReasonCount, rank_rows, reason_counts, trend_period
from server.indices.periods import Period
from server.indices.schemas import IndexRow, IndicesReport
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
    Visit,
)
from server.tables import PETITION
from server.units.service import ancestors, is_in_subtree, subtree_ids

#: A kiosk not heard from for this long is shown as out of touch.
KIOSK_STALE_AFTER = timedelta(hours=24)
COMMENTS_SHOWN = 20


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
    #: Whether the citizen left a contact with consent. The contact itself is never in a comment list: the people
    #: handling the petition see it on the petition's page, where every view is audited (issue 15, finding 1).
    has_contact: bool
    petition_id: uuid.UUID | None  # the petition the rating became, if any


def latest_comments(
    *,
    session: Session,
    unit: Unit,
    period: Period,
    field_code: str | None = None,
    dossier_code: str | None = None,
    limit: int = COMMENTS_SHOWN,
) -> list[CommentView]:
    """Newest comments left with not-satisfied ratings in `unit`'s subtree, each with whether a contact was given
    (never the contact) and the petition it became.

    With `dossier_code`: that dossier's not-satisfied ratings (the QĐ 766 drill-down's "disliked"), with or without
    a comment and whatever month they were given in, as the score counts them."""
    conditions: list[sa.ColumnElement[bool]] = [
        col(Rating.unit_id).in_(subtree_ids(unit)),
        col(Rating.satisfied).is_(False),
    ]
    if dossier_code is not None:
        visits = sa.select(col(Visit.id)).where(col(Visit.dossier_code) == dossier_code)
        conditions += [col(Rating.visit_id).in_(visits), col(Rating.misuse).is_(False)]
    else:
        # `local_date` decides; the `rated_at` window around it (a day wider on each side than any time zone needs)
        # lets the database walk the small index of commented ratings newest first instead of a whole month.
        window_start = datetime.combine(period.start, time(), UTC) - timedelta(days=1)
        window_end = datetime.combine(period.end, time(), UTC) + timedelta(days=1)
        conditions += [
            col(Rating.comment).is_not(None),
            col(Rating.rated_at) >= window_start,
            col(Rating.rated_at) < window_end,
            col(Rating.local_date) >= period.start,
            col(Rating.local_date) < period.end,
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
    petitions: dict[object, uuid.UUID] = {}
    if found:
        ids = [r[0].id for r in found]
        petitions = {
            r.rating_id: r.id
            for r in session.connection().execute(
                sa.select(PETITION.c.rating_id, PETITION.c.id).where(PETITION.c.rating_id.in_(ids))
            )
        }
        for rating_id, name_vi, name_en in session.execute(
            sa.select(col(RatingReason.rating_id), col(Reason.name_vi), col(Reason.name_en))
            .join(Reason, col(Reason.id) == RatingReason.reason_id)
            .where(col(RatingReason.rating_id).in_(ids))
            .order_by(col(Reason.sort_order))
        ).all():
            reasons.setdefault(rating_id, []).append((name_vi, name_en))
    out = []
    for rating, unit_row, field_row, level in found:
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
                has_contact=bool(rating.contact_consent and rating.contact),
                petition_id=petitions.get(rating.id),
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

"""The officers' appraisal of a unit's subtree for a period: per-officer figures against the unit's rates for the
same mix of fields, with the ratings an officer could have influenced shown apart (arithmetic: `method`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from server.appraisal import method
from server.appraisal.method import Comparison, Counts, OpeningHours
from server.config import Settings
from server.db import utcnow
from server.indices.periods import Period
from server.models import Unit
from server.tables import FIELD, OFFICER, RATING, SCALE, UNIT, USER, VISIT

#: Valid ratings of a subtree for a period, with what the doubtful rules need: the visit's creator and the creator's
#: officer. Raw ratings, not the rollups: the rules look at single ratings (a year of a ward is a few thousand).
_RATINGS = (
    sa.select(
        RATING.c.officer_id,
        RATING.c.field_id,
        RATING.c.satisfied,
        RATING.c.level,
        RATING.c.counter_id,
        RATING.c.rated_at,
        VISIT.c.created_at.label("visit_created_at"),
        VISIT.c.created_by_kind,
        USER.c.officer_id.label("creator_officer_id"),
    )
    .join(UNIT, UNIT.c.id == RATING.c.unit_id)
    .outerjoin(VISIT, VISIT.c.id == RATING.c.visit_id)
    .outerjoin(USER, USER.c.id == VISIT.c.created_by_user_id)
    .where(
        UNIT.c.path.like(sa.bindparam("path")),
        RATING.c.local_date >= sa.bindparam("start"),
        RATING.c.local_date < sa.bindparam("end"),
        RATING.c.misuse.is_(False),
    )
)


@dataclass(frozen=True)
class FieldFigure:
    """A field's counts (the unit's reference rate, or an officer's share)."""

    code: str
    name_vi: str
    name_en: str
    n: int
    satisfied: int

    @property
    def rate(self) -> float | None:
        """Satisfied ÷ valid."""
        return self.satisfied / self.n if self.n else None


@dataclass(frozen=True)
class OfficerAppraisal:
    """One officer's line of the appraisal."""

    code: str
    name: str
    unit_code: str
    comparison: Comparison
    rank: int | None
    doubtful: int
    doubtful_reasons: dict[str, int]
    fields: list[FieldFigure]


@dataclass(frozen=True)
class Rules:
    """The settings of the doubtful rules, as applied (printed with the report)."""

    opening: OpeningHours
    rapid_seconds: float
    burst_count: int
    burst_minutes: float


@dataclass(frozen=True)
class Appraisal:
    """The appraisal of a unit's subtree for a period."""

    unit: Unit
    period: Period
    generated_at: datetime
    min_sample: int
    rules: Rules
    overall: Counts  # the unit's valid ratings without the doubtful ones
    doubtful: int
    doubtful_reasons: dict[str, int]
    fields: list[FieldFigure]  # the unit's rate per field: the reference of the standardisation
    officers: list[OfficerAppraisal] = field(default_factory=list)

    def officer(self, code: str) -> OfficerAppraisal | None:
        """One officer's line, if any."""
        return next((o for o in self.officers if o.code == code), None)


def rules_of(settings: Settings) -> Rules:
    """The doubtful rules' settings."""
    return Rules(
        opening=OpeningHours(
            opens=settings.opening_time,
            closes=settings.closing_time,
            weekdays=frozenset(settings.opening_weekdays),
        ),
        rapid_seconds=settings.doubtful_rating_seconds,
        burst_count=settings.doubtful_burst_count,
        burst_minutes=settings.doubtful_burst_minutes,
    )


def appraise(*, session: Session, settings: Settings, unit: Unit, period: Period) -> Appraisal:
    """Every officer with ratings in `unit`'s subtree in `period` (and every active officer of the subtree)."""
    rules = rules_of(settings)
    conn = session.connection()
    rows = conn.execute(_RATINGS, {"path": unit.path + "%", "start": period.start, "end": period.end}).all()
    top = conn.execute(sa.select(sa.func.max(SCALE.c.level)).where(SCALE.c.satisfied.is_(True))).scalar()
    tz = settings.tz

    # Ratings are told apart by their position in `rows` (cheaper than converting every rating's UUID).
    reasons: dict[int, list[str]] = defaultdict(list)
    top_rated: list[tuple[int, int, datetime]] = []
    for i, (officer_id, _f, _s, level, counter_id, rated_at, opened, kind, creator_officer) in enumerate(rows):
        if opened is not None:  # a visit's rating (walk-up ratings have none)
            if method.rapid_after_invite(
                creator_kind=kind, visit_created_at=opened, rated_at=rated_at, seconds=rules.rapid_seconds
            ):
                reasons[i].append(method.RAPID_AFTER_INVITE)
            if method.registered_for_another(
                creator_kind=kind, creator_officer_id=creator_officer, officer_id=officer_id
            ):
                reasons[i].append(method.FOR_ANOTHER_OFFICER)
        if level == top:
            top_rated.append((i, counter_id, rated_at.astimezone(tz).replace(tzinfo=None)))
    for i in method.after_hours_bursts(
        top_rated,
        opening=rules.opening,
        count=rules.burst_count,
        window=timedelta(minutes=rules.burst_minutes),
    ):
        reasons[i].append(method.AFTER_HOURS_BURST)

    unit_counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    officer_counts: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    officer_doubtful: dict[int, list[list[str]]] = defaultdict(list)
    for i, (officer_id, field_id, satisfied, *_rest) in enumerate(rows):
        given = reasons.get(i)
        if given:
            if officer_id is not None:
                officer_doubtful[officer_id].append(given)
            continue
        counts = unit_counts[field_id]
        counts[0] += 1
        counts[1] += satisfied
        if officer_id is not None:
            counts = officer_counts[officer_id][field_id]
            counts[0] += 1
            counts[1] += satisfied

    fields = {f.id: f for f in conn.execute(sa.select(FIELD).order_by(FIELD.c.sort_order, FIELD.c.id))}
    reference = {f: Counts(n, s) for f, (n, s) in unit_counts.items()}

    def figures(counts: dict[int, list[int]]) -> list[FieldFigure]:
        return [
            FieldFigure(f.code, f.name_vi, f.name_en, counts[f_id][0], counts[f_id][1])
            for f_id, f in fields.items()
            if counts.get(f_id, [0])[0]
        ]

    officer_ids = set(officer_counts) | set(officer_doubtful)
    officers = conn.execute(
        sa.select(OFFICER.c.id, OFFICER.c.code, OFFICER.c.name, UNIT.c.code.label("unit_code"))
        .join(UNIT, UNIT.c.id == OFFICER.c.unit_id)
        .where(
            sa.or_(
                OFFICER.c.id.in_(officer_ids or [-1]),
                sa.and_(UNIT.c.path.like(unit.path + "%"), OFFICER.c.active.is_(True)),
            )
        )
    ).all()
    comparisons = {
        o.id: method.compare(
            {f: Counts(n, s) for f, (n, s) in officer_counts.get(o.id, {}).items()},
            reference,
            min_sample=settings.min_sample,
        )
        for o in officers
    }
    ranked = method.ranks({o.code: (comparisons[o.id].status, comparisons[o.id].difference) for o in officers})
    lines = [
        OfficerAppraisal(
            code=o.code,
            name=o.name,
            unit_code=o.unit_code,
            comparison=comparisons[o.id],
            rank=ranked.get(o.code),
            doubtful=len(officer_doubtful.get(o.id, [])),
            doubtful_reasons=method.reason_counts(officer_doubtful.get(o.id, [])),
            fields=figures(officer_counts.get(o.id, {})),
        )
        for o in officers
    ]
    # Ranked officers first by rank, then the others (too few ratings: shown, never ranked) by code.
    lines.sort(key=lambda line: (line.rank is None, line.rank or 0, line.code))
    return Appraisal(
        unit=unit,
        period=period,
        generated_at=utcnow(),
        min_sample=settings.min_sample,
        rules=rules,
        overall=Counts(sum(n for n, _ in unit_counts.values()), sum(s for _, s in unit_counts.values())),
        doubtful=len(reasons),
        doubtful_reasons=method.reason_counts(list(reasons.values())),
        fields=figures(unit_counts),
        officers=lines,
    )

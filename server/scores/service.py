"""The QĐ 766 satisfaction score of a unit's subtree from stored dossiers and petitions (docs/API.md, "Official
scores").

Dossiers are counted from `ix_dossier_unit_completed` (their flags are stored: see migration 0013), petitions from the
agreed `petition` columns. Entry points:

- `score_766(*, session, unit, period, tz, now)` — the subtree's `Score` (metrics and total), as the API answers it;
- `subtree_scores_766(*, session, unit, period, tz, now)` — the same for the unit and every unit below it, in two
  grouped queries (the public page, the bench);
- `score_766_breakdown(...)` — the dashboard's explanation: per child unit, per field, month by month;
- `costly_dossiers(...)` — the dossiers that cost points (overdue, disliked), for the drill-down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session

from server.db import utcnow
from server.indices.periods import Period, add_months
from server.models import Unit
from server.scores.formulas import (
    DossierCounts,
    PetitionCounts,
    Score,
    dossier_cost,
    petition_cost,
)
from server.scores.formulas import score_766 as score_from_counts
from server.tables import DOSSIER, FIELD, PETITION, RATING, UNIT, VISIT
from server.units.service import subtree_ids

DossierKey = Literal["unit", "field", "day"]


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def dossier_counts(session: Session, *, unit: Unit, start: date, end: date, by: DossierKey) -> dict[Any, DossierCounts]:
    """Dossiers of `unit`'s subtree completed or returned on days [start, end), grouped by unit id, field id or day."""
    key = {"unit": DOSSIER.c.unit_id, "field": DOSSIER.c.field_id, "day": DOSSIER.c.completed_on}[by]
    query = (
        sa.select(
            key,
            sa.func.count(),
            _count(DOSSIER.c.overdue),
            _count(sa.or_(DOSSIER.c.rated_not_satisfied, DOSSIER.c.petitioned)),
        )
        .where(DOSSIER.c.completed_on >= start, DOSSIER.c.completed_on < end)
        .where(DOSSIER.c.unit_id.in_(subtree_ids(unit)))
        .group_by(key)
    )
    return {k: DossierCounts(int(n), int(late), int(bad)) for k, n, late, bad in session.execute(query)}


def petition_counts(
    session: Session, *, unit: Unit, start: datetime, end: datetime, now: datetime
) -> dict[int, PetitionCounts]:
    """Petitions of `unit`'s subtree received in [start, end), per unit id, with how they were handled by `now`."""
    p = PETITION.c  # only the columns agreed with the petitions issue (see `Petition`)
    on_time = sa.or_(
        sa.and_(p.answered_at.is_not(None), p.answered_at <= p.due_at),
        sa.and_(p.answered_at.is_(None), p.due_at >= now),
    )
    satisfied = sa.and_(on_time, sa.or_(p.reaction.is_(None), p.reaction != "not_satisfied"), sa.not_(p.reopened))
    query = (
        sa.select(
            p.unit_id,
            sa.func.count(),
            _count(on_time),
            _count(satisfied),
            _count(p.category == "tthc"),
            _count(p.category == "staff"),
        )
        .select_from(PETITION)
        .where(p.received_at >= start, p.received_at < end)
        .where(p.unit_id.in_(subtree_ids(unit)))
        .group_by(p.unit_id)
    )
    return {
        uid: PetitionCounts(int(n), int(ok), int(sat), int(tthc), int(staff))
        for uid, n, ok, sat, tthc, staff in session.execute(query)
    }


def _instants(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), tz), datetime.combine(end, time(), tz)


def _sum(values: Iterable[Any], zero: Any) -> Any:
    total = zero
    for v in values:
        total = total + v
    return total


def score_766(*, session: Session, unit: Unit, period: Period, tz: tzinfo, now: datetime | None = None) -> Score:
    """The QĐ 766 satisfaction score (18 points) of `unit` and everything below it for `period`."""
    start, end = _instants(period.start, period.end, tz)
    dossiers = dossier_counts(session, unit=unit, start=period.start, end=period.end, by="unit")
    petitions = petition_counts(session, unit=unit, start=start, end=end, now=now or utcnow())
    return score_from_counts(_sum(dossiers.values(), DossierCounts()), _sum(petitions.values(), PetitionCounts()))


@dataclass(frozen=True)
class UnitCounts:
    """A unit of a subtree with its whole subtree's counts."""

    id: int
    code: str
    name: str
    parent_id: int | None
    path: str
    dossiers: DossierCounts
    petitions: PetitionCounts

    @property
    def score(self) -> Score:
        """The unit's subtree score."""
        return score_from_counts(self.dossiers, self.petitions)


def subtree_counts(
    *, session: Session, unit: Unit, period: Period, tz: tzinfo, now: datetime | None = None
) -> dict[int, UnitCounts]:
    """`unit` and every unit below it, each with its whole subtree's counts for `period` (keyed by unit id)."""
    start, end = _instants(period.start, period.end, tz)
    own_dossiers = dossier_counts(session, unit=unit, start=period.start, end=period.end, by="unit")
    own_petitions = petition_counts(session, unit=unit, start=start, end=end, now=now or utcnow())
    units = session.execute(
        sa.select(UNIT.c.id, UNIT.c.code, UNIT.c.name, UNIT.c.parent_id, UNIT.c.path).where(
            UNIT.c.path.like(unit.path + "%")
        )
    ).all()
    dossiers: dict[int, DossierCounts] = defaultdict(DossierCounts)
    petitions: dict[int, PetitionCounts] = defaultdict(PetitionCounts)
    depth = unit.path.count("/") - 1  # ancestors above `unit` are not in the answer
    for uid, path in ((u.id, u.path) for u in units):
        ancestors = [int(part) for part in path.strip("/").split("/")][depth - 1 :]
        own_d, own_p = own_dossiers.get(uid), own_petitions.get(uid)
        for ancestor in ancestors:
            if own_d is not None:
                dossiers[ancestor] = dossiers[ancestor] + own_d
            if own_p is not None:
                petitions[ancestor] = petitions[ancestor] + own_p
    return {
        u.id: UnitCounts(
            u.id,
            u.code,
            u.name,
            u.parent_id,
            u.path,
            dossiers.get(u.id, DossierCounts()),
            petitions.get(u.id, PetitionCounts()),
        )
        for u in units
    }


def subtree_scores_766(
    *, session: Session, unit: Unit, period: Period, tz: tzinfo, now: datetime | None = None
) -> dict[str, Score]:
    """The score of `unit` and of every unit below it (each over its own subtree), by unit code."""
    counts = subtree_counts(session=session, unit=unit, period=period, tz=tz, now=now)
    return {c.code: c.score for c in counts.values()}


@dataclass(frozen=True)
class PartRow:
    """A part of the subtree (a child unit or a field) and the points its failures cost the whole."""

    key: str
    label: str
    dossiers: DossierCounts
    petitions: PetitionCounts
    dossier_cost: float
    petition_cost: float
    score: Score | None  # a child unit's own subtree score; None for fields

    @property
    def cost(self) -> float:
        """Points the whole would regain without this part's failures."""
        return round(self.dossier_cost + self.petition_cost, 2)


@dataclass(frozen=True)
class MonthRow:
    """A month's score of the subtree."""

    month: str
    score: Score


@dataclass(frozen=True)
class Breakdown:
    """Why the subtree scores what it does: its score, its children, its fields, and the months before."""

    score: Score
    children: list[PartRow]
    fields: list[PartRow]
    months: list[MonthRow]


def score_766_breakdown(
    *, session: Session, unit: Unit, period: Period, tz: tzinfo, lang: str = "vi", now: datetime | None = None
) -> Breakdown:
    """The dashboard's explanation of the subtree's score: children and fields by points lost, 12 months' trend."""
    now = now or utcnow()
    counts = subtree_counts(session=session, unit=unit, period=period, tz=tz, now=now)
    whole = counts[unit.id or 0]  # the unit is in its own subtree
    score, total_d, total_p = whole.score, whole.dossiers, whole.petitions
    children = [
        PartRow(
            c.code,
            c.name,
            c.dossiers,
            c.petitions,
            dossier_cost(total_d, c.dossiers),
            petition_cost(total_p, c.petitions),
            c.score,
        )
        for c in counts.values()
        if c.parent_id == unit.id
    ]
    by_field = dossier_counts(session, unit=unit, start=period.start, end=period.end, by="field")
    names = {
        fid: (code, vi if lang == "vi" else en)
        for fid, code, vi, en in session.execute(sa.select(FIELD.c.id, FIELD.c.code, FIELD.c.name_vi, FIELD.c.name_en))
    }
    unnamed = "(không ghi lĩnh vực)" if lang == "vi" else "(no field given)"
    fields = [
        PartRow(
            names.get(fid, ("", unnamed))[0] if fid is not None else "",
            names[fid][1] if fid in names else unnamed,
            c,
            PetitionCounts(),
            dossier_cost(total_d, c),
            0.0,
            None,
        )
        for fid, c in by_field.items()
    ]
    return Breakdown(
        score=score,
        children=sorted(children, key=lambda r: (-r.cost, r.key)),
        fields=sorted(fields, key=lambda r: (-r.cost, r.label)),
        months=month_scores(session=session, unit=unit, last=period.last_day, tz=tz, now=now),
    )


def month_scores(
    *, session: Session, unit: Unit, last: date, tz: tzinfo, months: int = 12, now: datetime | None = None
) -> list[MonthRow]:
    """The subtree's score for each of the `months` months up to the one holding `last`, oldest first."""
    now = now or utcnow()
    first = add_months(last, 1 - months)
    stop = add_months(last, 1)
    by_day = dossier_counts(session, unit=unit, start=first, end=stop, by="day")
    out = []
    for i in range(months):
        start, end = add_months(first, i), add_months(first, i + 1)
        dossiers = _sum((c for day, c in by_day.items() if start <= _as_date(day) < end), DossierCounts())
        a, b = _instants(start, end, tz)
        petitions = _sum(petition_counts(session, unit=unit, start=a, end=b, now=now).values(), PetitionCounts())
        out.append(MonthRow(f"{start.year:04d}-{start.month:02d}", score_from_counts(dossiers, petitions)))
    return out


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class CostlyDossier:
    """A dossier that cost points: overdue, disliked by a rating, or named by a petition."""

    code: str
    unit_code: str
    field_code: str | None
    received_at: datetime
    due_at: datetime
    completed_at: datetime | None
    status: str
    overdue: bool
    rated_not_satisfied: bool
    petitioned: bool
    rating_ids: list[str]
    petition_ids: list[str]


def costly_dossiers(
    *,
    session: Session,
    unit: Unit,
    period: Period,
    kind: Literal["all", "overdue", "disliked"] = "all",
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[CostlyDossier]]:
    """The subtree's dossiers completed in `period` that cost points (how many in all, and one page of them)."""
    disliked = sa.or_(DOSSIER.c.rated_not_satisfied, DOSSIER.c.petitioned)
    condition = {"all": sa.or_(DOSSIER.c.overdue, disliked), "overdue": DOSSIER.c.overdue, "disliked": disliked}[kind]
    base = (
        sa.select(DOSSIER, UNIT.c.code.label("unit_code"), FIELD.c.code.label("field_code"))
        .join(UNIT, UNIT.c.id == DOSSIER.c.unit_id)
        .outerjoin(FIELD, FIELD.c.id == DOSSIER.c.field_id)
        .where(DOSSIER.c.completed_on >= period.start, DOSSIER.c.completed_on < period.end)
        .where(DOSSIER.c.unit_id.in_(subtree_ids(unit)))
        .where(condition)
    )
    total = session.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(base.order_by(DOSSIER.c.completed_on, DOSSIER.c.code).limit(limit).offset(offset)).all()
    codes = [r.code for r in rows]
    ratings: dict[str, list[str]] = defaultdict(list)
    petitions: dict[str, list[str]] = defaultdict(list)
    if codes:
        for code, rid in session.execute(
            sa.select(VISIT.c.dossier_code, RATING.c.id)
            .join(RATING, RATING.c.visit_id == VISIT.c.id)
            .where(VISIT.c.dossier_code.in_(codes), sa.not_(RATING.c.satisfied), sa.not_(RATING.c.misuse))
        ):
            ratings[code].append(str(rid))
        for code, pid in session.execute(
            sa.select(PETITION.c.dossier_code, PETITION.c.id).where(PETITION.c.dossier_code.in_(codes))
        ):
            petitions[code].append(str(pid))
    return total, [
        CostlyDossier(
            code=r.code,
            unit_code=r.unit_code,
            field_code=r.field_code,
            received_at=r.received_at,
            due_at=r.due_at,
            completed_at=r.completed_at,
            status=r.status,
            overdue=r.overdue,
            rated_not_satisfied=r.rated_not_satisfied,
            petitioned=r.petitioned,
            rating_ids=ratings.get(r.code, []),
            petition_ids=petitions.get(r.code, []),
        )
        for r in rows
    ]

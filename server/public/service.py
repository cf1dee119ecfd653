"""What the public pages (/cong-khai) publish: aggregate figures of the published units, small samples withheld.

A `Snapshot` is everything published for one top unit (the province) and one period: every published unit's
figures for its whole subtree, from one GROUP BY over the subtree month rollups (whose row for a unit already counts
its subtree: one sum per unit over its fields and the period's months). The unit pages, the ranking, the open data
and the badges are all cut from it; a unit page adds its own fields and trend (`compute_indices`). Nothing per
officer, no comments, no contacts, no levels or reason counts: a row has `n`, the rate with its interval, the
target and the status, and below the publication's minimum sample the rate and interval are withheld (None) and
the row is never ranked; so is the QĐ 766 score where its own counts are that small. A withheld figure is not left
to subtraction either (`protect_parts`: complementary suppression among the parts of a published total). (Measured
against the national matrix, `unit_field_matrix`, which also cut every unit into fields; migration 0018 removed it:
docs/benchmarks/public.md.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col

from server.config import Settings
from server.db import utcnow
from server.errors import Invalid, NotFound
from server.indices.periods import Period, add_months, parse_period
from server.indices.rollups import apply_pending
from server.indices.schemas import IndexRow
from server.indices.service import SUBTREE_MONTH, compute_indices, load_reference, period_months
from server.models import PublicSetting, PublicUnit, Unit
from server.satisfaction import rate, status, wilson_interval
from server.scores.service import subtree_counts as score_counts
from server.tables import RATING
from server.units.service import subtree_ids

TREND_MONTHS = 12
#: The periods people may pick (day ranges are for managers).
PUBLIC_KINDS = ("month", "quarter", "year")
SORTS = ("rate", "name", "n")
Sort = Literal["rate", "name", "n"]
#: Columns of the open data (docs/API.md, "Public disclosure"), in order.
COLUMNS = ("unit", "name", "parent", "n", "rate", "ci_low", "ci_high", "status", "score_766")
#: The CSV's columns: the rows' and, last, when the figures were as of (a file saved alone still says it).
CSV_COLUMNS = (*COLUMNS, "generated_at")
#: The status of a row withheld although it has enough ratings: its figures would let a reader subtract a smaller one.
WITHHELD = "withheld"


@dataclass(frozen=True)
class PublicRow:
    """One published figure: a unit with its whole subtree, or one field of a unit (`unit` then names the field)."""

    unit: str
    name: str
    name_en: str
    parent: str | None
    parent_name: str | None
    n: int
    rate: float | None  # None below the minimum sample (withheld) or without ratings
    ci_low: float | None
    ci_high: float | None
    target: float | None
    status: str | None
    score_766: float | None = None

    @property
    def withheld(self) -> bool:
        """Whether the rate is not published (too few ratings)."""
        return self.rate is None

    def data(self) -> dict[str, object]:
        """The open-data row (docs/API.md's columns)."""
        return {
            "unit": self.unit,
            "name": self.name,
            "parent": self.parent,
            "n": self.n,
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "status": self.status,
            "score_766": self.score_766,
        }


def public_row(
    row: IndexRow, *, min_sample: int, unit: str, name: str, name_en: str, parent: str | None, parent_name: str | None
) -> PublicRow:
    """An index row as published: below `min_sample` the rate and interval are withheld and the status says so."""
    small = row.n < min_sample
    return PublicRow(
        unit=unit,
        name=name,
        name_en=name_en,
        parent=parent,
        parent_name=parent_name,
        n=row.n,
        rate=None if small else row.rate,
        ci_low=None if small else row.ci_low,
        ci_high=None if small else row.ci_high,
        target=row.target,
        status="insufficient_data" if small else row.status,
    )


@dataclass(frozen=True)
class PublishedUnit:
    """A unit that is published: where it sits in the tree."""

    id: int
    code: str
    name: str
    parent_id: int | None
    path: str
    parent_code: str | None = None


@dataclass(frozen=True)
class Publication:
    """What the administrator chose: the published units (tree order) and the minimum sample."""

    units: dict[str, PublishedUnit]
    min_sample: int

    def top_of(self, code: str) -> PublishedUnit:
        """The highest published unit whose subtree holds `code` (the snapshot that publishes it)."""
        unit = self.units.get(code)
        if unit is None:
            raise NotFound("unit {code!r} is not published", code=code)
        best = unit
        for other in self.units.values():
            if unit.path.startswith(other.path) and len(other.path) < len(best.path):
                best = other
        return best

    def default_unit(self) -> PublishedUnit:
        """The page /cong-khai opens on: the first published unit at the top of the tree (the province)."""
        if not self.units:
            raise NotFound("nothing is published yet")
        return min(self.units.values(), key=lambda u: (u.path.count("/"), u.path))


def min_sample_setting(*, session: Session) -> int | None:
    """The publication's own minimum sample, if the administrator set one."""
    row = session.get(PublicSetting, 1)
    return row.min_sample if row is not None else None


def publication(*, session: Session, settings: Settings) -> Publication:
    """Which active units are published (the nearest setting on a unit's path wins; none: a top-level unit and its
    subtree are), and the minimum sample (the administrator's, or the index's)."""
    chosen = {
        int(u): bool(p) for u, p in session.execute(sa.select(col(PublicUnit.unit_id), col(PublicUnit.published)))
    }
    units = session.execute(
        sa.select(
            col(Unit.id), col(Unit.code), col(Unit.name), col(Unit.parent_id), col(Unit.path), col(Unit.active)
        ).order_by(col(Unit.path))
    ).all()
    published: dict[str, PublishedUnit] = {}
    codes = {int(uid): str(code) for uid, code, *_ in units}
    for uid, code, name, parent_id, path, active in units:
        decided = True  # a top-level unit without a setting: the province is public by default
        for ancestor in reversed([int(i) for i in path.strip("/").split("/") if i]):
            if ancestor in chosen:
                decided = bool(chosen[ancestor])
                break
        if decided and active:
            parent_code = codes.get(parent_id) if parent_id is not None else None
            published[code] = PublishedUnit(int(uid), code, name, parent_id, path, parent_code)
    own = min_sample_setting(session=session)
    return Publication(_tree_order(published), own if own is not None else settings.min_sample)


def _tree_order(units: dict[str, PublishedUnit]) -> dict[str, PublishedUnit]:
    """Depth first, siblings by code (a path's text order puts /1/10/ before /1/9/)."""
    by_id = {u.id: u for u in units.values()}
    kids: dict[int | None, list[PublishedUnit]] = {}
    for u in units.values():
        kids.setdefault(u.parent_id if u.parent_id in by_id else None, []).append(u)
    out: dict[str, PublishedUnit] = {}
    stack = sorted(kids.get(None, []), key=lambda u: u.code, reverse=True)
    while stack:
        unit = stack.pop()
        out[unit.code] = unit
        stack.extend(sorted(kids.get(unit.id, []), key=lambda u: u.code, reverse=True))
    return out


@dataclass(frozen=True)
class Snapshot:
    """Everything published for one top unit and one period, and when it was computed."""

    period: Period
    top: str
    min_sample: int
    generated_at: datetime
    rows: dict[str, PublicRow]  # every published unit of the subtree, in tree order
    paths: dict[str, str]
    ids: dict[str, int]

    def row(self, code: str) -> PublicRow:
        """A published unit's row (404 when it is not published in this snapshot)."""
        found = self.rows.get(code)
        if found is None:
            raise NotFound("unit {code!r} is not published", code=code)
        return found

    def below(self, code: str) -> list[PublicRow]:
        """The published units below `code`, at any depth, in tree order."""
        path = self.paths[code]
        return [r for c, r in self.rows.items() if c != code and self.paths[c].startswith(path)]

    def subtree(self, code: str) -> list[PublicRow]:
        """The unit's row and every published row below it (the open data's rows)."""
        return [self.row(code), *self.below(code)]


def subtree_counts(*, session: Session, unit: Unit, period: Period) -> dict[int, tuple[int, int]]:
    """(valid, satisfied) of every unit of `unit`'s subtree over `period` (whole months), each with its own subtree:
    one GROUP BY over the subtree month rollups. Units without ratings are absent."""
    apply_pending(session)  # this transaction's own writes first (PostgreSQL applies them at commit)
    t = SUBTREE_MONTH
    stmt = (
        sa.select(t.c.unit_id, sa.func.sum(t.c.valid), sa.func.sum(t.c.satisfied))
        .where(t.c.month.in_(period_months(period)), t.c.unit_id.in_(subtree_ids(unit)))
        .group_by(t.c.unit_id)
    )
    return {int(u): (int(n or 0), int(sat or 0)) for u, n, sat in session.execute(stmt)}


def build_snapshot(
    *,
    session: Session,
    publication: Publication,
    top: PublishedUnit,
    period: Period,
    tz: tzinfo,
) -> Snapshot:
    """The published figures of `top`'s subtree for `period`: one read of the subtree month rollups, then each
    published unit's row (rate, Wilson interval, the `all` group's target, status) in tree order, with its QĐ 766
    satisfaction score (`server.scores`, the same numbers as `/api/v1/scores/766`). Withheld: the rate under the
    minimum sample, the score too when the unit's ratings, its dossiers or its petitions are under it (the score
    counts dossiers a citizen disliked and petitions a citizen reacted to), and then the rates a reader could
    subtract a withheld one from (`protect_units`). Stamped with the data's own time (`data_time`), never the
    clock's, so that every worker gives the same bytes."""
    unit = session.get(Unit, top.id)
    if unit is None:
        raise NotFound("unit {code!r} is not published", code=top.code)
    counts = subtree_counts(session=session, unit=unit, period=period)
    scored = {c.code: c for c in score_counts(session=session, unit=unit, period=period, tz=tz).values()}
    target = load_reference(session).target("all", period.target_year)
    by_id = {pu.id: pu for pu in publication.units.values()}
    minimum = publication.min_sample
    rows: dict[str, PublicRow] = {}
    paths: dict[str, str] = {}
    ids: dict[str, int] = {}
    for pu in publication.units.values():  # tree order
        if not pu.path.startswith(top.path):
            continue
        n, satisfied = counts.get(pu.id, (0, 0))
        interval = wilson_interval(satisfied, n)
        parent = by_id.get(pu.parent_id) if pu.parent_id is not None else None
        own = scored.get(pu.code)  # the subtree's dossiers and petitions
        # Published with enough ratings and dossiers (without dossiers there is no score to speak of) and with no
        # petition (the formula gives those metrics full points, which reveals nobody) or enough of them.
        enough = (
            own is not None
            and min(n, own.dossiers.completed) >= minimum
            and (own.petitions.received == 0 or own.petitions.received >= minimum)
        )
        row = PublicRow(
            unit=pu.code,
            name=pu.name,
            name_en=pu.name,
            parent=pu.parent_code,
            parent_name=parent.name if parent is not None else None,
            n=n,
            rate=rate(satisfied, n),
            ci_low=interval[0] if interval else None,
            ci_high=interval[1] if interval else None,
            target=target,
            status=status(rate(satisfied, n), n, target, minimum),
            score_766=own.score.total if own is not None and enough else None,
        )
        rows[pu.code] = withheld(row, minimum)
        paths[pu.code] = pu.path
        ids[pu.code] = pu.id
    rows = protect_units(rows, paths, ids, minimum)
    stamp = data_time(session=session, period=period, tz=tz)
    return Snapshot(period, top.code, minimum, stamp, rows, paths, ids)


def data_time(*, session: Session, period: Period, tz: tzinfo) -> datetime:
    """When the published figures of `period` last changed, as far as the data says (not the clock, so that two
    workers over the same data agree): the newest rating of the period (of any unit: its newest rating day, by the
    day index, then the latest `received_at` of that day), or the publication's last changed setting if later;
    with neither, the period's first instant."""
    r = RATING.c
    newest_day = (
        sa.select(sa.func.max(r.local_date)).where(r.local_date >= period.start, r.local_date < period.end)
    ).scalar_subquery()
    rated = session.execute(sa.select(sa.func.max(r.received_at)).where(r.local_date == newest_day)).scalar()
    unit_change = session.execute(sa.select(sa.func.max(col(PublicUnit.changed_at)))).scalar()
    setting = session.get(PublicSetting, 1)
    times = [as_utc(t) for t in (rated, unit_change, setting.changed_at if setting else None) if t is not None]
    return max(times) if times else datetime.combine(period.start, time(), tz).astimezone(UTC)


def as_utc(at: datetime) -> datetime:
    """An instant read back from the database, aware and in UTC (SQLite may give it naive)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(UTC)


def protect_parts(*, total_n: int, total_withheld: bool, parts: list[PublicRow], min_sample: int) -> set[str]:
    """Complementary suppression within one total and its parts: which published parts to withhold as well.

    A reader can subtract the published parts from the total: the *remainder* is the total's ratings that no
    published part counts (withheld parts, the total's own ratings outside every part, units left out of the
    publication). Its `n` is known (every `n` is published), so its satisfied count is safe only if it has no
    rating or at least the minimum sample, as for any published figure; while it is in between, the smallest
    published part (fewest ratings, then the code) is withheld too, which is always enough, since a published part
    has at least the minimum sample. A withheld total whose parts are all published would be their sum: one part is
    withheld then as well."""
    published = sorted((p for p in parts if p.rate is not None and p.n > 0), key=lambda p: (p.n, p.unit))
    remainder = total_n - sum(p.n for p in published)
    out: set[str] = set()
    for part in published:
        if not (0 < remainder < min_sample or (total_withheld and remainder == 0 and total_n > 0)):
            break
        out.add(part.unit)
        remainder += part.n
    return out


def protect_units(
    rows: dict[str, PublicRow], paths: dict[str, str], ids: dict[str, int], min_sample: int
) -> dict[str, PublicRow]:
    """`protect_parts` for every published unit over the published units nearest below it (its children, or the
    published units below a child left out), top down: a unit withheld as a part is then a withheld total."""
    by_id = {ids[c]: c for c in rows}
    parts: dict[str, list[str]] = {}
    for code in rows:
        above = [int(i) for i in paths[code].strip("/").split("/") if i][:-1]
        nearest = next((by_id[i] for i in reversed(above) if i in by_id), None)
        if nearest is not None:
            parts.setdefault(nearest, []).append(code)
    out = dict(rows)
    for code in rows:  # tree order: a total is settled before its parts are looked at
        total = out[code]
        more = protect_parts(
            total_n=total.n,
            total_withheld=total.rate is None,
            parts=[out[c] for c in parts.get(code, [])],
            min_sample=min_sample,
        )
        for c in more:
            out[c] = secondary(out[c])
    return out


def secondary(row: PublicRow) -> PublicRow:
    """A row withheld although it has enough ratings (complementary suppression): status `withheld`."""
    return replace(row, rate=None, ci_low=None, ci_high=None, status=WITHHELD)


def withheld(row: PublicRow, min_sample: int) -> PublicRow:
    """The row as published: below `min_sample` without its rate and interval, status `insufficient_data`."""
    if row.n >= min_sample:
        return row
    return replace(row, rate=None, ci_low=None, ci_high=None, status="insufficient_data")


def unit_fields(
    *, session: Session, unit_id: int, period: Period, min_sample: int, settings: Settings, total_withheld: bool = False
) -> list[PublicRow]:
    """A unit's figures per procedure field (fields without ratings left out), small cells withheld, and more
    (`protect_parts`: the fields add up to the unit's figure, `total_withheld` when that is withheld)."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("unknown unit")
    report = compute_indices(
        session=session, unit=unit, period=period, by="field", min_sample=min_sample, tz=settings.tz
    )
    fields = [
        public_row(
            r, min_sample=min_sample, unit=r.key, name=r.label, name_en=r.label_en, parent=unit.code, parent_name=None
        )
        for r in report.rows
        if r.n > 0
    ]
    more = protect_parts(
        total_n=sum(f.n for f in fields), total_withheld=total_withheld, parts=fields, min_sample=min_sample
    )
    return [secondary(f) if f.unit in more else f for f in fields]


def ranked(rows: list[PublicRow], sort: Sort = "rate") -> tuple[list[tuple[int, PublicRow]], list[PublicRow]]:
    """Rows with a published rate as (rank, row), rank 1 the best rate (ties broken by the interval's lower bound,
    then the code), listed in `sort` order; and the rows under the minimum sample, apart and never ranked (most
    ratings first)."""
    with_rate = [r for r in rows if r.rate is not None]
    with_rate.sort(key=lambda r: (-(r.rate or 0.0), -(r.ci_low or 0.0), r.unit))
    out = [(i + 1, r) for i, r in enumerate(with_rate)]
    order: dict[str, Callable[[tuple[int, PublicRow]], tuple[object, ...]]] = {
        "rate": lambda x: (x[0],),
        "name": lambda x: (x[1].name.casefold(), x[1].unit),
        "n": lambda x: (-x[1].n, x[0]),
    }
    out.sort(key=order[sort])
    few = [r for r in rows if r.rate is None]
    few.sort(key=lambda r: (-r.n, r.unit))
    return out, few


def trend(*, session: Session, unit_id: int, period: Period, min_sample: int, settings: Settings) -> list[IndexRow]:
    """The unit's rate month by month, the twelve months ending with the period's last month; a month under the
    minimum sample keeps its `n` and loses its rate and interval."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("unknown unit")
    last = date(period.last_day.year, period.last_day.month, 1)
    first, end = add_months(last, 1 - TREND_MONTHS), add_months(last, 1) - timedelta(days=1)
    span = parse_period(f"{first.isoformat()}..{end.isoformat()}")
    report = compute_indices(session=session, unit=unit, period=span, by="month", min_sample=min_sample, tz=settings.tz)
    withheld: dict[str, object] = {
        "rate": None,
        "ci_low": None,
        "ci_high": None,
        "satisfied": 0,
        "levels": {},
        "reasons": {},
    }
    return [r if r.n >= min_sample else r.model_copy(update=withheld) for r in report.rows]


def public_period(text: str | None, *, today: date) -> Period:
    """A month, quarter or year (422 otherwise); without one, the last whole month."""
    if not text:
        return parse_period(f"{add_months(today, -1):%Y-%m}")
    period = parse_period(text)
    if period.kind not in PUBLIC_KINDS:
        raise Invalid("period {text!r}: use a month (2026-10), a quarter (2026-Q3) or a year (2026)", text=text)
    return period


def parse_sort(text: str | None) -> Sort:
    """The ranking's order: `rate` (default), `name` or `n`."""
    if not text:
        return "rate"
    if text not in SORTS:
        raise Invalid("sort={text!r} is not valid: use rate, name or n", text=text)
    return text  # type: ignore[return-value]


def set_published(*, session: Session, unit: Unit, published: bool | None, actor: str) -> None:
    """Publish (True) or withhold (False) a unit's subtree, or drop its own setting (None: inherit)."""
    row = session.get(PublicUnit, unit.id)
    if published is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(PublicUnit(unit_id=int(unit.id or 0), published=published, changed_by=actor))
    else:
        row.published, row.changed_at, row.changed_by = published, utcnow(), actor
    session.flush()


def set_min_sample(*, session: Session, settings: Settings, value: int | None, actor: str) -> None:
    """The publication's minimum sample (None: the index's). Never below the index's own: public figures may be
    stricter than the managers', never looser."""
    if value is not None and not settings.min_sample <= value <= 100_000:
        raise Invalid("the minimum sample must be between {n} (the index's) and 100000", n=settings.min_sample)
    row = session.get(PublicSetting, 1)
    if row is None:
        session.add(PublicSetting(id=1, min_sample=value, changed_by=actor))
    else:
        row.min_sample, row.changed_at, row.changed_by = value, utcnow(), actor
    session.flush()

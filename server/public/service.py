"""What the public pages (/cong-khai) publish: aggregate figures of the published units, small samples withheld.

A `Snapshot` is everything published for one top unit (the province) and one period, built from one
`unit_field_matrix` read (every unit of the subtree × every field, subtree totals: on PostgreSQL one packed value
per unit for a month, the subtree month rollups otherwise); the unit pages, the ranking, the open data and the
badges are all cut from it. Nothing per officer, no comments, no contacts, no levels or reason counts: a row has
`n`, the rate with its interval, the target and the status, and below the publication's minimum sample the rate
and interval are withheld (None) and the row is never ranked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col

from server.config import Settings
from server.db import utcnow
from server.errors import Invalid, NotFound
from server.indices.matrix import Matrix, unit_field_matrix
from server.indices.periods import Period, add_months, parse_period
from server.indices.schemas import IndexRow
from server.indices.service import compute_indices
from server.models import PublicSetting, PublicUnit, Unit

TREND_MONTHS = 12
#: The periods people may pick (day ranges are for managers).
PUBLIC_KINDS = ("month", "quarter", "year")
SORTS = ("rate", "name", "n")
Sort = Literal["rate", "name", "n"]
#: Columns of the open data (API.md, "Public disclosure"), in order.
COLUMNS = ("unit", "name", "parent", "n", "rate", "ci_low", "ci_high", "status", "score_766")


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
        """The open-data row (API.md's columns)."""
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


@dataclass(frozen=True)
class Publication:
    """What the administrator chose: the published units (tree order) and the minimum sample."""

    units: dict[str, PublishedUnit]
    min_sample: int

    def top_of(self, code: str) -> PublishedUnit:
        """The highest published unit whose subtree holds `code` (the snapshot that publishes it)."""
        unit = self.units.get(code)
        if unit is None:
            raise NotFound(f"unit {code!r} is not published")
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
    for uid, code, name, parent_id, path, active in units:
        decided = True  # a top-level unit without a setting: the province is public by default
        for ancestor in reversed([int(i) for i in path.strip("/").split("/") if i]):
            if ancestor in chosen:
                decided = bool(chosen[ancestor])
                break
        if decided and active:
            published[code] = PublishedUnit(int(uid), code, name, parent_id, path)
    own = min_sample_setting(session=session)
    return Publication(published, own if own is not None else settings.min_sample)


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
    matrix: Matrix = field(repr=False)

    def row(self, code: str) -> PublicRow:
        """A published unit's row (404 when it is not published in this snapshot)."""
        found = self.rows.get(code)
        if found is None:
            raise NotFound(f"unit {code!r} is not published")
        return found

    def below(self, code: str) -> list[PublicRow]:
        """The published units below `code`, at any depth, in tree order."""
        path = self.paths[code]
        return [r for c, r in self.rows.items() if c != code and self.paths[c].startswith(path)]

    def subtree(self, code: str) -> list[PublicRow]:
        """The unit's row and every published row below it (the open data's rows)."""
        return [self.row(code), *self.below(code)]

    def fields(self, code: str) -> list[PublicRow]:
        """The unit's figures per procedure field (fields without ratings left out), small cells withheld."""
        unit_id = self.ids[code]
        out = []
        for field_id, (field_code, name_vi, name_en) in self.matrix.fields.items():
            row = self.matrix.row(unit_id, field_id, self.min_sample)
            if row.n == 0:
                continue
            out.append(
                public_row(
                    row,
                    min_sample=self.min_sample,
                    unit=field_code,
                    name=name_vi,
                    name_en=name_en,
                    parent=code,
                    parent_name=None,
                )
            )
        return out


def build_snapshot(
    *, session: Session, publication: Publication, top: PublishedUnit, period: Period, now: datetime | None = None
) -> Snapshot:
    """The published figures of `top`'s subtree for `period`: one matrix read, then rows in tree order."""
    unit = session.get(Unit, top.id)
    if unit is None:
        raise NotFound(f"unit {top.code!r} is not published")
    matrix = unit_field_matrix(session=session, unit=unit, period=period, reasons=False)
    codes = {uid: code for uid, (code, _name) in matrix.units.items()}
    names = {pu.id: pu.name for pu in publication.units.values()}
    rows: dict[str, PublicRow] = {}
    paths: dict[str, str] = {}
    ids: dict[str, int] = {}
    for uid, (code, name) in matrix.units.items():
        pu = publication.units.get(code)
        if pu is None or not pu.path.startswith(top.path):
            continue
        parent = codes.get(pu.parent_id) if pu.parent_id is not None else None
        rows[code] = public_row(
            matrix.row(uid, None, publication.min_sample),
            min_sample=publication.min_sample,
            unit=code,
            name=name,
            name_en=name,
            parent=parent,
            parent_name=names.get(pu.parent_id) if pu.parent_id is not None else None,
        )
        paths[code] = pu.path
        ids[code] = uid
    return Snapshot(period, top.code, publication.min_sample, now or utcnow(), rows, paths, ids, matrix)


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
        raise Invalid(f"period {text!r}: use a month (2026-10), a quarter (2026-Q3) or a year (2026)")
    return period


def parse_sort(text: str | None) -> Sort:
    """The ranking's order: `rate` (default), `name` or `n`."""
    if not text:
        return "rate"
    if text not in SORTS:
        raise Invalid(f"sort={text!r} is not valid: use rate, name or n")
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
        raise Invalid(f"the minimum sample must be between {settings.min_sample} (the index's) and 100000")
    row = session.get(PublicSetting, 1)
    if row is None:
        session.add(PublicSetting(id=1, min_sample=value, changed_by=actor))
    else:
        row.min_sample, row.changed_at, row.changed_by = value, utcnow(), actor
    session.flush()

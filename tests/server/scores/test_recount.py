"""Hypothesis: the score from the stored counts (flags kept by triggers, `ix_dossier_unit_completed`) equals an
independent recount from the raw dossiers, visits, ratings and petitions, for every unit of a tree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from server.dossiers.service import upsert_dossiers
from server.indices.periods import parse_period
from server.models import Dossier, Petition, Rating, ScaleLevel, Unit, Visit
from server.scores.formulas import DossierCounts, PetitionCounts, score_766
from server.scores.service import subtree_counts
from tests import factories
from tests.server.dossiers.helpers import at

NOW = at("2026-10-20", 12)
BASE = at("2026-09-25", 8)
UNITS = 4  # root, two children, a grandchild under the first child
PARENTS = (None, 0, 0, 1)


@dataclass(frozen=True)
class DossierSpec:
    unit: int
    received: int  # hours after BASE
    due_after: int  # hours after received
    done_after: int | None  # hours after received; None: still open
    status: str


@dataclass(frozen=True)
class RatingSpec:
    dossier: int  # index into the dossiers; beyond them: a code no dossier has
    level: int
    misuse: bool
    before: bool  # stored before the dossiers arrive
    flip_misuse: bool  # its misuse flag is switched afterwards


@dataclass(frozen=True)
class PetitionSpec:
    unit: int
    dossier: int | None
    received: int  # hours after BASE
    due_after: int
    answered_after: int | None
    reaction: str | None
    reopened: bool
    category: str
    before: bool
    moved_to: int | None  # its dossier code corrected afterwards


hours = st.integers(0, 24 * 50)
dossier_specs = st.builds(
    DossierSpec,
    unit=st.integers(0, UNITS - 1),
    received=hours,
    due_after=st.integers(1, 24 * 20),
    done_after=st.none() | st.integers(0, 24 * 30),
    status=st.sampled_from(["completed", "returned", "cancelled", "processing"]),
)
rating_specs = st.builds(
    RatingSpec,
    dossier=st.integers(0, 12),
    level=st.integers(1, 4),
    misuse=st.booleans(),
    before=st.booleans(),
    flip_misuse=st.booleans(),
)
petition_specs = st.builds(
    PetitionSpec,
    unit=st.integers(0, UNITS - 1),
    dossier=st.none() | st.integers(0, 12),
    received=hours,
    due_after=st.integers(1, 24 * 30),
    answered_after=st.none() | st.integers(0, 24 * 40),
    reaction=st.sampled_from([None, "satisfied", "not_satisfied"]),
    reopened=st.booleans(),
    category=st.sampled_from(["tthc", "staff", "other"]),
    before=st.booleans(),
    moved_to=st.none() | st.integers(0, 12),
)


def _item(i: int, spec: DossierSpec, units: list[Unit]) -> dict[str, Any]:
    received = BASE + timedelta(hours=spec.received)
    item: dict[str, Any] = {
        "code": f"HS-{i}",
        "unit": units[spec.unit].code,
        "received_at": received.isoformat(),
        "due_at": (received + timedelta(hours=spec.due_after)).isoformat(),
    }
    if spec.done_after is not None and spec.status in ("completed", "returned"):
        item["completed_at"] = (received + timedelta(hours=spec.done_after)).isoformat()
        item["status"] = spec.status
    elif spec.status in ("processing", "cancelled"):
        item["status"] = spec.status
    return item


def build(session: Session, ds: list[DossierSpec], rs: list[RatingSpec], ps: list[PetitionSpec]) -> list[Unit]:
    units: list[Unit] = []
    for parent in PARENTS:
        units.append(factories.unit(session, units[parent] if parent is not None else None))
    counters = [factories.counter(session, u) for u in units]
    satisfied = dict(session.exec(select(ScaleLevel.level, ScaleLevel.satisfied)).all())
    ratings: list[Rating] = []
    petitions: list[tuple[PetitionSpec, Petition]] = []

    def add_rating(spec: RatingSpec) -> None:
        counter = counters[spec.dossier % UNITS]
        visit = factories.counter_visit(session, counter)
        visit.dossier_code = f"HS-{spec.dossier}"
        session.add(visit)
        session.flush()
        rating = Rating(
            id=uuid.uuid4(),
            level=spec.level,
            satisfied=satisfied[spec.level],
            field_id=visit.field_id,
            unit_id=counter.unit_id,
            counter_id=counter.id,  # type: ignore[arg-type]
            visit_id=visit.id,
            channel="phone",
            rated_at=NOW,
            local_date=NOW.date(),
            misuse=spec.misuse,
        )
        session.add(rating)
        session.flush()
        ratings.append(rating)

    def add_petition(spec: PetitionSpec) -> None:
        received = BASE + timedelta(hours=spec.received)
        petition = Petition(
            unit_id=units[spec.unit].id,  # type: ignore[arg-type]
            category=spec.category,
            dossier_code=f"HS-{spec.dossier}" if spec.dossier is not None else None,
            received_at=received,
            due_at=received + timedelta(hours=spec.due_after),
            answered_at=received + timedelta(hours=spec.answered_after) if spec.answered_after is not None else None,
            reaction=spec.reaction,
            reopened=spec.reopened,
            source="import",
            token=uuid.uuid4().hex[:24],
            content="…",
        )
        session.add(petition)
        session.flush()
        petitions.append((spec, petition))

    for r in rs:
        if r.before:
            add_rating(r)
    for p in ps:
        if p.before:
            add_petition(p)
    items = [_item(i, d, units) for i, d in enumerate(ds)]
    results = upsert_dossiers(session=session, items=items, scope=None, tz=factories.HCM)
    assert all(r.status == "created" for r in results), results
    for r in rs:
        if not r.before:
            add_rating(r)
    for p in ps:
        if not p.before:
            add_petition(p)
    for rating, spec in zip(ratings, [r for r in rs if r.before] + [r for r in rs if not r.before], strict=True):
        if spec.flip_misuse:
            rating.misuse = not rating.misuse
            session.add(rating)
    for spec, petition in petitions:
        if spec.moved_to is not None:
            petition.dossier_code = f"HS-{spec.moved_to}"
            session.add(petition)
    session.flush()
    session.expire_all()
    return units


def recount(session: Session, units: list[Unit]) -> dict[int, tuple[DossierCounts, PetitionCounts]]:
    """From the raw rows only: no flag, no derived column, no trigger-kept value."""
    period = parse_period("2026-10")
    start, end = period.instants(factories.HCM)
    paths = {u.id: session.get(Unit, u.id).path for u in units}  # type: ignore[union-attr]
    disliked = {
        v.dossier_code
        for v, r in session.exec(select(Visit, Rating).where(Rating.visit_id == Visit.id)).all()
        if not r.satisfied and not r.misuse
    } | {p.dossier_code for p in session.exec(select(Petition)).all()}
    out: dict[int, tuple[DossierCounts, PetitionCounts]] = {}
    dossiers = session.exec(select(Dossier)).all()
    petitions = session.exec(select(Petition)).all()
    for unit in units:
        inside = {uid for uid, path in paths.items() if path.startswith(paths[unit.id])}
        d = DossierCounts()
        for row in dossiers:
            done = row.completed_at
            if row.unit_id in inside and row.status in ("completed", "returned") and done and start <= done < end:
                d = d + DossierCounts(1, int(done > row.due_at), int(row.code in disliked))
        p = PetitionCounts()
        for row in petitions:
            if row.unit_id in inside and start <= row.received_at < end:
                late = row.answered_at > row.due_at if row.answered_at else row.due_at < NOW
                happy = not late and row.reaction != "not_satisfied" and not row.reopened
                p = p + PetitionCounts(
                    1, int(not late), int(happy), int(row.category == "tthc"), int(row.category == "staff")
                )
        out[unit.id] = (d, p)  # type: ignore[index]
    return out


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    ds=st.lists(dossier_specs, max_size=12),
    rs=st.lists(rating_specs, max_size=10),
    ps=st.lists(petition_specs, max_size=8),
)
def test_stored_counts_equal_a_recount_from_the_raw_rows(
    session: Session, ds: list[DossierSpec], rs: list[RatingSpec], ps: list[PetitionSpec]
) -> None:
    nested = session.begin_nested()
    try:
        units = build(session, ds, rs, ps)
        expected = recount(session, units)
        stored = subtree_counts(
            session=session, unit=units[0], period=parse_period("2026-10"), tz=factories.HCM, now=NOW
        )
        for unit in units:
            got = stored[unit.id]  # type: ignore[index]
            want_d, want_p = expected[unit.id]  # type: ignore[index]
            assert (got.dossiers, got.petitions) == (want_d, want_p), unit.code
            assert got.score == score_766(want_d, want_p)
    finally:
        nested.rollback()
        session.expire_all()

"""Demo dossiers for `hailong seed-demo`: so the dashboard's QĐ 766 score has something to explain.

For every demo unit with ratings, about half as many dossiers a month as ratings (some overdue, some still open),
and one dossier for each phone-rated visit (its rating, when not satisfied, makes the dossier "disliked"). Its own
random stream: the ratings stay exactly what the same seed gave before.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from server.dossiers.service import Row, write_rows
from server.models import Counter, Rating, Unit, Visit
from server.tables import VISIT


def seed_demo_dossiers(
    *, session: Session, seed: int, units: dict[str, tuple[int, float]], starts: list[date], tz: ZoneInfo, now: datetime
) -> int:
    """Add the demo dossiers (`units`: code → ratings a month and base satisfaction; ratings already stored)."""
    rng = random.Random(seed * 7919 + 766)
    ids = {code: (uid, path) for code, uid, path in session.execute(sa.select(Unit.code, Unit.id, Unit.path))}  # type: ignore[call-overload]
    rows: list[Row] = []

    def dossier(code: str, unit_code: str, received: datetime, late: bool) -> None:
        days = rng.choice((3, 5, 10, 15))
        due = datetime.combine((received + timedelta(days=days)).astimezone(tz).date(), time(17), tz)
        done = due + timedelta(hours=rng.randint(2, 96)) if late else received + timedelta(days=rng.uniform(0.2, days))
        finished = done <= now
        rows.append(
            Row(
                code=code,
                unit_id=ids[unit_code][0],
                unit_path=ids[unit_code][1],
                field_id=None,
                procedure_code=None,
                received_at=received,
                due_at=due,
                completed_at=done if finished else None,
                status=("returned" if rng.random() < 0.03 else "completed") if finished else "processing",
            )
        )

    for unit_code, (n, base) in units.items():
        late = 0.04 + max(0.0, 0.95 - base) * 1.5  # the less satisfying desks are the later ones
        for start in starts:
            for i in range(n // 2):
                day = start + timedelta(days=rng.randrange(28))
                received = datetime.combine(day, time(rng.randint(7, 16), rng.randrange(60)), tz)
                if received < now:
                    dossier(f"{unit_code}-{start:%Y%m}-{i:04d}", unit_code, received, rng.random() < late)
    # Phone-rated visits name a dossier of their own: a dissatisfied citizen's makes it "disliked".
    visits = session.execute(
        sa.select(Visit.id, Visit.created_at, Unit.code)  # type: ignore[call-overload]
        .join(Rating, Rating.visit_id == Visit.id)
        .join(Counter, Counter.id == Visit.counter_id)
        .join(Unit, Unit.id == Counter.unit_id)
        .where(Visit.dossier_code.is_(None))  # type: ignore[union-attr]
        .order_by(Visit.id)
    ).all()
    for visit_id, created, unit_code in visits:
        dossier(f"HS-DEMO-{visit_id:06d}", unit_code, created.astimezone(UTC), rng.random() < 0.05)
    if visits:
        session.execute(
            sa.update(VISIT).where(VISIT.c.id == sa.bindparam("b_id")).values(dossier_code=sa.bindparam("b_code")),
            [{"b_id": v[0], "b_code": f"HS-DEMO-{v[0]:06d}"} for v in visits],
        )
    for first in range(0, len(rows), 1000):
        write_rows(session=session, rows=rows[first : first + 1000], scope=None, tz=tz)
    return len(rows)

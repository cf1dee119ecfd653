"""`hailong seed-demo` also brings dossiers, so the demo dashboard's QĐ 766 score has something to explain."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session, select

from server.demo import seed_demo
from server.indices.periods import parse_period
from server.models import Dossier, Unit, Visit
from server.scores.service import subtree_scores_766
from tests.factories import HCM


def test_demo_dossiers_link_phone_visits_and_lose_some_points(session: Session) -> None:
    seed_demo(
        session=session, seed=3, end_month=date(2026, 10, 1), months=2, tz=HCM, now=datetime(2026, 12, 1, tzinfo=UTC)
    )
    dossiers = session.exec(select(Dossier)).all()
    assert len(dossiers) > 1000
    assert 0 < sum(d.overdue for d in dossiers) < len(dossiers) / 4
    assert sum(d.rated_not_satisfied for d in dossiers) > 0
    linked = session.exec(select(Visit).where(Visit.dossier_code.is_not(None))).all()  # type: ignore[union-attr]
    assert linked and {v.dossier_code for v in linked} <= {d.code for d in dossiers}
    root = session.exec(select(Unit).where(Unit.code == "DLK")).one()
    scores = subtree_scores_766(session=session, unit=root, period=parse_period("2026-10"), tz=HCM)
    assert scores["DLK"].dossiers.completed > 500
    assert min(s.total for s in scores.values()) < 17.5 < max(s.total for s in scores.values())

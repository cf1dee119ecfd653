"""A ward for the appraisal tests, with hand-countable figures (year 2026, Asia/Ho_Chi_Minh).

Unit `AP-DESK` (under `AP-ROOT`), counter `AP-Q1`. Land is the weaker field: 100 clean land ratings, 70 satisfied;
100 clean justice ratings, 95 satisfied. Officers:
- `AP-LAND`: 40 land ratings, 28 satisfied (70 %, the unit's land rate; the unit's overall rate is 82.5 %);
- `AP-JUST`: 100 justice ratings, 95 satisfied;
- `AP-FEW`: 10 land ratings, 2 satisfied (too few to rank);
- the other 50 land ratings (40 satisfied) name no officer.
Doubtful, on top of these (each excluded from every rate):
- `AP-LAND`'s visit rated 2 s after its console session opened it (rule: rated seconds after the invite);
- a visit `AP-LAND`'s session registered for `AP-JUST` (from before the fix), rated a minute later;
- three top ratings at the counter on a Monday evening within 8 minutes, for `AP-FEW` (an after-hours burst).
Not doubtful: `AP-LAND`'s visit rated 60 s after the invite; two top ratings on another evening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from server.models import Counter, Officer, Rating, Unit, User
from tests import factories, logins

#: Monday 2 March 2026, 08:00 local: clean ratings follow one an hour (never three within minutes).
START = datetime(2026, 3, 2, 8, 0, tzinfo=factories.HCM)


@dataclass
class Ward:
    root: Unit
    desk: Unit
    counter: Counter
    land: Officer
    justice: Officer
    few: Officer
    land_user: User
    rapid: Rating
    for_other: Rating
    burst: list[Rating]


def _clean(
    session: Session, counter: Counter, officer: Officer | None, field: str, n: int, satisfied: int, offset: int
) -> None:
    for i in range(n):
        factories.rating(
            session,
            counter,
            level=4 if i < satisfied else 2,
            field_code=field,
            at=START + timedelta(hours=offset + i),
            officer_=officer,
        )


def _visit_rating(
    session: Session, counter: Counter, officer: Officer, creator: User, *, opened: datetime, after: timedelta
) -> Rating:
    visit = factories.counter_visit(session, counter, officer_=officer, created_at=opened)
    visit.created_by_kind = f"{creator.role}_session"
    visit.created_by_user_id = creator.id
    rating = factories.rating(session, counter, level=4, at=opened + after, officer_=officer, channel="phone")
    rating.visit_id = visit.id
    session.flush()
    return rating


def build_ward(session: Session) -> Ward:
    """The ward described above."""
    root = factories.unit(session, code="AP-ROOT", name="Tỉnh AP")
    desk = factories.unit(session, root, code="AP-DESK", name="Phường AP")
    counter = factories.counter(session, desk, code="AP-Q1")
    land = factories.officer(session, desk, code="AP-LAND")
    justice = factories.officer(session, desk, code="AP-JUST")
    few = factories.officer(session, desk, code="AP-FEW")
    _clean(session, counter, land, "land", 39, 27, 0)  # + its visit rated after 60 s below: 40, 28 satisfied
    _clean(session, counter, justice, "justice", 100, 95, 100)
    _clean(session, counter, few, "land", 8, 0, 300)  # + two top ratings on a quiet evening below: 10, 2 satisfied
    _clean(session, counter, None, "land", 50, 40, 400)
    land_user = logins.user(session, "officer", desk, username="ap-land", officer=land)
    opened = datetime(2026, 6, 1, 9, 0, tzinfo=factories.HCM)
    rapid = _visit_rating(session, counter, land, land_user, opened=opened, after=timedelta(seconds=2))
    _visit_rating(session, counter, land, land_user, opened=opened + timedelta(hours=1), after=timedelta(seconds=60))
    for_other = _visit_rating(
        session, counter, justice, land_user, opened=opened + timedelta(hours=2), after=timedelta(seconds=60)
    )
    evening = datetime(2026, 6, 1, 19, 0, tzinfo=factories.HCM)
    burst = [
        factories.rating(session, counter, level=4, field_code="land", at=evening + timedelta(minutes=m), officer_=few)
        for m in (0, 3, 8)
    ]
    later = datetime(2026, 6, 2, 20, 0, tzinfo=factories.HCM)
    for m in (0, 5):
        factories.rating(session, counter, level=4, field_code="land", at=later + timedelta(minutes=m), officer_=few)
    return Ward(root, desk, counter, land, justice, few, land_user, rapid, for_other, burst)

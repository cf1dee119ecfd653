"""The province's working-day calendar: weekends and Vietnamese public holidays (the `holidays` library knows the
lunar ones: Tết, the Hùng Kings' day), then the days an administrator made working days or days off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import sqlalchemy as sa
from sqlmodel import Session

from server.db import utcnow
from server.errors import Conflict, NotFound
from server.models import CalendarDay
from server.tables import CALENDAR_DAY

#: A petition is due at the end of its last working day, local time.
END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year))


def public_holiday_name(day: date) -> str | None:
    """The Vietnamese public holiday on `day` (library name), or None."""
    name = holidays.country_holidays("VN", years=day.year).get(day)
    return str(name) if name else None


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days: the built-in rule with an administrator's exceptions (day → working?)."""

    overrides: dict[date, bool]

    def is_working(self, day: date) -> bool:
        """Whether `day` is a working day."""
        if day in self.overrides:
            return self.overrides[day]
        return day.weekday() < 5 and day not in _public_holidays(day.year)

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (the day itself does not count)."""
        day = start
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when `end` is not after `start`)."""
        n = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_working(day):
                n += 1
        return n

    def due_at(self, received_at: datetime, days: int, tz: ZoneInfo) -> datetime:
        """The end (local) of the `days`-th working day after the local day of `received_at`, as aware UTC."""
        local_day = received_at.astimezone(tz).date()
        due_day = self.add_working_days(local_day, days)
        return datetime.combine(due_day, END_OF_DAY, tzinfo=tz).astimezone(ZoneInfo("UTC"))


def load_calendar(*, session: Session) -> WorkingCalendar:
    """The calendar with every exception an administrator stored (a few rows a year)."""
    rows = session.connection().execute(sa.select(CALENDAR_DAY.c.day, CALENDAR_DAY.c.working)).all()
    return WorkingCalendar({row.day: bool(row.working) for row in rows})


def set_day(*, session: Session, day: date, working: bool, note: str = "", actor: str = "") -> None:
    """Make `day` a working day or a day off (409 when it already is one by an earlier exception)."""
    existing = session.get(CalendarDay, day)
    if existing is not None:
        if existing.working:
            raise Conflict("{day} is already marked (working day)", day=day.isoformat())
        raise Conflict("{day} is already marked (day off)", day=day.isoformat())
    session.add(CalendarDay(day=day, working=working, note=note[:255], created_at=utcnow(), created_by=actor))
    session.flush()


def remove_day(*, session: Session, day: date) -> None:
    """Drop an administrator's exception (404 when there is none): the day follows the built-in rule again."""
    existing = session.get(CalendarDay, day)
    if existing is None:
        raise NotFound("{day} has no exception to remove", day=day.isoformat())
    session.delete(existing)
    session.flush()


def list_days(*, session: Session, year: int | None = None) -> list[CalendarDay]:
    """The exceptions, by day (of one year when given)."""
    query = sa.select(CalendarDay).order_by(CALENDAR_DAY.c.day)
    if year is not None:
        query = query.where(CALENDAR_DAY.c.day >= date(year, 1, 1), CALENDAR_DAY.c.day <= date(year, 12, 31))
    return list(session.execute(query).scalars())

"""Reporting periods: a month `2026-10`, a quarter `2026-Q3`, a year `2026` or a day range `2026-01-05..2026-02-10`.

Days are calendar days in the reporting time zone (Asia/Ho_Chi_Minh); `end` is exclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from server.errors import Invalid

PeriodKind = Literal["month", "quarter", "year", "range"]
MAX_RANGE_DAYS = 3 * 366

#: Years a period may lie in: the reports look a year and more back and ahead of a period, and dates (and their
#: instants in the time zone) must stay far inside what `date` holds (`0001-01`, `9999-12` were 500s, finding 5).
MIN_YEAR = 1900
MAX_YEAR = 2999
# ASCII digits only (`re.ASCII`): `\d` also matches Arabic-Indic and other digits that int() accepts.
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$", re.ASCII)
_YEAR = re.compile(r"^(\d{4})$", re.ASCII)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$", re.ASCII)


@dataclass(frozen=True)
class Period:
    """A half-open range of reporting days [start, end)."""

    kind: PeriodKind
    start: date
    end: date
    code: str

    @property
    def last_day(self) -> date:
        """The last day inside the period."""
        return self.end - timedelta(days=1)

    @property
    def target_year(self) -> int:
        """The year whose milestone applies (the year of the period's last day)."""
        return self.last_day.year

    def months(self) -> list[str]:
        """The `YYYY-MM` months the period touches, in order."""
        out, y, m = [], self.start.year, self.start.month
        while date(y, m, 1) <= self.last_day:
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y, m + 1) if m < 12 else (y + 1, 1)
        return out

    def instants(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as aware instants [from, to) in `tz` (for tables keyed by time, not by day)."""
        return datetime.combine(self.start, time(), tz), datetime.combine(self.end, time(), tz)


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """Parse a period; a malformed one is a 422 with a message naming the accepted forms."""
    text = (text or "").strip()
    period = _parse(text)
    if not (period.start.year >= MIN_YEAR and period.last_day.year <= MAX_YEAR):
        raise Invalid("period {text!r}: years from {low} to {high} only", text=text, low=MIN_YEAR, high=MAX_YEAR)
    return period


def _parse(text: str) -> Period:
    try:
        if m := _MONTH.match(text):
            start = date(int(m[1]), int(m[2]), 1)
            return Period("month", start, add_months(start, 1), text)
        if m := _QUARTER.match(text):
            start = date(int(m[1]), 3 * (int(m[2]) - 1) + 1, 1)
            return Period("quarter", start, add_months(start, 3), f"{m[1]}-Q{m[2]}")
        if m := _YEAR.match(text):
            start = date(int(m[1]), 1, 1)
            return Period("year", start, date(start.year + 1, 1, 1), text)
        if m := _RANGE.match(text):
            start, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < start:
                raise Invalid("period {text!r}: the range ends before it starts", text=text)
            if (last - start).days > MAX_RANGE_DAYS:
                raise Invalid("period {text!r}: a range may span at most {days} days", text=text, days=MAX_RANGE_DAYS)
            return Period("range", start, last + timedelta(days=1), text)
    except (ValueError, OverflowError):
        pass
    raise Invalid("period {text!r} is not valid: use YYYY-MM, YYYY-Qn, YYYY or YYYY-MM-DD..YYYY-MM-DD", text=text)


def period_choices(*, today: date, selected: Period) -> dict[str, list[str]]:
    """Options of the period picker: the last 24 months, 8 quarters and 5 years (and the selected one)."""
    this_month = date(today.year, today.month, 1)
    months = [add_months(this_month, -i).strftime("%Y-%m") for i in range(24)]
    quarter = (today.month - 1) // 3 + 1
    quarters = []
    y, q = today.year, quarter
    for _ in range(8):
        quarters.append(f"{y}-Q{q}")
        y, q = (y, q - 1) if q > 1 else (y - 1, 4)
    years = [str(today.year - i) for i in range(5)]
    choices = {"month": months, "quarter": quarters, "year": years}
    if selected.kind in choices and selected.code not in choices[selected.kind]:
        choices[selected.kind].insert(0, selected.code)
    return choices


def default_period(*, today: date) -> Period:
    """The month the dashboard opens on: the last complete one (the current month is still filling up)."""
    return parse_period(add_months(date(today.year, today.month, 1), -1).strftime("%Y-%m"))


def reporting_period(text: str | None, *, today: date, kinds: tuple[str, ...] = ("month", "quarter", "year")) -> Period:
    """Parse a `period` parameter (month, quarter or year); the last complete month when absent."""
    if not text:
        return default_period(today=today)
    period = parse_period(text)
    if period.kind not in kinds:
        raise Invalid("period {text!r}: use a month (2026-10), a quarter (2026-Q3) or a year (2026)", text=text)
    return period

"""Working days: weekends, Vietnamese public holidays (lunar ones too) and an administrator's exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from server.errors import Conflict, NotFound
from server.petitions import calendar as cal

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BUILT_IN = cal.WorkingCalendar({})


def test_the_issue_example_new_year_is_skipped() -> None:
    # Wednesday 30 Dec 2026 + 15 working days: 1 Jan 2027 is a holiday, weekends are skipped.
    received = datetime(2026, 12, 30, 10, 0, tzinfo=HCM)
    due = BUILT_IN.due_at(received, 15, HCM)
    assert due.tzinfo is not None and due.utcoffset() == UTC.utcoffset(due)
    local = due.astimezone(HCM)
    assert local.date() == date(2027, 1, 21) and local.weekday() == 3  # Thursday
    assert (local.hour, local.minute) == (23, 59)


def test_tet_is_skipped() -> None:
    # Tết 2027 (the holidays library's VN calendar): 4-10 Feb are days off (Thu 4 to Wed 10).
    assert not BUILT_IN.is_working(date(2027, 2, 8))
    # Received Tue 2 Feb 2027: Wed 3 is day 1, then nothing until Thu 11 Feb (day 2).
    assert BUILT_IN.add_working_days(date(2027, 2, 2), 2) == date(2027, 2, 11)
    # Without the lunar holidays it would have been Thu 4 Feb.
    assert BUILT_IN.add_working_days(date(2027, 2, 2), 5) == date(2027, 2, 16)


def test_hung_kings_day_and_received_on_a_weekend() -> None:
    assert not BUILT_IN.is_working(date(2027, 4, 16))  # 10th of the 3rd lunar month, 2027
    # Received on Saturday 10 Oct 2026: Monday 12 is the first working day.
    assert BUILT_IN.add_working_days(date(2026, 10, 10), 1) == date(2026, 10, 12)


def test_administrator_exceptions_change_due_dates() -> None:
    extra_off = cal.WorkingCalendar({date(2027, 1, 4): False})
    assert extra_off.add_working_days(date(2026, 12, 30), 15) == date(2027, 1, 22)
    make_up = cal.WorkingCalendar({date(2027, 1, 2): True})  # a make-up Saturday
    assert make_up.add_working_days(date(2026, 12, 30), 15) == date(2027, 1, 20)


def test_days_are_stored_listed_and_removed(session: Session) -> None:
    cal.set_day(session=session, day=date(2027, 1, 4), working=False, note="Nghỉ bù", actor="admin")
    with pytest.raises(Conflict):
        cal.set_day(session=session, day=date(2027, 1, 4), working=True)
    loaded = cal.load_calendar(session=session)
    assert loaded.add_working_days(date(2026, 12, 30), 15) == date(2027, 1, 22)
    assert [d.day for d in cal.list_days(session=session, year=2027)] == [date(2027, 1, 4)]
    cal.remove_day(session=session, day=date(2027, 1, 4))
    with pytest.raises(NotFound):
        cal.remove_day(session=session, day=date(2027, 1, 4))
    assert cal.load_calendar(session=session).add_working_days(date(2026, 12, 30), 15) == date(2027, 1, 21)

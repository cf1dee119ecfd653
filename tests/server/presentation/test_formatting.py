"""Vietnamese and English number, date and period formats (pure functions and the Jinja filters)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from jinja2 import Environment

from server.presentation.formatting import (
    FILTERS,
    format_date,
    format_datetime,
    format_month_short,
    format_number,
    format_percent,
    format_period,
    format_points,
)


@pytest.mark.parametrize(
    ("value", "vi", "en"),
    [(0.905, "90,5%", "90.5%"), (1.0, "100,0%", "100.0%"), (0.0, "0,0%", "0.0%"), (0.12345, "12,3%", "12.3%")],
)
def test_percent(value: float, vi: str, en: str) -> None:
    assert format_percent(value, "vi") == vi
    assert format_percent(value, "en") == en


def test_percent_digits_and_missing() -> None:
    assert format_percent(0.9, "vi", 0) == "90%"
    assert format_percent(None, "vi") == "–"


def test_numbers_group_thousands_the_local_way() -> None:
    assert format_number(1234567, "vi") == "1.234.567"
    assert format_number(1234567, "en") == "1,234,567"
    assert format_number(1234.5, "vi", 1) == "1.234,5"
    assert format_number(None, "en") == "–"
    assert format_points(-0.045, "vi") == "4,5"


def test_dates() -> None:
    assert format_date(date(2026, 11, 28), "vi") == "28/11/2026"
    assert format_date(date(2026, 1, 5), "vi") == "05/01/2026"
    assert format_date(date(2026, 11, 28), "en") == "28 Nov 2026"
    # 17:30 UTC is already the next day in Hồ Chí Minh City.
    assert format_datetime(datetime(2026, 11, 27, 17, 30, tzinfo=UTC), "vi") == "28/11/2026 00:30"


@pytest.mark.parametrize(
    ("code", "vi", "en"),
    [
        ("2026-10", "Tháng 10/2026", "October 2026"),
        ("2026-01", "Tháng 1/2026", "January 2026"),
        ("2026-Q3", "Quý 3/2026", "Q3 2026"),
        ("2026", "Năm 2026", "2026"),
        ("2026-01-05..2026-02-10", "05/01/2026 – 10/02/2026", "5 Jan 2026 – 10 Feb 2026"),
    ],
)
def test_periods(code: str, vi: str, en: str) -> None:
    assert format_period(code, "vi") == vi
    assert format_period(code, "en") == en


def test_month_axis_labels() -> None:
    assert format_month_short("2026-03", "vi") == "03/2026"
    assert format_month_short("2026-03", "en") == "Mar 2026"


def test_filters_take_the_language_from_the_template() -> None:
    env = Environment(autoescape=True)
    env.filters.update(FILTERS)
    template = env.from_string("{{ r|percent }} {{ n|number }} {{ d|vdate }} {{ p|period_label }}")
    values = {"r": 0.905, "n": 12345, "d": date(2026, 11, 28), "p": "2026-Q3"}
    assert template.render(lang="vi", **values) == "90,5% 12.345 28/11/2026 Quý 3/2026"
    assert template.render(lang="en", **values) == "90.5% 12,345 28 Nov 2026 Q3 2026"

"""Numbers, dates and periods as people read them: Vietnamese formats in the Vietnamese UI (90,5%; 28/11/2026;
"Tháng 10/2026", "Quý 3/2026"), English ones in the English UI, from Babel's CLDR data. Pure functions, plus Jinja
filters that take the language (and time zone) from the template context.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_date
from babel.numbers import format_decimal
from babel.numbers import format_percent as babel_percent
from jinja2 import pass_context
from jinja2.runtime import Context

DASH = "–"
DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.ASCII)
_YEAR = re.compile(r"^(\d{4})$", re.ASCII)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$", re.ASCII)

#: CLDR patterns (Babel) per language: a date, a month, a quarter, a month on a chart axis.
_DATE = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
_MONTH_LONG = {"vi": "'Tháng' M/yyyy", "en": "MMMM yyyy"}
_QUARTER_LONG = {"vi": "'Quý' Q/yyyy", "en": "QQQ yyyy"}
_MONTH_SHORT = {"vi": "MM/yyyy", "en": "MMM yyyy"}


def _locale(lang: str) -> str:
    return "vi" if lang == "vi" else "en"


def _digits(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits > 0 else "")


def format_number(value: int | float | None, lang: str, digits: int = 0) -> str:
    """`12345` → `12.345` (vi) / `12,345` (en); None → a dash."""
    if value is None:
        return DASH
    return format_decimal(value, _digits(digits), locale=_locale(lang))


def format_percent(value: float | None, lang: str, digits: int = 1) -> str:
    """A fraction as a percentage: `0.905` → `90,5%` (vi) / `90.5%` (en); None → a dash."""
    if value is None:
        return DASH
    return babel_percent(value, _digits(digits) + "%", locale=_locale(lang))


def format_points(value: float | None, lang: str, digits: int = 1) -> str:
    """A difference of two fractions in percentage points, unsigned: `0.045` → `4,5` (vi)."""
    if value is None:
        return DASH
    return format_decimal(abs(value) * 100, _digits(digits), locale=_locale(lang))


def format_date(value: date | datetime | None, lang: str) -> str:
    """`28/11/2026` (vi) / `28 Nov 2026` (en)."""
    if value is None:
        return DASH
    day = value.date() if isinstance(value, datetime) else value
    return babel_date(day, _DATE[_locale(lang)], locale=_locale(lang))


def format_datetime(value: datetime | None, lang: str, tz: ZoneInfo = DEFAULT_TZ) -> str:
    """An instant in the reporting time zone: `28/11/2026 09:05` (vi) / `28 Nov 2026 09:05` (en)."""
    if value is None:
        return DASH
    local = value.astimezone(tz)
    return f"{format_date(local, lang)} {local:%H:%M}"


def format_period(code: str, lang: str) -> str:
    """`2026-10` → `Tháng 10/2026` / `October 2026`; `2026-Q3` → `Quý 3/2026` / `Q3 2026`; `2026` → `Năm 2026`."""
    locale = _locale(lang)
    if m := _MONTH.match(code):
        return babel_date(date(int(m[1]), int(m[2]), 1), _MONTH_LONG[locale], locale=locale)
    if m := _QUARTER.match(code):
        first = date(int(m[1]), 3 * int(m[2]) - 2, 1)
        return babel_date(first, _QUARTER_LONG[locale], locale=locale)
    if m := _YEAR.match(code):
        return f"Năm {m[1]}" if lang == "vi" else m[1]
    if m := _RANGE.match(code):
        start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        return f"{format_date(start, lang)} – {format_date(end, lang)}"
    return code


def format_month_short(code: str, lang: str) -> str:
    """A chart axis label for `YYYY-MM`: `10/2026` (vi) / `Oct 2026` (en)."""
    if m := _MONTH.match(code):
        locale = _locale(lang)
        return babel_date(date(int(m[1]), int(m[2]), 1), _MONTH_SHORT[locale], locale=locale)
    return code


def _lang(ctx: Context) -> str:
    return str(ctx.get("lang") or "vi")


def _tz(ctx: Context) -> ZoneInfo:
    tz = ctx.get("tz")
    if isinstance(tz, ZoneInfo):
        return tz
    request = ctx.get("request")
    settings = getattr(getattr(getattr(request, "app", None), "state", None), "settings", None)
    return settings.tz if settings is not None else DEFAULT_TZ


@pass_context
def _percent(ctx: Context, value: float | None, digits: int = 1) -> str:
    return format_percent(value, _lang(ctx), digits)


@pass_context
def _number(ctx: Context, value: int | float | None, digits: int = 0) -> str:
    return format_number(value, _lang(ctx), digits)


@pass_context
def _points(ctx: Context, value: float | None, digits: int = 1) -> str:
    return format_points(value, _lang(ctx), digits)


@pass_context
def _date(ctx: Context, value: date | datetime | None) -> str:
    return format_date(value, _lang(ctx))


@pass_context
def _datetime(ctx: Context, value: datetime | None) -> str:
    return format_datetime(value, _lang(ctx), _tz(ctx))


@pass_context
def _period(ctx: Context, code: str) -> str:
    return format_period(code, _lang(ctx))


@pass_context
def _month_short(ctx: Context, code: str) -> str:
    return format_month_short(code, _lang(ctx))


@pass_context
def _label(ctx: Context, row: Any) -> str:
    """The English or Vietnamese name of an index row, field, group or reason."""
    if _lang(ctx) == "en":
        return str(getattr(row, "label_en", None) or getattr(row, "name_en", None) or getattr(row, "label", ""))
    return str(getattr(row, "label", None) or getattr(row, "name_vi", None) or "")


FILTERS: dict[str, Callable[..., str]] = {
    "percent": _percent,
    "number": _number,
    "points": _points,
    "vdate": _date,
    "vdatetime": _datetime,
    "period_label": _period,
    "month_short": _month_short,
    "label": _label,
}

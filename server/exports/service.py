"""The monthly (quarterly, yearly) report of a unit as CSV (for machines), XLSX (for people) and PDF (for print).

The figures are the dashboard's (`server.indices.overview.overview`), which are `compute_indices`'s: an export
never computes a rate of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from sqlmodel import Session, col, select

from server.config import Settings
from server.errors import Invalid
from server.i18n import translate
from server.indices.overview import Overview, overview
from server.indices.periods import Period, parse_period
from server.models import Reason, ScaleLevel, Target, TargetGroup, Unit
from server.scores.formulas import Score
from server.scores.service import score_766

ExportFormat = Literal["csv", "xlsx", "pdf"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "pdf")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
_MONTH = re.compile(r"^\d{4}-\d{2}$", re.ASCII)

#: Progress of a long export: (steps done, steps in all, what is being done).
Progress = Callable[[int, int, str], None]


class Translator:
    """`t("Vietnamese text")` in the report's language (the English catalogs of the dashboard)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in ("vi", "en") else "vi"

    def __call__(self, text: str) -> str:
        return translate(text, self.lang)


@dataclass(frozen=True)
class Definitions:
    """What the figures mean: scale, satisfied levels, minimum sample, time zone, targets."""

    levels: list[ScaleLevel]
    reasons: list[Reason]
    min_sample: int
    timezone: str
    milestones: list[tuple[str, str, str, int, float]]  # (group code, name vi, name en, from year, threshold)
    decree30: bool = True  # the PDF as an administrative report (HAILONG_REPORT_DECREE30)
    place: str = ""  # the place name of its date line (HAILONG_REPORT_PLACE)


@dataclass(frozen=True)
class MonthlyReport:
    """Everything the three export formats write."""

    view: Overview
    definitions: Definitions
    lang: str
    score766: Score  # the QĐ 766 satisfaction score of the unit's subtree (server/scores)

    @property
    def unit(self) -> Unit:
        return self.view.unit

    @property
    def period(self) -> Period:
        return self.view.period


def export_period(*, month: str | None, period: str | None) -> Period:
    """The period of an export: `month=YYYY-MM`, or `period=` a month, quarter (YYYY-Qn) or year."""
    if month and period and month != period:
        raise Invalid("give month= or period=, not two different ones")
    if month and not _MONTH.match(month.strip()):
        raise Invalid(
            "month {month!r} is not valid: use YYYY-MM, e.g. 2026-10 (or period= for a quarter or year)", month=month
        )
    text = month or period
    if not text:
        raise Invalid("month= (YYYY-MM) or period= (YYYY-MM, YYYY-Qn, YYYY) is required")
    chosen = parse_period(text)
    if chosen.kind not in ("month", "quarter", "year"):
        raise Invalid(
            "period {text!r}: exports cover a month (2026-10), a quarter (2026-Q3) or a year (2026)", text=text
        )
    return chosen


def definitions(*, session: Session, settings: Settings) -> Definitions:
    """The scale, reasons and milestones in force, with the server's minimum sample and time zone."""
    groups = {g.id: g for g in session.exec(select(TargetGroup)).all()}
    milestones = sorted(
        (
            (groups[t.group_id].code, groups[t.group_id].name_vi, groups[t.group_id].name_en, t.year_from, t.threshold)
            for t in session.exec(select(Target)).all()
        ),
        key=lambda m: (m[0] != "all", m[0], m[3]),
    )
    return Definitions(
        levels=list(session.exec(select(ScaleLevel).order_by(col(ScaleLevel.level).desc())).all()),
        reasons=list(session.exec(select(Reason).order_by(col(Reason.sort_order))).all()),
        min_sample=settings.min_sample,
        timezone=settings.timezone,
        milestones=milestones,
        decree30=settings.report_decree30,
        place=settings.report_place,
    )


def build_report(
    *,
    session: Session,
    settings: Settings,
    unit: Unit,
    period: Period,
    lang: str = "vi",
    progress: Progress | None = None,
) -> MonthlyReport:
    """Gather the report's figures (four `compute_indices` reports: groups, fields, child units, monthly trend)."""
    if progress:
        progress(0, 3, "indices")
    view = overview(session=session, settings=settings, unit=unit, period=period)
    if progress:
        progress(1, 3, "definitions")
    return MonthlyReport(
        view=view,
        definitions=definitions(session=session, settings=settings),
        lang=lang,
        score766=score_766(session=session, unit=unit, period=period, tz=settings.tz),
    )


def render(report: MonthlyReport, fmt: str, *, progress: Progress | None = None) -> bytes:
    """The report in one of the formats (`csv`, `xlsx`, `pdf`)."""
    if progress:
        progress(2, 3, fmt)
    if fmt == "csv":
        from server.exports.csv_export import to_csv

        data = to_csv(report)
    elif fmt == "xlsx":
        from server.exports.xlsx_export import to_xlsx

        data = to_xlsx(report)
    elif fmt == "pdf":
        from server.exports.pdf_export import to_pdf

        data = to_pdf(report)
    else:
        raise Invalid("format {fmt!r} is not valid: use csv, xlsx or pdf", fmt=fmt)
    if progress:
        progress(3, 3, "done")
    return data


_NOT_ASCII_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_NOT_NAME = re.compile(r"[^\w.-]+")  # letters and digits of any script kept (the `filename*` form)


def _name_part(text: str, *, ascii_only: bool) -> str:
    if ascii_only:  # Vietnamese letters lose their marks (Đ → D, ộ → o); what is left outside ASCII becomes `-`
        text = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
        text = "".join(c for c in text if not unicodedata.combining(c))
    return (_NOT_ASCII_NAME if ascii_only else _NOT_NAME).sub("-", text).strip("-") or "-"


def download_name(*parts: str, fmt: str, lang: str | None = None, sep: str = "_", ascii_only: bool = True) -> str:
    """The file name of a download from its parts (a prefix, unit and period codes), `_vi`/`_en` when it is in a
    language: `hai-long_DL_2026-10_vi.xlsx` for unit `ĐL`. ASCII only: a header value Starlette cannot encode as
    Latin-1 was a 500 (issue 19, finding 5); codes are whatever the province chose."""
    suffix = "" if lang is None else f"_{lang if lang in ('vi', 'en') else 'vi'}"
    return sep.join(_name_part(part, ascii_only=ascii_only) for part in parts) + f"{suffix}.{fmt}"


def content_disposition(
    *parts: str, fmt: str, lang: str | None = None, sep: str = "_", disposition: str = "attachment"
) -> str:
    """`Content-Disposition` of a download named by `download_name`: the ASCII `filename`, and when the codes hold
    other letters also the name with them, percent-encoded as RFC 5987's `filename*` (browsers prefer it)."""
    name = download_name(*parts, fmt=fmt, lang=lang, sep=sep)
    value = f'{disposition}; filename="{name}"'
    full = download_name(*parts, fmt=fmt, lang=lang, sep=sep, ascii_only=False)
    if full != name:
        value += f"; filename*=UTF-8''{quote(full, safe='')}"
    return value

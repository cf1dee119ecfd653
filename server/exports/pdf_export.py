"""PDF for print: A4, tables that never split a row, the trend chart as SVG, Be Vietnam Pro embedded.

With `HAILONG_REPORT_DECREE30` (the default) the report is laid out as an administrative report under Decree
30/2020/NĐ-CP (Appendix I): the issuing body (the unit) and the document number on the left, the national name
and motto (quốc hiệu, tiêu ngữ) and the place-and-date line on the right, the kind of document and its subject
centred, and the recipients and signature block at the end. Without it, only the figures (to attach to a unit's
own report).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from server.exports.service import MonthlyReport, Translator
from server.presentation.charts import trend_chart
from server.presentation.formatting import format_date
from server.templating import make_templates

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@cache
def _environment() -> Environment:
    return make_templates().env


def decree_date(day: date, lang: str) -> str:
    """The date of a date line as Decree 30 writes it: `ngày 05 tháng 02 năm 2026` (a 0 before days under 10 and
    before months 1 and 2), `ngày 15 tháng 12 năm 2026`; English: `5 Feb 2026`."""
    if lang == "en":
        return format_date(day, "en")
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def to_html(report: MonthlyReport) -> str:
    """The report as a self-contained HTML page (fonts and CSS resolved from the static directory)."""
    t = Translator(report.lang)
    tz = ZoneInfo(report.definitions.timezone)
    return (
        _environment()
        .get_template("exports/monthly_pdf.html")
        .render(
            report=report,
            view=report.view,
            unit=report.unit,
            period=report.period,
            definitions=report.definitions,
            chart=trend_chart(report.view.trend, report.view.overall.target),
            lang=t.lang,
            _=t,
            tz=tz,
            issued_on=decree_date(report.view.generated_at.astimezone(tz).date(), t.lang),
        )
    )


def to_pdf(report: MonthlyReport) -> bytes:
    """Render the report with WeasyPrint."""
    fonts = FontConfiguration()
    document = HTML(string=to_html(report), base_url=str(STATIC_DIR) + "/")
    data: bytes = document.write_pdf(font_config=fonts)
    return data

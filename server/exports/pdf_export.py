"""PDF for print: A4, tables that never split a row, the trend chart as SVG, Be Vietnam Pro embedded."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from server.exports.service import MonthlyReport, Translator
from server.presentation.charts import trend_chart
from server.templating import make_templates

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@cache
def _environment() -> Environment:
    return make_templates().env


def to_html(report: MonthlyReport) -> str:
    """The report as a self-contained HTML page (fonts and CSS resolved from the static directory)."""
    t = Translator(report.lang)
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
            tz=ZoneInfo(report.definitions.timezone),
        )
    )


def to_pdf(report: MonthlyReport) -> bytes:
    """Render the report with WeasyPrint."""
    fonts = FontConfiguration()
    document = HTML(string=to_html(report), base_url=str(STATIC_DIR) + "/")
    data: bytes = document.write_pdf(font_config=fonts)
    return data

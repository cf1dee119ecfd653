"""The appraisal for the appraisal council: XLSX and PDF of the same `AppraisalReport` as the API, with the method
explained in plain Vietnamese on a page of its own."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from server.appraisal.schemas import AppraisalReport
from server.appraisal.words import METHOD_TITLE, REASON_WORDS, STATUS_WORDS, method_paragraphs
from server.exports import service as exports
from server.exports.xlsx_export import print_setup
from server.i18n import translate
from server.models import Unit
from server.presentation.formatting import format_datetime, format_period
from server.templating import make_templates

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
FORMATS = tuple(MEDIA_TYPES)
PERCENT = "0.0%"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE3EA")


def content_disposition(*, report: AppraisalReport, fmt: str, lang: str) -> str:
    """`attachment; filename="danh-gia-can-bo_<unit>_<period>_<lang>.<fmt>"`: ASCII whatever the unit's code (and
    the code itself as `filename*`), the language as the monthly report's files say it."""
    return exports.content_disposition("danh-gia-can-bo", report.unit, report.period, fmt=fmt, lang=lang)


def doubtful_text(reasons: dict[str, int], lang: str) -> str:
    """`Reason word: n; …` in `lang`."""
    return "; ".join(f"{translate(REASON_WORDS[code], lang)}: {n}" for code, n in reasons.items())


class _Sheet:
    """Writes rows top to bottom; text is always stored as text (a name like `=1+1` never becomes a formula)."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.row = 1

    def line(self, *values: object, font: Font | None = None, percent: tuple[int, ...] = ()) -> None:
        for col, value in enumerate(values, start=1):
            cell: Cell = self.ws.cell(row=self.row, column=col)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"
            if font is not None:
                cell.font = font
            if col in percent and value is not None:
                cell.number_format = PERCENT
        self.row += 1

    def header(self, *values: str) -> None:
        self.line(*values, font=BOLD)
        for col in range(1, len(values) + 1):
            self.ws.cell(row=self.row - 1, column=col).fill = HEADER_FILL


def to_xlsx(report: AppraisalReport, *, unit: Unit, lang: str, tz: ZoneInfo) -> bytes:
    """Sheets: officers (the appraisal), the unit's rate per field, doubtful ratings, the method."""
    t = lambda text: translate(text, lang)  # noqa: E731
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = t("Cán bộ")[:31]
    s = _Sheet(ws)
    s.line(t("Đánh giá cán bộ theo mức độ hài lòng"), font=Font(bold=True, size=15))
    s.line(t("Đơn vị"), f"{unit.name} ({unit.code})")
    s.line(t("Kỳ đánh giá"), format_period(report.period, lang))
    s.line(t("Thời điểm lập"), format_datetime(report.generated_at, lang, tz))
    s.line(t("Tỷ lệ hài lòng của đơn vị"), report.overall.rate, percent=(2,))
    s.line(t("Số lượt hợp lệ"), report.overall.n)
    s.line(t("Lượt nghi vấn (không tính)"), report.doubtful.n, doubtful_text(report.doubtful.reasons, lang))
    s.row += 1
    officers_header = s.row
    s.header(
        t("Hạng"),
        t("Mã cán bộ"),
        t("Cán bộ"),
        t("Đơn vị"),
        t("Số lượt"),
        t("Số lượt hài lòng"),
        t("Tỷ lệ hài lòng"),
        t("KTC 95% (thấp)"),
        t("KTC 95% (cao)"),
        t("Tỷ lệ kỳ vọng"),
        t("Chênh lệch"),
        t("Chênh lệch (thấp)"),
        t("Chênh lệch (cao)"),
        t("Kết luận"),
        t("Lượt nghi vấn"),
        t("Lý do nghi vấn"),
    )
    for o in report.officers:
        s.line(
            o.rank,
            o.key,
            o.label,
            o.unit,
            o.n,
            o.satisfied,
            o.rate,
            o.ci_low,
            o.ci_high,
            o.expected,
            o.difference,
            o.difference_low,
            o.difference_high,
            t(STATUS_WORDS[o.status]),
            o.doubtful.n,
            doubtful_text(o.doubtful.reasons, lang),
            percent=(7, 8, 9, 10, 11, 12, 13),
        )
    for letter, width in zip(
        "ABCDEFGHIJKLMNOP", (7, 14, 26, 12, 9, 11, 11, 11, 11, 11, 11, 11, 11, 22, 10, 40), strict=True
    ):
        ws.column_dimensions[letter].width = width

    fields = wb.create_sheet(t("Lĩnh vực")[:31])
    f = _Sheet(fields)
    f.line(t("Tỷ lệ hài lòng của đơn vị theo lĩnh vực (tham chiếu)"), font=BOLD)
    f.header(t("Mã"), t("Lĩnh vực"), t("Số lượt"), t("Số lượt hài lòng"), t("Tỷ lệ hài lòng"))
    for row in report.fields:
        f.line(row.key, row.label_en if lang == "en" else row.label, row.n, row.satisfied, row.rate, percent=(5,))
    fields.column_dimensions["B"].width = 40

    method = wb.create_sheet(t(METHOD_TITLE)[:31])
    m = _Sheet(method)
    m.line(t(METHOD_TITLE), font=Font(bold=True, size=13))
    for paragraph in method_paragraphs(report.rules, min_sample=report.min_sample, lang=lang):
        m.line(paragraph)
        method.cell(row=m.row - 1, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    method.column_dimensions["A"].width = 120
    # As the monthly workbook prints: A4 fitted to the width, as many pages down as it takes, headers repeated.
    print_setup(ws, landscape=True, title_rows=f"{officers_header}:{officers_header}")
    print_setup(fields, landscape=False, title_rows="2:2")
    print_setup(method, landscape=False, title_rows="1:1")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@cache
def _environment() -> Environment:
    return make_templates().env


def to_html(report: AppraisalReport, *, unit: Unit, lang: str, tz: ZoneInfo) -> str:
    """The printable report (WeasyPrint): officers, fields, doubtful ratings, then the method on its own page."""
    return (
        _environment()
        .get_template("appraisal/report_pdf.html")
        .render(
            report=report,
            unit=unit,
            method=method_paragraphs(report.rules, min_sample=report.min_sample, lang=lang),
            method_title=METHOD_TITLE,
            status_words=STATUS_WORDS,
            reason_words=REASON_WORDS,
            lang=lang,
            _=lambda text: translate(text, lang),
            tz=tz,
        )
    )


def to_pdf(report: AppraisalReport, *, unit: Unit, lang: str, tz: ZoneInfo) -> bytes:
    """The report as an A4 PDF with Be Vietnam Pro embedded."""
    document = HTML(string=to_html(report, unit=unit, lang=lang, tz=tz), base_url=str(STATIC_DIR) + "/")
    data: bytes = document.write_pdf(font_config=FontConfiguration())
    return data


def render(report: AppraisalReport, fmt: str, *, unit: Unit, lang: str, tz: ZoneInfo) -> bytes:
    """The file in `fmt` (`xlsx` or `pdf`)."""
    if fmt == "xlsx":
        return to_xlsx(report, unit=unit, lang=lang, tz=tz)
    return to_pdf(report, unit=unit, lang=lang, tz=tz)

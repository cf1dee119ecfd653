"""XLSX for people: a formatted report sheet, raw counts per field and per child unit, and the definitions used."""

from __future__ import annotations

import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from server.dashboard.formatting import format_datetime, format_period
from server.exports.service import MonthlyReport, Translator
from server.indices.schemas import IndexRow
from server.scores import export as score766

PERCENT = "0.0%"
TITLE = Font(bold=True, size=16)
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE3EA")
THIN = Side(style="thin", color="A0A8B3")
BOX = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
#: Light fills with dark text (contrast ≥ 4.5:1); every status also has its word and its symbol.
STATUS_STYLE = {
    "met": (PatternFill("solid", fgColor="D5F0DF"), Font(bold=True, color="0B6B3A"), "✓"),
    "not_met": (PatternFill("solid", fgColor="F8D7D6"), Font(bold=True, color="A3161A"), "✗"),
    "insufficient_data": (PatternFill("solid", fgColor="E6E9ED"), Font(bold=True, color="3E4650"), "…"),
    None: (PatternFill(fill_type=None), Font(color="3E4650"), "–"),
}
STATUS_WORDS = {
    "met": "Đạt chỉ tiêu",
    "not_met": "Chưa đạt chỉ tiêu",
    "insufficient_data": "Chưa đủ số đánh giá",
    None: "Không có chỉ tiêu",
}


def _sheet_title(text: str) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\."""
    for bad in "[]:*?/\\":
        text = text.replace(bad, " ")
    return text[:31]


def _label(row: IndexRow, lang: str) -> str:
    return row.label_en if lang == "en" else row.label


class ReportWriter:
    """Writes the report sheet top to bottom."""

    def __init__(self, ws: Worksheet, t: Translator) -> None:
        self.ws = ws
        self.t = t
        self.row = 1

    def line(self, *values: object, font: Font | None = None) -> int:
        for col, value in enumerate(values, start=1):
            cell = self.ws.cell(row=self.row, column=col, value=value)
            if font is not None:
                cell.font = font
        self.row += 1
        return self.row - 1

    def blank(self) -> None:
        self.row += 1

    def rate_table(self, title: str, first_header: str, rows: Iterable[IndexRow], *, ranked: bool = False) -> None:
        t = self.t
        self.line(title, font=Font(bold=True, size=13))
        headers = [
            *([t("Hạng")] if ranked else []),
            first_header,
            t("Mã"),
            t("Tỷ lệ hài lòng"),
            t("KTC 95% (thấp)"),
            t("KTC 95% (cao)"),
            t("Chỉ tiêu"),
            t("Mục tiêu 2030"),
            t("Trạng thái"),
            t("Số đánh giá"),
            t("Hài lòng"),
            t("Bấm bất thường"),
        ]
        header_row = self.line(*headers, font=BOLD)
        for col in range(1, len(headers) + 1):
            cell = self.ws.cell(row=header_row, column=col)
            cell.fill = HEADER_FILL
            cell.border = BOX
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        offset = 1 if ranked else 0
        for rank, row in enumerate(rows, start=1):
            fill, font, symbol = STATUS_STYLE.get(row.status, STATUS_STYLE[None])
            values: list[object] = [
                *([rank] if ranked else []),
                _label(row, t.lang),
                row.key,
                row.rate,
                row.ci_low,
                row.ci_high,
                row.target,
                row.target_2030,
                f"{symbol} {t(STATUS_WORDS.get(row.status, STATUS_WORDS[None]))}",
                row.n,
                row.satisfied,
                row.misuse,
            ]
            r = self.line(*values)
            for col in range(1, len(values) + 1):
                self.ws.cell(row=r, column=col).border = BOX
            for col in range(3 + offset, 8 + offset):  # rate, interval, targets
                self.ws.cell(row=r, column=col).number_format = PERCENT
            status_cell = self.ws.cell(row=r, column=8 + offset)
            status_cell.fill, status_cell.font = fill, font
        self.blank()


def _report_sheet(ws: Worksheet, report: MonthlyReport, t: Translator) -> None:
    view, lang = report.view, t.lang
    w = ReportWriter(ws, t)
    ws.title = _sheet_title(t("Báo cáo"))
    w.line(t("Báo cáo mức độ hài lòng của người dân, doanh nghiệp"), font=TITLE)
    w.line(t("Đơn vị"), f"{report.unit.name} ({report.unit.code})", font=None)
    w.line(t("Kỳ báo cáo"), format_period(report.period.code, lang))
    w.line(t("Thời điểm lập"), f"{format_datetime(view.generated_at, lang)} ({report.definitions.timezone})")
    w.line(t("Phạm vi"), t("gồm cả các đơn vị trực thuộc"))
    w.blank()
    overall = view.overall
    w.line(t("Mức độ hài lòng chung"), font=Font(bold=True, size=13))
    fill, font, symbol = STATUS_STYLE.get(overall.status, STATUS_STYLE[None])
    headline = [
        (t("Tỷ lệ hài lòng"), overall.rate, PERCENT),
        (t("Chỉ tiêu"), overall.target, PERCENT),
        (t("Trạng thái"), f"{symbol} {t(STATUS_WORDS.get(overall.status, STATUS_WORDS[None]))}", None),
        (t("KTC 95% (thấp)"), overall.ci_low, PERCENT),
        (t("KTC 95% (cao)"), overall.ci_high, PERCENT),
        (t("Mục tiêu 2030"), overall.target_2030, PERCENT),
        (t("Số đánh giá"), overall.n, None),
        (t("Hài lòng"), overall.satisfied, None),
        (t("Bấm bất thường"), overall.misuse, None),
        (t("Tỷ lệ phản hồi"), view.response_rate.rate, PERCENT),
    ]
    for label, value, fmt in headline:
        r = w.line(label, value)
        ws.cell(row=r, column=1).font = BOLD
        if fmt:
            ws.cell(row=r, column=2).number_format = fmt
        if label == t("Trạng thái"):
            ws.cell(row=r, column=2).fill, ws.cell(row=r, column=2).font = fill, font
    w.blank()
    w.rate_table(t("Theo nhóm chỉ tiêu"), t("Nhóm"), view.groups)
    w.rate_table(t("Theo lĩnh vực"), t("Lĩnh vực"), view.fields)
    if view.children:
        w.rate_table(t("Đơn vị trực thuộc, xếp hạng"), t("Đơn vị"), view.children, ranked=True)
    if view.children_few:
        w.rate_table(t("Đơn vị trực thuộc chưa đủ số đánh giá (không xếp hạng)"), t("Đơn vị"), view.children_few)
    w.rate_table(t("Xu hướng 12 tháng"), t("Tháng"), view.trend)

    w.line(t("Định nghĩa"), font=Font(bold=True, size=13))
    d = report.definitions
    satisfied = ", ".join(
        f"{lv.level} ({lv.name_en if lang == 'en' else lv.name_vi})" for lv in d.levels if lv.satisfied
    )
    scale = "; ".join(f"{lv.level} = {lv.name_en if lang == 'en' else lv.name_vi}" for lv in d.levels)
    for label, value in (
        (t("Thang đánh giá"), scale),
        (t("Mức được tính là hài lòng"), satisfied),
        (t("Tỷ lệ hài lòng"), t("số đánh giá hài lòng ÷ số đánh giá hợp lệ (không tính lượt bấm bất thường)")),
        (t("Khoảng tin cậy"), t("khoảng Wilson 95%")),
        (t("Số đánh giá tối thiểu"), d.min_sample),
        (t("Múi giờ tính kỳ báo cáo"), d.timezone),
    ):
        r = w.line(label, value)
        ws.cell(row=r, column=1).font = BOLD
    for code, name_vi, name_en, year, threshold in d.milestones:
        r = w.line(
            f"{t('Chỉ tiêu')}: {name_en if lang == 'en' else name_vi} ({code})", f"{t('từ năm')} {year}", threshold
        )
        ws.cell(row=r, column=3).number_format = PERCENT
    widths = [34, 44, 14, 14, 14, 14, 14, 14, 22, 12, 12, 14, 14]
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _counts_sheet(ws: Worksheet, report: MonthlyReport, t: Translator, rows: list[IndexRow], first: str) -> None:
    d = report.definitions
    headers = [
        t("Mã"),
        first,
        t("Số đánh giá"),
        t("Hài lòng"),
        t("Bấm bất thường"),
        *[f"{t('Mức')} {lv.level}" for lv in d.levels],
        *[(r.name_en if t.lang == "en" else r.name_vi) for r in d.reasons],
    ]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        ws.append(
            [
                row.key,
                _label(row, t.lang),
                row.n,
                row.satisfied,
                row.misuse,
                *[row.levels.get(str(lv.level), 0) for lv in d.levels],
                *[row.reasons.get(r.code, 0) for r in d.reasons],
            ]
        )
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 44
    ws.freeze_panes = "C2"


def to_xlsx(report: MonthlyReport) -> bytes:
    """The workbook as bytes."""
    t = Translator(report.lang)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    _report_sheet(ws, report, t)
    _counts_sheet(
        wb.create_sheet(_sheet_title(t("Số liệu theo lĩnh vực"))), report, t, report.view.field_rows, t("Lĩnh vực")
    )
    units = report.view.children + report.view.children_few
    _counts_sheet(wb.create_sheet(_sheet_title(t("Số liệu theo đơn vị"))), report, t, units, t("Đơn vị"))
    score766.xlsx_sheet(wb, report.score766, t, _sheet_title(t("Điểm QĐ 766")))
    wb.properties.title = t("Báo cáo mức độ hài lòng của người dân, doanh nghiệp")
    wb.properties.creator = "Hài Lòng"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

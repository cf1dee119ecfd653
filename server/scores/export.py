"""The QĐ 766 score in the monthly exports (CSV columns, an XLSX sheet; the PDF's section is
`templates/exports/_score766_pdf.html`): the same numbers as `GET /api/v1/scores/766`."""

from __future__ import annotations

from collections.abc import Callable

from openpyxl import Workbook
from openpyxl.styles import Font

from server.scores.formulas import Score


def csv_header(score: Score) -> list[str]:
    """Columns appended to every CSV line: the unit's (subtree's) score, repeated on each field's line."""
    columns = ["score_766_total", "score_766_max"]
    for metric in score.metrics:
        prefix = f"score_766_{metric.code.lower()}"
        columns += [f"{prefix}_numerator", f"{prefix}_denominator", f"{prefix}_ratio"]
        if metric.score is not None:
            columns.append(f"{prefix}_score")
    return columns


def csv_values(score: Score) -> list[str]:
    """The values of `csv_header`, with a `.` decimal point (ratios with 4 decimals, scores with 2, as the API)."""
    values = [f"{score.total:.2f}", str(score.max)]
    for metric in score.metrics:
        values += [
            str(metric.numerator),
            str(metric.denominator),
            "" if metric.ratio is None else f"{metric.ratio:.4f}",
        ]
        if metric.score is not None:
            values.append(f"{metric.score:.2f}")
    return values


def xlsx_sheet(wb: Workbook, score: Score, t: Callable[[str], str], title: str) -> None:
    """A sheet with the score's metrics (numerator, denominator, ratio, points out of their maximum) and the total."""
    ws = wb.create_sheet(title)
    ws.append([t("Điểm hài lòng theo Quyết định 766/QĐ-TTg")])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(
        [
            t("Mã"),
            t("Chỉ tiêu thành phần"),
            t("Số đạt"),
            t("Tổng số tính"),
            t("Tỷ lệ đạt"),
            t("Điểm đạt"),
            t("Điểm tối đa"),
        ]
    )
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for metric in score.metrics:
        ws.append(
            [
                metric.code,
                t(METRIC_NAMES[metric.code]),
                metric.numerator,
                metric.denominator,
                metric.ratio,
                metric.score,
                metric.max_score,
            ]
        )
        ws.cell(row=ws.max_row, column=5).number_format = "0.0%"
    ws.append(["TOTAL", t("Tổng điểm"), None, None, None, score.total, score.max])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 56


#: The metrics' Vietnamese names (translated by the catalogs; the dashboard's macro says the same).
METRIC_NAMES = {
    "DOSSIER_RECEIVING_SATISFACTION": "Hài lòng về tiếp nhận, giải quyết hồ sơ",
    "PETITION_PROCESSING_ON_TIME": "Phản ánh, kiến nghị được xử lý đúng hạn",
    "PETITION_HANDLING_SATISFACTION": "Phản ánh, kiến nghị được xử lý làm người dân hài lòng",
    "PETITION_CLASSIFICATION_TTHC": "Tỷ lệ phản ánh về quy định, thủ tục hành chính",
    "PETITION_CLASSIFICATION_STAFF": "Tỷ lệ phản ánh về hành vi cán bộ",
}

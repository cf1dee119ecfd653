"""CSV for machines: RFC 4180 (comma, CRLF, quotes only where needed), UTF-8 with a BOM, `.` as decimal point,
one row per procedure field with its code. Rates are fractions 0..1, as in `/api/v1/indices`. The unit's QĐ 766
score (`/api/v1/scores/766`) ends every line, in the `score_766_*` columns.
"""

from __future__ import annotations

import csv
import io

from server.exports.service import MonthlyReport
from server.indices.schemas import IndexRow
from server.scores import export as score766

BOM = "\ufeff"


def number(value: float | None) -> str:
    """A fraction with six decimals and a `.` point; empty when unknown."""
    return "" if value is None else f"{value:.6f}"


def header(report: MonthlyReport) -> list[str]:
    """The column names (stable identifiers, for scripts)."""
    levels = [f"level_{lv.level}" for lv in report.definitions.levels]
    reasons = [f"reason_{r.code}" for r in report.definitions.reasons]
    return [
        "period",
        "unit_code",
        "field_code",
        "field_name_vi",
        "field_name_en",
        "n",
        "satisfied",
        "rate",
        "ci_low",
        "ci_high",
        "target",
        "target_2030",
        "status",
        "misuse",
        *levels,
        *reasons,
        *score766.csv_header(report.score766),
    ]


def row_values(report: MonthlyReport, row: IndexRow) -> list[str]:
    """One field's line."""
    return [
        report.period.code,
        report.unit.code,
        row.key,
        row.label,
        row.label_en,
        str(row.n),
        str(row.satisfied),
        number(row.rate),
        number(row.ci_low),
        number(row.ci_high),
        number(row.target),
        number(row.target_2030),
        row.status or "",
        str(row.misuse),
        *[str(row.levels.get(str(lv.level), 0)) for lv in report.definitions.levels],
        *[str(row.reasons.get(r.code, 0)) for r in report.definitions.reasons],
        *score766.csv_values(report.score766),
    ]


def to_csv(report: MonthlyReport) -> bytes:
    """The report's field rows as CSV bytes (BOM first, so spreadsheet programs read the diacritics right)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=",", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(header(report))
    for row in report.view.field_rows:
        writer.writerow(row_values(report, row))
    return (BOM + buffer.getvalue()).encode("utf-8")

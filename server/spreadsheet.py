"""Safe cells for every spreadsheet the server writes or reads (exports, public data files, import templates).

Text that people typed (unit, counter and field names, comments) must never become a live formula when a CSV or
XLSX file is opened in Excel or LibreOffice (OWASP "CSV injection"):

- CSV: a text value beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (which
  spreadsheet programs show as text and do not evaluate); the csv module quotes it where needed. Numbers are
  passed as numbers and left alone.
- XLSX: every `str` is written as a string cell (openpyxl would store `=…` as a formula), with the control
  characters XML cannot hold removed (openpyxl raises on them).

Also the reading side of imports: `decode_text` (UTF-8 with or without BOM, UTF-16 with or without BOM, as
Excel's "CSV UTF-8" and "Unicode Text" save) and `sniff_delimiter` (`,` or `;`, as Excel writes with a Vietnamese
locale).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from server.errors import Invalid

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The first characters that make a spreadsheet program read a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_csv_cell(value: object) -> object:
    """A CSV cell that is never read as a formula: risky text gets a leading `'`; numbers and None pass."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv_row(values: Iterable[object]) -> list[object]:
    """`safe_csv_cell` over a row."""
    return [safe_csv_cell(v) for v in values]


def csv_bytes(rows: Iterable[Sequence[object]], *, bom: bool = True) -> bytes:
    """RFC 4180 CSV (comma, CRLF, minimal quoting) in UTF-8 (with a BOM for spreadsheet programs), every cell safe."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=",", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    for row in rows:
        writer.writerow(safe_csv_row(row))
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def set_cell(cell: Cell, value: object) -> Cell:
    """Put `value` in an XLSX cell; text always as a string cell (never a formula), without illegal characters."""
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def write_cell(ws: Worksheet, row: int, column: int, value: object) -> Cell:
    """`ws.cell(row, column)` with `value` set safely."""
    return set_cell(ws.cell(row=row, column=column), value)


def xlsx_bytes(title: str, rows: Iterable[Sequence[object]]) -> bytes:
    """A one-sheet workbook of `rows` (the first in bold), every text cell a string."""
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = title[:31]
    for row in rows:
        append_row(ws, row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for column in ws.columns:
        width = max(len(str(c.value or "")) for c in column)
        ws.column_dimensions[column[0].column_letter].width = min(max(width + 2, 8), 60)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def append_row(ws: Worksheet, values: Sequence[object]) -> int:
    """Like `ws.append`, but every text cell is a string; returns the row number written."""
    row = ws.max_row + 1 if ws.max_row > 1 or ws.cell(row=1, column=1).value is not None else 1
    for column, value in enumerate(values, start=1):
        write_cell(ws, row, column, value)
    return row


# --- reading imports -----------------------------------------------------------------------------------------------


class CsvImportError(Invalid):
    """A file that cannot be imported; the message names the line (`line {line}: {reason}`)."""


class UnreadableText(CsvImportError):
    """Bytes that are not text in any encoding an office tool writes."""


def decode_text(data: bytes) -> str:
    """Text of an uploaded file: UTF-16 (BOM, or zero bytes in ASCII text), else UTF-8 with or without BOM."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableText("the file is not valid UTF-16 text (byte {byte})", byte=exc.start) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    sample = data[:2000]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if even + odd > len(sample) // 4:  # UTF-16 without a BOM: ASCII characters have a zero byte each
        try:
            return data.decode("utf-16-le" if odd > even else "utf-16-be")
        except UnicodeDecodeError:
            pass
    raise UnreadableText(
        "the file is not UTF-8 or UTF-16 text (byte {byte}); save it as CSV UTF-8 or as .xlsx", byte=utf8_error.start
    )


def sniff_delimiter(first_line: str) -> str:
    """The header's most frequent of `,`, `;` (Excel with a Vietnamese locale) and tab (Excel's "Unicode Text")."""
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","

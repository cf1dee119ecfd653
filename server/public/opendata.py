"""The open data of /cong-khai as bytes: JSON, CSV (safe to open in a spreadsheet) and the SVG badge."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from markupsafe import escape

from server.i18n import translate
from server.presentation.formatting import format_percent
from server.public.service import CSV_COLUMNS, WITHHELD, PublicRow
from server.spreadsheet import csv_bytes


def iso(at: datetime) -> str:
    """An instant as ISO 8601 in UTC, to the second."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def data_json(
    *, period: str, unit: str, generated_at: datetime, licence: dict[str, str], min_sample: int, rows: list[PublicRow]
) -> bytes:
    """`{"period", "unit", "generated_at", "licence", "min_sample", "rows"}` as UTF-8 JSON."""
    document = {
        "period": period,
        "unit": unit,
        "generated_at": iso(generated_at),
        "licence": licence,
        "min_sample": min_sample,
        "rows": [r.data() for r in rows],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def data_csv(rows: list[PublicRow], *, generated_at: datetime) -> bytes:
    """RFC 4180 with a header line, UTF-8 with a BOM (Excel reads Vietnamese then), rates as fractions with a `.`,
    empty cells for withheld figures, and last `generated_at` on every line (a saved file still says when its figures
    were as of); text that a spreadsheet would take for a formula is escaped."""
    data = [{**row.data(), "generated_at": iso(generated_at)} for row in rows]
    return csv_bytes([list(CSV_COLUMNS), *([("" if d[c] is None else d[c]) for c in CSV_COLUMNS] for d in data)])


def _text_width(text: str) -> int:
    """About how wide `text` is at 11 px in a sans-serif font (no font metrics in the badge's reader)."""
    return int(sum(4 if c in "il.,:;|!' " else 9 if c.isupper() or c in "mw%" else 7 for c in text)) + 12


def badge_svg(*, name: str, row: PublicRow, period_label: str, lang: str) -> bytes:
    """A small badge for a unit's own website: "Hài lòng | 92,3%" (or "chưa đủ số đánh giá", or "không công bố"
    where the rate is withheld so that a smaller figure cannot be subtracted), with a title."""
    label = translate("Hài lòng", lang)
    words = "không công bố" if row.status == WITHHELD else "chưa đủ số đánh giá"
    value = format_percent(row.rate, lang) if row.rate is not None else translate(words, lang)
    colour = {"met": "#1a7f37", "not_met": "#b35900"}.get(row.status or "", "#57606a")
    left, right = _text_width(label), _text_width(value)
    width = left + right
    title = f"{name} · {period_label} · {label}: {value}"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{left}" height="20" fill="#24292f"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
        f'<text x="{left / 2}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2}" y="14">{escape(value)}</text></g></svg>'
    )
    return svg.encode("utf-8")

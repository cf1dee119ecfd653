"""The pure parts of public disclosure: withholding small samples, ranking, CSV cells, the badge, the catalog."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from server.errors import Invalid
from server.i18n import english_catalog
from server.indices.schemas import IndexRow
from server.public.opendata import badge_svg
from server.public.service import PublicRow, public_period, public_row, ranked
from server.spreadsheet import safe_csv_cell

ROOT = Path(__file__).resolve().parents[3]


def index_row(n: int, satisfied: int, status: str | None = "met") -> IndexRow:
    return IndexRow(
        key="X", label="X", label_en="X", n=n, satisfied=satisfied, rate=satisfied / n if n else None,
        ci_low=0.5 if n else None, ci_high=0.9 if n else None, target=0.9, target_2030=0.95,
        status=status, misuse=0, levels={}, reasons={},
    )  # fmt: skip


def row(code: str, n: int, rate: float | None, ci_low: float | None = None, name: str | None = None) -> PublicRow:
    return PublicRow(code, name or code, name or code, "P", None, n, rate, ci_low, None, 0.9, None)


def test_public_row_withholds_the_rate_below_the_minimum_sample() -> None:
    small = public_row(index_row(29, 29), min_sample=30, unit="U", name="U", name_en="U", parent=None, parent_name=None)
    assert (small.n, small.rate, small.ci_low, small.ci_high, small.status) == (
        29,
        None,
        None,
        None,
        "insufficient_data",
    )
    enough = public_row(
        index_row(30, 27), min_sample=30, unit="U", name="U", name_en="U", parent=None, parent_name=None
    )
    assert (enough.rate, enough.ci_low, enough.status) == (0.9, 0.5, "met")


def test_ranked_never_ranks_withheld_rows_and_breaks_ties() -> None:
    rows = [
        row("B", 40, 0.8, 0.6),
        row("A", 50, 0.8, 0.7),
        row("C", 5, None),
        row("D", 90, 0.95, 0.9),
        row("E", 0, None),
    ]
    ranks, few = ranked(rows)
    assert [(rank, r.unit) for rank, r in ranks] == [(1, "D"), (2, "A"), (3, "B")]
    assert [r.unit for r in few] == ["C", "E"]
    by_n, _ = ranked(rows, "n")
    assert [(rank, r.unit) for rank, r in by_n] == [(1, "D"), (2, "A"), (3, "B")]
    named = [row("x2", 40, 0.7, name="Xã B"), row("x1", 40, 0.9, name="xã a")]
    assert [(rank, r.unit) for rank, r in ranked(named, "name")[0]] == [(1, "x1"), (2, "x2")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-x", "'-x"), ("@cmd", "'@cmd"), ("Xã A", "Xã A"), (0.5, 0.5), (3, 3)],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(value: object, expected: object) -> None:
    assert safe_csv_cell(value) == expected


def test_the_default_period_is_the_last_whole_month_and_ranges_are_refused() -> None:
    assert public_period(None, today=date(2026, 1, 15)).code == "2025-12"
    assert public_period("2026-Q2", today=date(2026, 1, 15)).kind == "quarter"
    with pytest.raises(Invalid):
        public_period("2026-01-01..2026-01-31", today=date(2026, 1, 15))


def test_the_badge_escapes_names_and_says_not_enough_in_words() -> None:
    svg = badge_svg(name="Xã <b>&", row=row("U", 3, None), period_label="Tháng 10/2026", lang="vi").decode()
    soup = BeautifulSoup(svg, "html.parser")
    assert soup.title is not None and soup.title.get_text() == "Xã <b>& · Tháng 10/2026 · Hài lòng: chưa đủ số đánh giá"
    assert "<b>" not in svg
    good = badge_svg(name="U", row=row("U", 300, 0.923), period_label="Oct 2026", lang="en").decode()
    assert "92.3%" in good and "Satisfied" in good


def test_every_public_template_string_has_an_english_entry() -> None:
    catalog = english_catalog()
    pattern = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")
    found = [
        m.group(1) if m.group(1) is not None else m.group(2)
        for path in sorted((ROOT / "templates" / "public").glob("*.html"))
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert len(found) > 20
    assert [text for text in found if text not in catalog] == []
    assert "chưa đủ số đánh giá" in catalog and "Hài lòng" in catalog  # the badge's words

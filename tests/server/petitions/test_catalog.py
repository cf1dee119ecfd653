"""Every string the petition pages, the phone thanks page and the notifications show has an English entry."""

from __future__ import annotations

import re
from pathlib import Path

from server.i18n import english_catalog, translate
from server.petitions import notify, public, routes

ROOT = Path(__file__).resolve().parents[3]
TRANSLATED = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")


def test_every_petition_string_has_an_english_entry() -> None:
    catalog = english_catalog()
    found: list[str] = []
    paths = [*sorted((ROOT / "templates" / "petitions").glob("*.html")), ROOT / "templates" / "phone" / "thanks.html"]
    for path in paths:
        found += [m.group(1) or m.group(2) for m in TRANSLATED.finditer(path.read_text(encoding="utf-8"))]
    for _status, title, message in public.PROBLEMS.values():
        found += [title, message]
    found += [*public.CATEGORY_LABELS.values(), *public.STATUS_LABELS.values(), *public.ACTION_LABELS.values()]
    found += [*public.FORM_ERRORS, *routes.PREF_KINDS.values(), *notify.TEXTS.values()]
    assert len(found) > 120
    assert [text for text in found if text not in catalog] == []


def test_messages_keep_their_placeholders_in_english() -> None:
    for text in notify.TEXTS.values():
        assert sorted(re.findall(r"{\w+}", text)) == sorted(re.findall(r"{\w+}", translate(text, "en")))


def test_the_form_errors_are_the_ones_the_form_gives() -> None:
    source = (ROOT / "server" / "petitions" / "public.py").read_text(encoding="utf-8")
    given = re.findall(r'errors\.append\("([^"]+)"\)', source)
    assert sorted(given) == sorted(public.FORM_ERRORS)

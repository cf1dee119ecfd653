"""Every string the phone page and the counter console show has an English translation (the console's login
messages are the shared login's, tested with it)."""

from __future__ import annotations

import re

from server import PROJECT_ROOT
from server.i18n import english_catalog
from server.phone.routes import PROBLEMS
from server.phone.service import Answer, LevelChoice, PostedForm, read_answer

TEMPLATE_STRING = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")


def test_template_strings_have_english() -> None:
    catalog = english_catalog()
    found = []
    for folder in ("phone", "counter"):
        for path in (PROJECT_ROOT / "templates" / folder).glob("*.html"):
            found += [a or b for a, b in TEMPLATE_STRING.findall(path.read_text(encoding="utf-8"))]
    assert len(found) > 40
    assert [s for s in found if s not in catalog] == []


def test_messages_from_code_have_english() -> None:
    catalog = english_catalog()
    messages = [text for _, title, message in PROBLEMS.values() for text in (title, message)]
    levels = [LevelChoice(level=1, name_vi="", name_en="", satisfied=False, shape="unhappy")]
    bad = PostedForm(fields={"level": ["7"], "reasons": ["x"], "comment": ["x" * 1001], "contact": ["y" * 256]})
    answer, errors = read_answer(bad, levels=levels, reasons=[])
    assert isinstance(answer, Answer) and len(errors) == 5
    messages += [e.message for e in errors]
    assert len(messages) > 15
    assert [m for m in messages if m not in catalog] == []

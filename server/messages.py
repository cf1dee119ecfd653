"""The services' error messages: an English template and its values, shown in English or from a gettext catalog.

The services raise their errors in English (the API, the CLI and the logs speak English), as a template and its
values: `raise NotFound("unknown unit {unit!r}", unit=code)`. A Vietnamese page (the administration forms, the
friendly error page, the counter console) shows the same error from the catalog
`server/locales/vi/LC_MESSAGES/errors.po` (read with Babel): msgid the English template, msgstr the Vietnamese one
over the same placeholders. A value that is itself a `Message` (a CSV import's `line {line}: {reason}`, the `what`
of `check_code`) is translated too. A template without a Vietnamese entry (or with a `#, fuzzy` one: a proposal
not reviewed yet) is shown in English rather than lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
#: The catalogs of error messages, by language (English is the source text itself).
CATALOGS = {"vi": LOCALES_DIR / "vi" / "LC_MESSAGES" / "errors.po"}


class Message:
    """An English template and its values; `str()` is the English text, `in_language` the text in a language.

    A template with values is formatted with `str.format` (so a literal brace is written `{{`); a template without
    values is the text itself.
    """

    __slots__ = ("template", "values")

    def __init__(self, template: str, /, **values: object) -> None:
        self.template = template
        self.values: Mapping[str, object] = values

    def __str__(self) -> str:
        return self.in_language("en")

    def __repr__(self) -> str:
        return f"Message({self.template!r}, **{dict(self.values)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (self.template, dict(self.values)) == (other.template, dict(other.values))

    def __hash__(self) -> int:
        return hash(self.template)

    def in_language(self, lang: str) -> str:
        """The text in `lang` (the catalog's template over the values, themselves translated when messages);
        English when the language has no catalog or the catalog no entry for this template."""
        template = catalog(lang).get(self.template, self.template)
        if not self.values:
            return template
        values = {k: v.in_language(lang) if isinstance(v, Message) else v for k, v in self.values.items()}
        return template.format(**values)


def read_catalog(path: Path, lang: str, *, fuzzy: bool = False) -> dict[str, str]:
    """A PO file's translations: msgid → msgstr, for the entries that have one (and, unless `fuzzy`, that are not
    marked `#, fuzzy`: proposals not reviewed yet)."""
    with path.open("rb") as f:
        entries = read_po(f, locale=lang)
    return {
        str(m.id): str(m.string)
        for m in entries
        if m.id and m.string and isinstance(m.id, str) and (fuzzy or not m.fuzzy)
    }


@lru_cache(maxsize=len(CATALOGS) + 1)
def catalog(lang: str) -> dict[str, str]:
    """The error catalog of `lang` (English template → template in `lang`); empty for English."""
    path = CATALOGS.get(lang)
    return read_catalog(path, lang) if path else {}


def in_language(message: str | Message, lang: str) -> str:
    """A message for a page in `lang`: a `Message` translated, a plain string (not from a service) as it is."""
    return message.in_language(lang) if isinstance(message, Message) else message

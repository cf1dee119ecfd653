"""The services' errors: English templates with their values (the API and the CLI), Vietnamese from the catalog
server/locales/vi/LC_MESSAGES/errors.po on Vietnamese pages (server/messages.py)."""

from __future__ import annotations

import ast
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from server.admin import service
from server.errors import AppError, Invalid, NotFound
from server.messages import CATALOGS, Message, catalog, read_catalog
from server.units.service import UNIT_COLUMNS, CsvImportError, line_error, read_table

SERVER = Path(__file__).resolve().parents[2] / "server"
#: Directories of server/ whose errors are still raised as finished English strings (being split by another
#: change); their raise sites are converted to templates after that change is merged, then this tuple is emptied.
NOT_YET_CONVERTED: tuple[str, ...] = ()
#: Where a template is passed on rather than written.
MACHINERY = ("errors.py", "messages.py")


def _raised(call: Callable[[], object]) -> AppError:
    with pytest.raises(AppError) as info:
        call()
    return info.value


@pytest.mark.parametrize(
    ("call", "english", "vietnamese"),
    [
        (
            lambda: service.check_code("a b", service.UNIT),
            "unit code must be 1-64 characters without spaces",
            "Mã đơn vị phải có 1–64 ký tự, không có dấu cách",
        ),
        (
            lambda: service.check_code("", service.OFFICER),
            "officer code must be 1-64 characters without spaces",
            "Mã cán bộ phải có 1–64 ký tự, không có dấu cách",
        ),
        (
            lambda: service.check_name("", Message("Vietnamese")),
            "Vietnamese name must be 1-255 characters",
            "Tên tiếng Việt phải có 1–255 ký tự",
        ),
        (
            lambda: service.parse_percent("chín mươi"),
            "threshold 'chín mươi' is not a number of percent (e.g. 90 or 92,5)",
            "Ngưỡng 'chín mươi' không phải là một số phần trăm (ví dụ 90 hoặc 92,5)",
        ),
        (lambda: service.parse_percent("120"), "threshold must be between 0 and 100 %", "Ngưỡng phải từ 0 đến 100 %"),
        (lambda: service.parse_year("năm"), "year 'năm' is not a year", "'năm' không phải là một năm"),
        (lambda: service.parse_year("1999"), "year must be between 2000 and 2100", "Năm phải từ 2000 đến 2100"),
        (
            lambda: service.parse_day("2026-13-01", Message("start date")),
            "start date '2026-13-01' is not a date (YYYY-MM-DD)",
            "Từ ngày '2026-13-01' không phải là một ngày (YYYY-MM-DD)",
        ),
        (
            lambda: read_table("code,name\nA,B\n", UNIT_COLUMNS),
            "line 1: expected the header 'code,name,parent_code,level', found 'code,name'",
            "Dòng 1: cần dòng tiêu đề 'code,name,parent_code,level', nhưng thấy 'code,name'",
        ),
        (
            lambda: read_table(b"\xff\xfe\x00\xd8", UNIT_COLUMNS),
            "the file is not valid UTF-16 text (byte 2)",
            "Tệp không phải văn bản UTF-16 hợp lệ (byte 2)",
        ),
    ],
)
def test_service_errors_are_english_with_a_vietnamese_text(
    call: Callable[[], object], english: str, vietnamese: str
) -> None:
    exc = _raised(call)
    assert exc.message == str(exc) == str(exc.text) == english  # the API's `detail` and the CLI's error
    assert exc.in_language("en") == english
    assert exc.in_language("vi") == vietnamese


@pytest.mark.parametrize(
    ("message", "english", "vietnamese"),
    [
        (Message("unit {code!r} exists already", code="X1"), "unit 'X1' exists already", "Đơn vị 'X1' đã có"),
        (Message("unknown counter {code!r}", code="Q-9"), "unknown counter 'Q-9'", "Không có quầy 'Q-9'"),
        (
            Message("unknown target group {group!r}; known groups: {known}", group="zz", known="all, lci"),
            "unknown target group 'zz'; known groups: all, lci",
            "Không có nhóm chỉ tiêu 'zz'; các nhóm: all, lci",
        ),
        (
            Message("cannot move unit {code!r} under its own subtree ({parent!r})", code="A", parent="A1"),
            "cannot move unit 'A' under its own subtree ('A1')",
            "Không thể chuyển đơn vị 'A' vào bên dưới chính nó ('A1')",
        ),
        (
            Message("counter {code!r} is outside unit {unit!r} and its subtree", code="Q1", unit="U"),
            "counter 'Q1' is outside unit 'U' and its subtree",
            "Quầy 'Q1' không thuộc đơn vị 'U' và các đơn vị cấp dưới",
        ),
        (
            Message("the request body is larger than {kb} KB", kb=64),
            "the request body is larger than 64 KB",
            "Dữ liệu gửi lên lớn hơn 64 KB",
        ),
    ],
)
def test_messages_keep_their_values(message: Message, english: str, vietnamese: str) -> None:
    assert str(message) == english
    assert message.in_language("vi") == vietnamese


def test_a_message_inside_a_message_is_translated_too() -> None:
    """A CSV import's `line {line}: {reason}` and `check_code`'s `what` are messages themselves."""
    exc = line_error(4, Message("{column} is longer than {n} characters", column="name", n=255))
    assert isinstance(exc, CsvImportError)
    assert exc.message == "line 4: name is longer than 255 characters"
    assert exc.in_language("vi") == "Dòng 4: cột name dài quá 255 ký tự"
    wrapped = line_error(7, NotFound("unknown unit {code!r}", code="P").text)
    assert (wrapped.message, wrapped.in_language("vi")) == ("line 7: unknown unit 'P'", "Dòng 7: Không có đơn vị 'P'")


def test_an_untranslated_message_stays_english() -> None:
    assert (
        Message("something new went wrong with {x!r}", x="A").in_language("vi") == "something new went wrong with 'A'"
    )
    assert line_error(3, "something new").in_language("vi") == "Dòng 3: something new"  # a csv module's message
    assert Message("unit {code!r} exists already", code="X").in_language("fr") == "unit 'X' exists already"


def test_a_message_without_values_is_taken_as_it_is() -> None:
    """Errors still raised as finished strings (NOT_YET_CONVERTED) may hold braces from the values they quote."""
    assert Invalid("unknown field '{x}'").message == "unknown field '{x}'"
    assert Invalid("value {x}", x="{y}").message == "value {y}"


# --- the catalog covers the source ---------------------------------------------------------------------------------


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in SERVER.rglob("*.py")}


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """`AppError` and every class of server/ derived from it, however indirectly (by name)."""
    names = {"AppError"}
    while True:
        found = {
            node.name
            for tree in trees.values()
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id in names for b in node.bases)
        }
        if found <= names:
            return names
        names |= found


def _skipped(path: Path) -> bool:
    return any(part in NOT_YET_CONVERTED for part in path.relative_to(SERVER).parts)


def _templates() -> dict[str, str]:
    """Every template in server/ (first argument of an error class or of `Message`), with where it is."""
    keywords: dict[str, None] = dict.fromkeys({*_error_classes(_trees()), "Message"})

    def wanted(dirpath: str) -> bool:
        return not Path(dirpath).name.startswith((".", "_")) and not _skipped(Path(dirpath).resolve())

    return {
        str(message): f"server/{filename}:{line}"
        for filename, line, message, _, _ in extract_from_dir(
            str(SERVER), method_map=[("**.py", "python")], keywords=keywords, directory_filter=wanted
        )
    }


def test_every_template_has_a_vietnamese_text() -> None:
    templates = _templates()
    assert len(templates) > 100
    entries = read_catalog(CATALOGS["vi"], "vi", fuzzy=True)
    missing = {t: where for t, where in templates.items() if t not in entries}
    assert missing == {}, "add these to server/locales/vi/LC_MESSAGES/errors.po"


def test_the_catalog_has_no_stale_entries() -> None:
    assert set(read_catalog(CATALOGS["vi"], "vi", fuzzy=True)) - set(_templates()) == set()


def test_a_fuzzy_entry_is_not_shown_until_reviewed(tmp_path: Path) -> None:
    po = tmp_path / "errors.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: vi\\n"\n\n#, fuzzy\nmsgid "unknown visit"\nmsgstr "Không có lượt"\n\n'
        'msgid "unknown unit"\nmsgstr "Không có đơn vị này"\n',
        encoding="utf-8",
    )
    assert read_catalog(po, "vi") == {"unknown unit": "Không có đơn vị này"}
    assert read_catalog(po, "vi", fuzzy=True)["unknown visit"] == "Không có lượt"
    assert catalog("vi") == read_catalog(CATALOGS["vi"], "vi", fuzzy=True)  # none of ours is left unreviewed


def _placeholders(template: str) -> list[tuple[str, str | None, str]]:
    return sorted(
        (name, conversion, spec or "")
        for _, name, spec, conversion in string.Formatter().parse(template)
        if name is not None
    )


def test_each_vietnamese_text_keeps_the_placeholders_of_its_template() -> None:
    entries = read_catalog(CATALOGS["vi"], "vi", fuzzy=True)
    assert len(entries) > 100
    differing = {
        msgid: msgstr
        for msgid, msgstr in entries.items()
        if sorted(set(_placeholders(msgid))) != sorted(set(_placeholders(msgstr)))
    }
    assert differing == {}


def test_placeholders_are_compared_by_name_and_conversion() -> None:
    assert _placeholders("unit {code!r} in {unit}") == [("code", "r", ""), ("unit", None, "")]
    assert _placeholders("Đơn vị {code}") != _placeholders("unit {code!r}")


def _offences(tree: ast.Module, classes: set[str]) -> list[str]:
    """Calls of an error class or of `Message` whose first argument is not a plain string literal."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name not in classes | {"Message"}:
            continue
        first = node.args[0] if node.args else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            found.append(f"{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_errors_are_raised_as_templates_not_as_finished_strings() -> None:
    trees = _trees()
    classes = _error_classes(trees)
    assert {"NotFound", "CsvImportError", "UnreadableText", "LoginRequired"} <= classes
    offences = {
        str(path.relative_to(SERVER)): found
        for path, tree in trees.items()
        if not _skipped(path)
        and path.relative_to(SERVER).as_posix() not in MACHINERY
        and (found := _offences(tree, classes))
    }
    assert offences == {}, 'write raise NotFound("unknown unit {code!r}", code=code), not an f-string'


@pytest.mark.parametrize(
    "source",
    [
        'raise NotFound(f"unknown unit {code!r}")',
        'raise Invalid("unknown unit " + code)',
        "raise Invalid(message)",
        'raise errors.Conflict(f"{a}" if b else "c")',
        'reason = Message(f"line {n}")',
    ],
)
def test_the_check_finds_finished_strings(source: str) -> None:
    assert _offences(ast.parse(source), {"NotFound", "Invalid", "Conflict"}) != []


def test_the_check_accepts_templates() -> None:
    source = 'raise NotFound("unknown unit {code!r}", code=code)\nreason = Message("{column} is empty", column=c)'
    assert _offences(ast.parse(source), {"NotFound"}) == []

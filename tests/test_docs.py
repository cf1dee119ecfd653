"""README's tables are the reference for operators: every setting and every command is there, and nothing there is
stale (as datasette tests its documentation)."""

from __future__ import annotations

import re

import click
import typer

from kiosk.config import KioskSettings
from server import PROJECT_ROOT
from server.cli import app
from server.config import Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
DOCUMENTED_VARIABLES = set(re.findall(r"`((?:HAILONG_|DATABASE_URL)[A-Z0-9_]*)`", README))


def _variable(prefix: str, name: str, alias: str | None) -> str:
    return (alias or prefix + name).upper()


def _settings_variables() -> set[str]:
    names = set()
    for model, prefix in ((Settings, "HAILONG_"), (KioskSettings, "HAILONG_KIOSK_")):
        for name, info in model.model_fields.items():
            alias = info.validation_alias
            # AliasChoices: its first choice is the documented name (DATABASE_URL).
            first = alias.choices[0] if hasattr(alias, "choices") else alias
            names.add(_variable(prefix, name, first if isinstance(first, str) else None))
    return names


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += _commands(command, (*path, name))
        else:
            out.append((*path, name))
    return out


def test_every_setting_is_in_the_readme() -> None:
    missing = sorted(_settings_variables() - DOCUMENTED_VARIABLES)
    assert not missing, f"settings missing from README's configuration tables: {missing}"


def test_every_variable_the_readme_names_exists() -> None:
    stale = sorted(DOCUMENTED_VARIABLES - _settings_variables())
    assert not stale, f"README names settings that do not exist: {stale}"


def test_every_command_is_in_the_readme_and_every_listed_command_exists() -> None:
    commands = {" ".join(path) for path in _commands(typer.main.get_group(app))}
    listed = set()
    for line in README.splitlines():
        for code in re.findall(r"`hailong ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", line):
            words = code.split()
            listed.add(" ".join(words[:2]) if " ".join(words[:2]) in commands else words[0])
    missing = sorted(commands - listed)
    assert not missing, f"commands missing from README: {missing}"
    stale = sorted(listed - commands)
    assert not stale, f"README lists commands that do not exist: {stale}"


def test_every_document_cited_in_the_code_and_the_readme_exists() -> None:
    cited: dict[str, str] = {}
    sources = [PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")]
    for folder in ("server", "kiosk", "migrations", "bench", "tests"):
        sources += (PROJECT_ROOT / folder).rglob("*.py")
    for path in sources:
        for name in re.findall(r"\b(docs/[\w./-]+\.md)\b", path.read_text(encoding="utf-8")):
            cited.setdefault(name, str(path.relative_to(PROJECT_ROOT)))
    assert len(cited) > 10
    missing = {name: where for name, where in cited.items() if not (PROJECT_ROOT / name).is_file()}
    assert missing == {}

"""What the command line prints: text that may come from the database, with its control characters written out."""

from __future__ import annotations

import re

import typer

#: What a terminal could take as a command (C0 controls but tab and newline, DEL, C1 controls such as CSI U+009B).
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FIELD_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # in a table's field, tab and newline too


def printable(text: str, *, field: bool = False) -> str:
    """`text` with control characters written out (`\\x1b`), so that stored text (a kiosk's version, a name)
    cannot move the cursor, retitle the terminal or forge lines of the output (issue 19, finding 7)."""
    pattern = _FIELD_CONTROLS if field else _TERMINAL_CONTROLS
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def echo(message: str, *, err: bool = False) -> None:
    """`typer.echo` of text that may come from the database: controls escaped."""
    typer.echo(printable(message), err=err)

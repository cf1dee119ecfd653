"""Units (a tree of any depth) and their counters: create, move, look up subtrees, import from CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from server.errors import Invalid, NotFound
from server.messages import Message
from server.models import Counter, Unit
from server.spreadsheet import CsvImportError, decode_text, sniff_delimiter
from server.tables import COUNTER

UNIT_COLUMNS = ("code", "name", "parent_code", "level")
COUNTER_COLUMNS = ("code", "unit_code", "name")
MAX_CODE = 64
MAX_NAME = 255
#: Deepest unit tree an import may build (a province's tree has 3-5 levels); also keeps `unit.path` ≤ 2048.
MAX_DEPTH = 32
MAX_PATH = 2048
#: Rows per statement staging a counters import in its temporary table (executemany).
WRITE_CHUNK = 5000
XLSX_MAGIC = b"PK\x03\x04"


def line_error(line: int, reason: Message | str) -> CsvImportError:
    """The error of an import file's line: `line {line}: {reason}`."""
    return CsvImportError("line {line}: {reason}", line=line, reason=reason)


def get_unit(*, session: Session, code: str) -> Unit:
    """The unit with this code, or 404."""
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFound("unknown unit {code!r}", code=code)
    return unit


def subtree_ids(unit: Unit) -> sa.Select[int | None]:
    """A SELECT of the ids of `unit` and every unit below it, at any depth."""
    return sa.select(col(Unit.id)).where(col(Unit.path).like(unit.path + "%"))


def is_in_subtree(*, unit: Unit, root: Unit) -> bool:
    """Whether `unit` is `root` or lies below it."""
    return path_in_subtree(unit.path, root=root)


def path_in_subtree(path: str, *, root: Unit) -> bool:
    """Whether the unit with this materialised path is `root` or lies below it (when only its path was read)."""
    return path.startswith(root.path)


def create_unit(
    *, session: Session, code: str, name: str, parent: Unit | None = None, level: str = "", active: bool = True
) -> Unit:
    """Add a unit under `parent` (a root when None) and give it its path."""
    unit = Unit(code=code, name=name, parent_id=parent.id if parent else None, level=level, active=active)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    if len(unit.path) > MAX_PATH:
        raise Invalid("unit {code!r} is too deep in the tree (its path is over {n} characters)", code=code, n=MAX_PATH)
    session.flush()
    return unit


def move_unit(*, session: Session, unit: Unit, new_parent: Unit | None) -> None:
    """Re-parent `unit`; its whole subtree moves with it (figures follow the current tree)."""
    if new_parent is not None and new_parent.path.startswith(unit.path):
        raise Invalid(
            "cannot move unit {code!r} under its own subtree ({parent!r})", code=unit.code, parent=new_parent.code
        )
    old_path = unit.path
    new_path = f"{new_parent.path if new_parent else '/'}{unit.id}/"
    unit.parent_id = new_parent.id if new_parent else None
    session.flush()
    if new_path != old_path:
        session.execute(
            sa.update(Unit)
            .where(col(Unit.path).like(old_path + "%"))
            .values(path=sa.literal(new_path) + sa.func.substr(Unit.path, len(old_path) + 1))
            .execution_options(synchronize_session=False)
        )
        session.expire_all()


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def read_table(data: bytes | str, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of an import file with exactly the expected header, each with its line number.

    What Vietnamese offices produce: an Excel workbook (`.xlsx`, first sheet), or CSV separated by `,`, `;`
    (Excel with a Vietnamese locale) or tabs, in UTF-8 with or without a BOM or in UTF-16 (detected).
    """
    if isinstance(data, bytes) and data.startswith(XLSX_MAGIC):
        return _check_rows(_xlsx_rows(data), columns)
    text = decode_text(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def lines() -> Iterator[tuple[int, list[str]]]:
        try:
            for values in reader:
                yield reader.line_num, values
        except csv.Error as exc:
            raise line_error(reader.line_num, str(exc)) from exc

    return _check_rows(lines(), columns)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's rows as text (whole numbers without `.0`), with their row numbers."""
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, KeyError) for a damaged file
        raise CsvImportError("the file is not a readable Excel workbook (.xlsx)") from exc
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield (
                number,
                [
                    "" if v is None else str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
                    for v in cells
                ],
            )
    finally:
        workbook.close()


def _check_rows(lines: Iterable[tuple[int, list[str]]], columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    iterator = iter(lines)
    header: list[str] | None = None
    header_line = 1
    for header_line, values in iterator:  # noqa: B007  (the header's line is named in the error)
        if any(v.strip() for v in values):
            header = [h.strip().lower() for h in values]
            break
    if header is None:
        raise CsvImportError("the file is empty; expected a header line: {columns}", columns=",".join(columns))
    while header and not header[-1]:
        header.pop()
    if header != list(columns):
        expected = Message("expected the header {want!r}, found {got!r}", want=",".join(columns), got=",".join(header))
        raise line_error(header_line, expected)
    rows: list[tuple[int, dict[str, str]]] = []
    for line, values in iterator:
        if not any(v.strip() for v in values):
            continue
        while len(values) > len(columns) and not values[-1].strip():
            values = values[:-1]  # Excel keeps formatted empty cells (and their separators) at the end of a row
        if len(values) != len(columns):
            raise line_error(line, Message("expected {want} columns, found {got}", want=len(columns), got=len(values)))
        rows.append((line, {c: v.strip() for c, v in zip(columns, values, strict=True)}))
    return rows


def _check_text(line: int, column: str, value: str, limit: int, *, required: bool = True) -> None:
    if required and not value:
        raise line_error(line, Message("{column} is empty", column=column))
    if len(value) > limit:
        raise line_error(line, Message("{column} is longer than {n} characters", column=column, n=limit))


def import_units(*, session: Session, data: bytes | str) -> ImportResult:
    """Create or update units from CSV `code,name,parent_code,level`; parents may come later in the file."""
    rows = read_table(data, UNIT_COLUMNS)
    by_code: dict[str, tuple[int, dict[str, str]]] = {}
    for line, row in rows:
        _check_text(line, "code", row["code"], MAX_CODE)
        _check_text(line, "name", row["name"], MAX_NAME)
        _check_text(line, "parent_code", row["parent_code"], MAX_CODE, required=False)
        _check_text(line, "level", row["level"], 64, required=False)
        if row["code"] in by_code:
            twice = Message(
                "unit {code!r} appears twice (first on line {first})", code=row["code"], first=by_code[row["code"]][0]
            )
            raise line_error(line, twice)
        if row["parent_code"] == row["code"]:
            raise line_error(line, Message("unit {code!r} cannot be its own parent", code=row["code"]))
        by_code[row["code"]] = (line, row)

    existing = {u.code: u for u in session.exec(select(Unit)).all()}
    for line, row in rows:
        parent = row["parent_code"]
        if parent and parent not in by_code and parent not in existing:
            raise line_error(
                line, Message("parent_code {code!r} is not a known unit nor a unit in this file", code=parent)
            )

    created = updated = 0
    done: set[str] = set()

    def depth_of(unit: Unit) -> int:
        return unit.path.count("/") - 1

    def place(code: str) -> None:
        """Create or update `code` (its parent first); iterative, so any depth is a clear error, not a crash."""
        nonlocal created, updated
        chain: list[str] = []  # `code`, its parent, …, up to a unit that is done or not in the file
        on_chain: set[str] = set()
        current: str | None = code
        while current and current in by_code and current not in done:
            if current in on_chain:
                line = by_code[current][0]
                cycle = [*chain[chain.index(current) :], current]
                raise line_error(line, Message("parent_code makes a cycle ({chain})", chain=" → ".join(cycle)))
            chain.append(current)
            on_chain.add(current)
            current = by_code[current][1]["parent_code"] or None
        base = depth_of(existing[current]) if current else 0
        if base + len(chain) > MAX_DEPTH:
            line = by_code[code][0]
            raise line_error(
                line, Message("unit {code!r} would be more than {depth} levels deep", code=code, depth=MAX_DEPTH)
            )
        for item in reversed(chain):
            line, row = by_code[item]
            parent = existing[row["parent_code"]] if row["parent_code"] else None
            unit = existing.get(item)
            if unit is None:
                unit = create_unit(session=session, code=item, name=row["name"], parent=parent, level=row["level"])
                existing[item] = unit
                created += 1
            else:
                unit.name, unit.level = row["name"], row["level"]
                if unit.parent_id != (parent.id if parent else None):
                    try:
                        move_unit(session=session, unit=unit, new_parent=parent)
                    except Invalid as exc:
                        raise line_error(line, exc.text) from exc
                updated += 1
            done.add(item)

    for _, row in rows:
        place(row["code"])
    session.flush()
    return ImportResult(created=created, updated=updated)


def import_counters(*, session: Session, data: bytes | str) -> ImportResult:
    """Create or update counters from CSV or XLSX `code,unit_code,name`.

    All or nothing: every line is checked before the first write, and the writes are one transaction: the rows are
    staged in a temporary table, then written by two set-based statements (no ORM objects), so even 200,000
    counters hold the database's write lock briefly.
    """
    rows = read_table(data, COUNTER_COLUMNS)
    units: dict[str, int] = {
        code: unit_id for code, unit_id in session.execute(sa.select(col(Unit.code), col(Unit.id)))
    }
    counters = {
        code: (counter_id, unit_id, name)
        for code, counter_id, unit_id, name in session.execute(
            sa.select(col(Counter.code), col(Counter.id), col(Counter.unit_id), col(Counter.name))
        )
    }
    seen: dict[str, int] = {}
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    updated = 0
    for line, row in rows:
        _check_text(line, "code", row["code"], MAX_CODE)
        _check_text(line, "unit_code", row["unit_code"], MAX_CODE)
        _check_text(line, "name", row["name"], MAX_NAME)
        if row["code"] in seen:
            twice = Message(
                "counter {code!r} appears twice (first on line {first})", code=row["code"], first=seen[row["code"]]
            )
            raise line_error(line, twice)
        seen[row["code"]] = line
        unit_id = units.get(row["unit_code"])
        if unit_id is None:
            raise line_error(line, Message("unit_code {code!r} is not a known unit", code=row["unit_code"]))
        known = counters.get(row["code"])
        if known is None:
            inserts.append({"code": row["code"], "new_unit_id": unit_id, "new_name": row["name"]})
        else:
            updated += 1
            if (known[1], known[2]) != (unit_id, row["name"]):
                updates.append({"counter_id": known[0], "new_unit_id": unit_id, "new_name": row["name"]})
    _write_counters(session, inserts, updates)
    return ImportResult(created=len(inserts), updated=updated)


def _write_counters(session: Session, inserts: list[dict[str, object]], updates: list[dict[str, object]]) -> None:
    """Stage the rows in a temporary table (SQLite keeps it in its temp database, outside the main database's
    write lock), then write them with one set-based INSERT and one UPDATE … FROM."""
    if not inserts and not updates:
        return
    staged = sa.Table(
        "hl_import_counter",
        sa.MetaData(),
        sa.Column("counter_id", sa.Integer),
        sa.Column("code", sa.String(MAX_CODE)),
        sa.Column("new_unit_id", sa.Integer),
        sa.Column("new_name", sa.String(MAX_NAME)),
        prefixes=["TEMPORARY"],
    )
    connection = session.connection()
    staged.create(connection)
    rows = [{"counter_id": None, **r} for r in inserts] + [{"code": None, **r} for r in updates]
    for start in range(0, len(rows), WRITE_CHUNK):
        connection.execute(staged.insert(), rows[start : start + WRITE_CHUNK])
    if inserts:
        connection.execute(
            COUNTER.insert().from_select(
                ["code", "unit_id", "name", "active"],
                sa.select(staged.c.code, staged.c.new_unit_id, staged.c.new_name, sa.true()).where(
                    staged.c.counter_id.is_(None)
                ),
            )
        )
    if updates:
        connection.execute(
            COUNTER.update()
            .values(unit_id=staged.c.new_unit_id, name=staged.c.new_name)
            .where(COUNTER.c.id == staged.c.counter_id)
        )
        session.expire_all()  # counters loaded before now see their new unit and name
    staged.drop(connection)


def ancestors(*, session: Session, unit: Unit) -> list[Unit]:
    """The chain from the root down to `unit` (inclusive)."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    found = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_(ids))).all()}
    return [found[i] for i in ids if i in found]


def children(*, session: Session, unit: Unit) -> Iterable[Unit]:
    """The direct children of `unit`, by code."""
    return session.exec(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.code)).all()

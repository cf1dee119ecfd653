"""Units (a tree of any depth) and their counters: create, move, look up subtrees, import from CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.errors import Invalid, NotFound
from server.models import Counter, Unit

UNIT_COLUMNS = ("code", "name", "parent_code", "level")
COUNTER_COLUMNS = ("code", "unit_code", "name")
MAX_CODE = 64
MAX_NAME = 255


class CsvImportError(Invalid):
    """A CSV file that cannot be imported; the message names the line."""


def get_unit(*, session: Session, code: str) -> Unit:
    """The unit with this code, or 404."""
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFound(f"unknown unit {code!r}")
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
    session.flush()
    return unit


def move_unit(*, session: Session, unit: Unit, new_parent: Unit | None) -> None:
    """Re-parent `unit`; its whole subtree moves with it (figures follow the current tree)."""
    if new_parent is not None and new_parent.path.startswith(unit.path):
        raise Invalid(f"cannot move unit {unit.code!r} under its own subtree ({new_parent.code!r})")
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


def _read_csv(data: bytes | str, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a UTF-8 CSV (BOM allowed) with exactly the expected header, each with its line number."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CsvImportError(f"the file is not UTF-8 text (byte {exc.start})") from exc
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvImportError("the file is empty; expected a header line: " + ",".join(columns)) from None
    header = [h.strip().lower() for h in header]
    if header != list(columns):
        raise CsvImportError(f"line 1: expected the header {','.join(columns)!r}, found {','.join(header)!r}")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(columns):
                raise CsvImportError(f"line {line}: expected {len(columns)} columns, found {len(values)}")
            rows.append((line, {c: v.strip() for c, v in zip(columns, values, strict=True)}))
    except csv.Error as exc:
        raise CsvImportError(f"line {reader.line_num}: {exc}") from exc
    return rows


def _check_text(line: int, column: str, value: str, limit: int, *, required: bool = True) -> None:
    if required and not value:
        raise CsvImportError(f"line {line}: {column} is empty")
    if len(value) > limit:
        raise CsvImportError(f"line {line}: {column} is longer than {limit} characters")


def import_units(*, session: Session, data: bytes | str) -> ImportResult:
    """Create or update units from CSV `code,name,parent_code,level`; parents may come later in the file."""
    rows = _read_csv(data, UNIT_COLUMNS)
    by_code: dict[str, tuple[int, dict[str, str]]] = {}
    for line, row in rows:
        _check_text(line, "code", row["code"], MAX_CODE)
        _check_text(line, "name", row["name"], MAX_NAME)
        _check_text(line, "parent_code", row["parent_code"], MAX_CODE, required=False)
        _check_text(line, "level", row["level"], 64, required=False)
        if row["code"] in by_code:
            raise CsvImportError(
                f"line {line}: unit {row['code']!r} appears twice (first on line {by_code[row['code']][0]})"
            )
        if row["parent_code"] == row["code"]:
            raise CsvImportError(f"line {line}: unit {row['code']!r} cannot be its own parent")
        by_code[row["code"]] = (line, row)

    existing = {u.code: u for u in session.exec(select(Unit)).all()}
    for line, row in rows:
        parent = row["parent_code"]
        if parent and parent not in by_code and parent not in existing:
            raise CsvImportError(f"line {line}: parent_code {parent!r} is not a known unit nor a unit in this file")

    created = updated = 0
    done: set[str] = set()

    def ensure(code: str, chain: tuple[str, ...] = ()) -> Unit:
        nonlocal created, updated
        if code in done or code not in by_code:
            return existing[code]
        line, row = by_code[code]
        if code in chain:
            raise CsvImportError(f"line {line}: parent_code makes a cycle ({' → '.join((*chain, code))})")
        parent = ensure(row["parent_code"], (*chain, code)) if row["parent_code"] else None
        unit = existing.get(code)
        if unit is None:
            unit = create_unit(session=session, code=code, name=row["name"], parent=parent, level=row["level"])
            existing[code] = unit
            created += 1
        else:
            unit.name, unit.level = row["name"], row["level"]
            if unit.parent_id != (parent.id if parent else None):
                try:
                    move_unit(session=session, unit=unit, new_parent=parent)
                except Invalid as exc:
                    raise CsvImportError(f"line {line}: {exc.message}") from exc
            updated += 1
        done.add(code)
        return unit

    for _, row in rows:
        ensure(row["code"])
    session.flush()
    return ImportResult(created=created, updated=updated)


def import_counters(*, session: Session, data: bytes | str) -> ImportResult:
    """Create or update counters from CSV `code,unit_code,name`."""
    rows = _read_csv(data, COUNTER_COLUMNS)
    units = {u.code: u for u in session.exec(select(Unit)).all()}
    counters = {c.code: c for c in session.exec(select(Counter)).all()}
    seen: dict[str, int] = {}
    created = updated = 0
    for line, row in rows:
        _check_text(line, "code", row["code"], MAX_CODE)
        _check_text(line, "unit_code", row["unit_code"], MAX_CODE)
        _check_text(line, "name", row["name"], MAX_NAME)
        if row["code"] in seen:
            raise CsvImportError(
                f"line {line}: counter {row['code']!r} appears twice (first on line {seen[row['code']]})"
            )
        seen[row["code"]] = line
        unit = units.get(row["unit_code"])
        if unit is None:
            raise CsvImportError(f"line {line}: unit_code {row['unit_code']!r} is not a known unit")
        counter = counters.get(row["code"])
        if counter is None:
            session.add(Counter(code=row["code"], unit_id=unit.id, name=row["name"]))  # type: ignore[arg-type]
            created += 1
        else:
            counter.unit_id, counter.name = unit.id, row["name"]  # type: ignore[assignment]
            updated += 1
    session.flush()
    return ImportResult(created=created, updated=updated)


def ancestors(*, session: Session, unit: Unit) -> list[Unit]:
    """The chain from the root down to `unit` (inclusive)."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    found = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_(ids))).all()}
    return [found[i] for i in ids if i in found]


def children(*, session: Session, unit: Unit) -> Iterable[Unit]:
    """The direct children of `unit`, by code."""
    return session.exec(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.code)).all()

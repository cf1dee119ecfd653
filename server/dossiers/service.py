"""Dossiers into the central store, upserted by code (docs/API.md, "Dossiers"); services never commit.

A batch is checked item by item (a bad item never spoils the others: it answers `invalid` with why), then written
with a handful of statements whatever its size: one `INSERT … ON CONFLICT (code) DO NOTHING RETURNING code` for
new codes, one executemany UPDATE for changed ones. A code that another transaction created meanwhile is updated
instead. `completed_on` (the local date of `completed_at`, for completed or returned dossiers) and `overdue` are
derived here; the "disliked" flags are kept by triggers (migration 0013), and given to a new dossier here from the
ratings and petitions that named its code before it arrived.

The CSV import (`hailong dossiers import`) uses the same checks: a whole file is checked first (nothing is written
when a line is bad), then written in chunks of `CHUNK` rows, each in its own short transaction, so that kiosk
ingest and dashboards never wait long for it; the upsert is idempotent, so an interrupted import is completed by
running it again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from server.contracts import PRINTABLE
from server.db import upsert_insert, utcnow
from server.errors import PayloadTooLarge, describe_validation_errors
from server.messages import Message
from server.models import DOSSIER_DONE, Unit
from server.spreadsheet import CsvImportError, decode_text, sniff_delimiter
from server.tables import DOSSIER, FIELD, UNIT

#: Most dossiers in one request (docs/API.md).
MAX_BATCH = 1000
#: Rows written per transaction by the CSV import.
CHUNK = 1000
CSV_COLUMNS = ("code", "unit", "field", "procedure_code", "received_at", "due_at", "completed_at", "status")
REQUIRED_COLUMNS = ("code", "unit", "received_at", "due_at")

#: The columns the one-stop system owns (compared to tell `updated` from `unchanged`).
SENT = ("unit_id", "field_id", "procedure_code", "received_at", "due_at", "completed_at", "status")

Status = Literal["received", "processing", "completed", "returned", "cancelled"]


class DossierIn(BaseModel):
    """A dossier as the one-stop system sends it; only `code`, `unit`, `received_at` and `due_at` are required."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    # No control characters (issue 19, finding 7): codes are shown on pages, in files and by the CLI.
    code: str = Field(min_length=1, max_length=128, pattern=PRINTABLE, examples=["000.00.00.H12-261005-0001"])
    unit: str = Field(min_length=1, max_length=64, pattern=PRINTABLE, examples=["BMT"])
    field: str | None = Field(None, max_length=64, pattern=PRINTABLE, examples=["land"])
    procedure_code: str | None = Field(None, max_length=64, pattern=PRINTABLE, examples=["1.004227"])
    received_at: AwareDatetime
    due_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    status: Status | None = Field(
        None, description="default: `completed` when `completed_at` is given, otherwise `received`"
    )


class DossierBatch(BaseModel):
    """`POST /api/v1/dossiers`: up to 1,000 dossiers (items are checked one by one)."""

    dossiers: list[dict[str, Any]] = Field(description="dossiers as `DossierIn`; a bad one answers `invalid`")


class DossierResult(BaseModel):
    """The outcome of one item, in the order sent."""

    code: str | None = None
    status: Literal["created", "updated", "unchanged", "invalid"]
    detail: str | None = None


class DossierResults(BaseModel):
    """One result per item, in order."""

    results: list[DossierResult]


@dataclass(frozen=True)
class Row:
    """A checked dossier, ready to store."""

    code: str
    unit_id: int
    unit_path: str
    field_id: int | None
    procedure_code: str | None
    received_at: datetime
    due_at: datetime
    completed_at: datetime | None
    status: str

    def sent(self) -> tuple[Any, ...]:
        """The values the one-stop system owns."""
        return tuple(getattr(self, c) for c in SENT)

    def values(self, tz: tzinfo) -> dict[str, Any]:
        """The row's columns, with the derived `completed_on` and `overdue`."""
        done = self.status in DOSSIER_DONE and self.completed_at is not None
        return {
            **{c: getattr(self, c) for c in SENT},
            "completed_on": self.completed_at.astimezone(tz).date() if done and self.completed_at else None,
            "overdue": bool(done and self.completed_at and self.completed_at > self.due_at),
        }


class Reference:
    """Unit and field codes, looked up once per batch (or once per CSV file)."""

    def __init__(self, session: Session, *, unit_codes: Iterable[str] | None, field_codes: Iterable[str]) -> None:
        query = sa.select(UNIT.c.code, UNIT.c.id, UNIT.c.path)
        if unit_codes is not None:
            query = query.where(UNIT.c.code.in_(sorted(set(unit_codes))))
        self.units = {code: (uid, path) for code, uid, path in session.execute(query)}
        fields = sorted({c for c in field_codes if c})
        query = sa.select(FIELD.c.code, FIELD.c.id).where(FIELD.c.code.in_(fields))
        self.fields: dict[str, int] = {code: fid for code, fid in session.execute(query)} if fields else {}


def check_item(raw: Any, *, reference: Reference, scope: Unit | None) -> Row | DossierResult:
    """A checked row, or an `invalid` result saying why (unknown or out-of-scope unit, inconsistent dates, …)."""
    code = raw.get("code") if isinstance(raw, dict) else None
    code = code.strip() if isinstance(code, str) else None
    if isinstance(raw, dict) and any(isinstance(v, str) and "\x00" in v for v in raw.values()):
        # PostgreSQL cannot store NUL; the engine's guard would refuse the whole batch (server/hardening.py).
        return DossierResult(code=None, status="invalid", detail="text may not contain NUL (U+0000) characters")
    try:
        item = DossierIn.model_validate(raw)
    except ValidationError as exc:
        return DossierResult(code=code, status="invalid", detail=describe_validation_errors(exc.errors()))

    def bad(detail: str) -> DossierResult:
        return DossierResult(code=item.code, status="invalid", detail=detail)

    unit = reference.units.get(item.unit)
    if unit is None:
        return bad(f"unknown unit {item.unit!r}")
    if scope is not None and not unit[1].startswith(scope.path):
        return bad(f"unit {item.unit!r} is outside the key's subtree")
    field_id = None
    if item.field:
        field_id = reference.fields.get(item.field)
        if field_id is None:
            return bad(f"unknown field {item.field!r}")
    status = item.status or ("completed" if item.completed_at else "received")
    if item.due_at < item.received_at:
        return bad("due_at is before received_at")
    if item.completed_at is not None:
        if item.completed_at < item.received_at:
            return bad("completed_at is before received_at")
        if status in ("received", "processing"):
            return bad(f"completed_at is given but status is {status!r}")
    elif status in DOSSIER_DONE:
        return bad(f"status {status!r} needs completed_at")
    return Row(
        code=item.code,
        unit_id=unit[0],
        unit_path=unit[1],
        field_id=field_id,
        procedure_code=item.procedure_code or None,
        received_at=item.received_at,
        due_at=item.due_at,
        completed_at=item.completed_at,
        status=status,
    )


def _reference_for(session: Session, items: Sequence[Any]) -> Reference:
    def texts(key: str) -> list[str]:
        return [str(i[key]).strip() for i in items if isinstance(i, dict) and isinstance(i.get(key), str)]

    return Reference(session, unit_codes=texts("unit"), field_codes=texts("field"))


def upsert_dossiers(*, session: Session, items: Sequence[Any], scope: Unit | None, tz: tzinfo) -> list[DossierResult]:
    """Check and store a batch (at most `MAX_BATCH`); one result per item, in order. `scope`: the key's unit."""
    if len(items) > MAX_BATCH:
        raise PayloadTooLarge("{n} dossiers in one request; at most {most} are accepted", n=len(items), most=MAX_BATCH)
    reference = _reference_for(session, items)
    checked = [check_item(raw, reference=reference, scope=scope) for raw in items]
    rows = [c for c in checked if isinstance(c, Row)]
    outcomes = write_rows(session=session, rows=rows, scope=scope, tz=tz)
    results: list[DossierResult] = []
    position = iter(outcomes)
    for c in checked:
        results.append(next(position) if isinstance(c, Row) else c)
    return results


def write_rows(*, session: Session, rows: Sequence[Row], scope: Unit | None, tz: tzinfo) -> list[DossierResult]:
    """Store checked rows (a later row with the same code updates an earlier one); one result per row."""
    conn = session.connection()
    codes = sorted({r.code for r in rows})
    stored: dict[str, tuple[int, tuple[Any, ...], str]] = {}
    for chunk in _chunks(codes, 500):
        query = (
            sa.select(DOSSIER.c.code, DOSSIER.c.id, *(DOSSIER.c[c] for c in SENT), UNIT.c.path)
            .join(UNIT, UNIT.c.id == DOSSIER.c.unit_id)
            .where(_code_in(conn, chunk))
        )
        for code, dossier_id, *columns, path in conn.execute(query):
            stored[code] = (dossier_id, tuple(columns), path)

    results: list[DossierResult] = []
    latest: dict[str, Row] = {}  # the final state of each code to write
    new: set[str] = set()
    for row in rows:
        before = latest.get(row.code)
        if before is None and row.code in stored:
            _, sent, path = stored[row.code]
            if scope is not None and not path.startswith(scope.path):
                results.append(DossierResult(code=row.code, status="invalid", detail=_FOREIGN))
                continue
            previous: tuple[Any, ...] | None = sent
        else:
            previous = before.sent() if before is not None else None
        status: Literal["created", "updated", "unchanged"] = "created"
        if previous is None:
            new.add(row.code)
        else:
            status = "unchanged" if previous == row.sent() else "updated"
        if before is None or status != "unchanged":
            latest[row.code] = row
        results.append(DossierResult(code=row.code, status=status))

    now = utcnow()
    to_insert = [latest[c] for c in sorted(new)]
    created: list[str] = []
    if to_insert:
        params = [
            {
                "code": r.code,
                **r.values(tz),
                "rated_not_satisfied": False,
                "petitioned": False,
                "created_at": now,
                "updated_at": now,
            }
            for r in to_insert
        ]
        if conn.dialect.name == "postgresql":
            # One statement whatever the chunk's size: each column as one array (a VALUES list or executemany of
            # 1,000 rows spent more CPU building and parsing 14,000 placeholders than the database did inserting).
            arrays = {c: [p[c] for p in params] for c in _PG_COLUMNS}
            created = list(conn.execute(_PG_INSERT, arrays).scalars())
        else:
            statement = (
                upsert_insert(DOSSIER, conn.dialect.name)
                .on_conflict_do_nothing(index_elements=["code"])
                .returning(DOSSIER.c.code)
            )
            created = list(conn.execute(statement, params).scalars())
        _flag_new(conn, created)
    raced = new - set(created)  # created by another transaction since we looked: update them like the others
    if raced:
        query = (
            sa.select(DOSSIER.c.code, UNIT.c.path)
            .join(UNIT, UNIT.c.id == DOSSIER.c.unit_id)
            .where(DOSSIER.c.code.in_(sorted(raced)))
        )
        raced_units: dict[str, str] = {row[0]: row[1] for row in conn.execute(query)}
        if scope is not None:
            for code, path in raced_units.items():
                if not path.startswith(scope.path):
                    latest.pop(code, None)
                    results = [
                        DossierResult(code=code, status="invalid", detail=_FOREIGN) if r.code == code else r
                        for r in results
                    ]
    updates = [latest[c] for c in sorted(latest) if c not in created]
    updates = [r for r in updates if r.code not in stored or stored[r.code][1] != r.sent()]
    if updates:
        statement = (
            sa.update(DOSSIER)
            .where(DOSSIER.c.code == sa.bindparam("b_code"))
            .values({c: sa.bindparam(f"b_{c}") for c in (*SENT, "completed_on", "overdue", "updated_at")})
        )
        conn.execute(
            statement,
            [
                {"b_code": r.code, **{f"b_{k}": v for k, v in r.values(tz).items()}, "b_updated_at": now}
                for r in updates
            ],
        )
    return results


_FOREIGN = "the dossier belongs to a unit outside the key's subtree"

#: PostgreSQL: new dossiers from one array per column (`unnest`), skipping codes another transaction just created.
_PG_COLUMNS = {
    "code": "text",
    "unit_id": "int",
    "field_id": "int",
    "procedure_code": "text",
    "received_at": "timestamptz",
    "due_at": "timestamptz",
    "completed_at": "timestamptz",
    "status": "text",
    "completed_on": "date",
    "overdue": "bool",
    "rated_not_satisfied": "bool",
    "petitioned": "bool",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
_PG_INSERT = sa.text(
    f"INSERT INTO dossier ({', '.join(_PG_COLUMNS)})"
    f" SELECT * FROM unnest({', '.join(f'CAST(:{c} AS {t}[])' for c, t in _PG_COLUMNS.items())})"
    " ON CONFLICT (code) DO NOTHING RETURNING code"
)


def _code_in(conn: sa.Connection, codes: Sequence[str]) -> sa.ColumnElement[bool]:
    """`dossier.code` among `codes`: one array parameter on PostgreSQL (an IN list of 500 placeholders cost more CPU
    to build and parse than the lookup), an IN list on SQLite."""
    if conn.dialect.name == "postgresql":
        return DOSSIER.c.code == sa.any_(sa.bindparam("codes", list(codes), type_=postgresql.ARRAY(sa.String)))
    return DOSSIER.c.code.in_(codes)


#: The "disliked" flags of new dossiers from the ratings and petitions that named their codes before them.
_FLAGS = (
    "UPDATE dossier SET"
    " rated_not_satisfied = EXISTS (SELECT 1 FROM visit v JOIN rating r ON r.visit_id = v.id"
    "  WHERE v.dossier_code = dossier.code AND NOT r.satisfied AND NOT r.misuse),"
    " petitioned = EXISTS (SELECT 1 FROM petition p WHERE p.dossier_code = dossier.code)"
)
_FLAG_NEW = sa.text(_FLAGS + " WHERE code IN :codes").bindparams(sa.bindparam("codes", expanding=True))
_PG_FLAG_NEW = sa.text(_FLAGS + " WHERE code = ANY(CAST(:codes AS text[]))")


def _flag_new(conn: sa.Connection, codes: Sequence[str]) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_FLAG_NEW, {"codes": list(codes)})
        return
    for chunk in _chunks(list(codes), 500):
        conn.execute(_FLAG_NEW, {"codes": chunk})


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- CSV import -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    created: int
    updated: int
    unchanged: int


def read_csv(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """The file's rows as (line number, item) with empty cells as missing values; a bad header is one error.

    Read as the counters import reads (`server.spreadsheet`): UTF-8 with or without a BOM or UTF-16 (detected),
    separated by `,`, `;` (Excel with a Vietnamese locale) or tabs, as the header line shows.
    """
    text = decode_text(data)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text.split("\n", 1)[0]))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise CsvImportError("the file is empty; expected a header line {columns}", columns=",".join(CSV_COLUMNS))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        columns = ",".join(CSV_COLUMNS)
        if missing:
            reason = Message(
                "missing column {names}; the columns are {columns}", names=", ".join(missing), columns=columns
            )
        else:
            reason = Message(
                "unknown column {names}; the columns are {columns}", names=", ".join(unknown), columns=columns
            )
        raise CsvImportError("line {line}: {reason}", line=1, reason=reason)
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            if None in record:
                raise CsvImportError(
                    "line {line}: {reason}", line=reader.line_num, reason=Message("more cells than columns")
                )
            item = {k: v.strip() for k, v in record.items() if v is not None and v.strip()}
            rows.append((reader.line_num, item))
    except csv.Error as exc:
        raise CsvImportError("line {line}: {reason}", line=reader.line_num, reason=str(exc)) from exc
    return rows


def check_csv(*, session: Session, data: bytes) -> list[Row]:
    """Every row of the file checked (read-only); the first bad line is an error, with how many more there are."""
    lines = read_csv(data)
    items = [item for _, item in lines]
    reference = Reference(
        session, unit_codes=None, field_codes=[i["field"] for i in items if isinstance(i.get("field"), str)]
    )
    rows: list[Row] = []
    errors: list[Message] = []
    for line, item in lines:
        checked = check_item(item, reference=reference, scope=None)
        if isinstance(checked, Row):
            rows.append(checked)
        else:
            errors.append(Message("line {line}: {reason}", line=line, reason=checked.detail))
    if len(errors) > 1:
        raise CsvImportError(
            "{first} (and {more} more bad lines); nothing was imported", first=errors[0], more=len(errors) - 1
        )
    if errors:
        raise CsvImportError("{first}; nothing was imported", first=errors[0])
    return rows


def import_rows(
    *,
    session_factory: Callable[[], Any],
    rows: Sequence[Row],
    tz: tzinfo,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Write checked rows in chunks of `CHUNK`, each in its own transaction (`session_factory()` is a context
    manager that commits: `session_scope(engine)`); `progress(done)` after each."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    done = 0
    for chunk in _chunks(rows, CHUNK):
        with session_factory() as session:
            for result in write_rows(session=session, rows=chunk, scope=None, tz=tz):
                counts[result.status] += 1
        done += len(chunk)
        if progress is not None:
            progress(done)
    return ImportResult(**counts)

"""Rollups for the satisfaction indices, kept exact by database triggers.

Four pre-aggregated tables (see server/models.py, "rollups (indices)"):

- `rating_rollup`: ratings per day × unit × counter × field × officer × channel × level × satisfied × misuse;
- `rating_reason_rollup`: reasons of valid ratings per day × unit × counter × field × officer × channel × reason;
- `rating_month_rollup`: one row per month × unit × field with valid, satisfied and misuse counts and levels 1-5 as
  columns (national month reports read ~14 rows per unit instead of one per level and flag);
- `rating_reason_month_rollup`: reasons of valid ratings per month × unit × field × reason.

Triggers keep them exact on every write to `rating` and `rating_reason`, whatever code does it: inserts, updates of
any counted column (a misuse flag set after the reasons were stored moves those reasons out of the counts),
deletes, and on PostgreSQL truncation. SQLite gets row-level triggers with upserts; PostgreSQL gets statement-level
triggers with transition tables, which aggregate a whole batch (a kiosk sends up to 500 ratings in one INSERT) and
upsert each key once, in key order so that concurrent batches lock rows in the same order. Each trigger applies a
delta (+1 for new rows, -1 for old rows) with `INSERT ... ON CONFLICT DO UPDATE SET n = n + delta`, then removes
keys whose counts fell to zero.

`officer_id` 0 stands for "no officer" (key columns cannot be NULL). The SQL is frozen here on purpose: a
migration must not change meaning when application code does. The upgrade fills the rollups from existing ratings.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = "rating_rollup"
DAY_REASON = "rating_reason_rollup"
MONTH = "rating_month_rollup"
MONTH_REASON = "rating_reason_month_rollup"
LEVELS = (1, 2, 3, 4, 5)  # the month rollup's level columns

# How each key column is computed from a rating row called `{r}`.
_KEY_EXPRS = {
    "unit_id": "{r}.unit_id",
    "day": "{r}.local_date",
    "counter_id": "{r}.counter_id",
    "field_id": "{r}.field_id",
    "officer_id": "COALESCE({r}.officer_id, 0)",
    "channel": "{r}.channel",
    "level": "{r}.level",
    "satisfied": "{r}.satisfied",
    "misuse": "{r}.misuse",
}
MONTH_OF = {
    "postgresql": "CAST(date_trunc('month', CAST({r}.local_date AS timestamp)) AS date)",
    "sqlite": "substr({r}.local_date, 1, 8) || '01'",
}
# Key columns from the rating, whether the table counts reasons (then `reason_id` ends the key), and its counts:
# each value is an expression of the rating row `{r}` and the delta `{d}` (+1 or -1).
TABLES: dict[str, tuple[list[str], bool, dict[str, str]]] = {
    DAY: (
        ["unit_id", "day", "counter_id", "field_id", "officer_id", "channel", "level", "satisfied", "misuse"],
        False,
        {"n": "{d}"},
    ),
    DAY_REASON: (["unit_id", "day", "counter_id", "field_id", "officer_id", "channel"], True, {"n": "{d}"}),
    MONTH: (
        ["month", "unit_id", "field_id"],
        False,
        {
            "valid": "CASE WHEN {r}.misuse THEN 0 ELSE {d} END",
            "satisfied": "CASE WHEN {r}.satisfied AND NOT {r}.misuse THEN {d} ELSE 0 END",
            "misuse": "CASE WHEN {r}.misuse THEN {d} ELSE 0 END",
            **{
                f"level_{lv}": f"CASE WHEN {{r}}.level = {lv} AND NOT {{r}}.misuse THEN {{d}} ELSE 0 END"
                for lv in LEVELS
            },
        },
    ),
    MONTH_REASON: (["month", "unit_id", "field_id"], True, {"n": "{d}"}),
}
# A key disappears when these counts are all zero.
PRESENCE = {DAY: ["n"], DAY_REASON: ["n"], MONTH: ["valid", "misuse"], MONTH_REASON: ["n"]}


def _keys(table: str) -> list[str]:
    rating_keys, reasons, _ = TABLES[table]
    return [*rating_keys, "reason_id"] if reasons else rating_keys


def _key_exprs(dialect: str, table: str, r: str, reason: str | None = None) -> list[str]:
    """The key of `table` computed from the rating row `r` (and the reason row `reason`)."""
    exprs = {**_KEY_EXPRS, "month": MONTH_OF[dialect]}
    rating_keys, reasons, _ = TABLES[table]
    out = [exprs[k].format(r=r) for k in rating_keys]
    return [*out, f"{reason}.reason_id"] if reasons else out


def _value_exprs(table: str, r: str, d: str) -> list[str]:
    return [v.format(r=r, d=d) for v in TABLES[table][2].values()]


def _values(table: str) -> list[str]:
    return list(TABLES[table][2])


def _create_tables() -> None:
    types = {
        "month": sa.Date(),
        "day": sa.Date(),
        "channel": sqlmodel.sql.sqltypes.AutoString(length=16),
        "satisfied": sa.Boolean(),
        "misuse": sa.Boolean(),
    }
    for table in TABLES:
        keys = _keys(table)
        op.create_table(
            table,
            *[sa.Column(k, types.get(k, sa.Integer()), autoincrement=False, nullable=False) for k in keys],
            *[sa.Column(v, sa.Integer(), nullable=False) for v in _values(table)],
            # The primary key carries the counts on PostgreSQL: reports are index-only scans.
            sa.PrimaryKeyConstraint(*keys, name=op.f(f"pk_{table}"), postgresql_include=_values(table)),
            sqlite_with_rowid=False,
        )


def _fill(dialect: str) -> None:
    """Set-based fill from the ratings already stored."""
    for table, (_, reasons, _) in TABLES.items():
        keys = _key_exprs(dialect, table, "r", "x")
        values = [f"sum({v})" for v in _value_exprs(table, "r", "1")]
        source = "rating_reason x JOIN rating r ON r.id = x.rating_id WHERE NOT r.misuse" if reasons else "rating r"
        positions = ", ".join(str(i + 1) for i in range(len(keys)))
        op.execute(
            f"INSERT INTO {table} ({', '.join([*_keys(table), *_values(table)])}) "
            f"SELECT {', '.join([*keys, *values])} FROM {source} GROUP BY {positions}"
        )


# --- SQLite: row-level triggers ------------------------------------------------------------------------------------

COUNTED = ["local_date", "unit_id", "counter_id", "field_id", "officer_id", "channel", "level", "satisfied", "misuse"]


def _sqlite_add(table: str, r: str, d: int, reason: str | None = None, where: str | None = None) -> list[str]:
    """Upsert the delta `d` of the rating row `r` (and reason row `reason`) into `table`; drop zero keys after -1."""
    cols = ", ".join(_keys(table))
    exprs = [*_key_exprs("sqlite", table, r, reason), *_value_exprs(table, r, str(d))]
    source = f"SELECT {', '.join(exprs)} {where}" if where else f"VALUES ({', '.join(exprs)})"
    updates = ", ".join(f"{v} = {v} + excluded.{v}" for v in _values(table))
    out = [
        f"INSERT INTO {table} ({cols}, {', '.join(_values(table))}) {source} ON CONFLICT ({cols}) DO UPDATE SET {updates};"
    ]
    if d < 0:
        zero = " AND ".join(f"{v} = 0" for v in PRESENCE[table])
        key = _key_exprs("sqlite", table, r, reason)
        if where:  # the key comes from a query: match it as a row value
            out.append(f"DELETE FROM {table} WHERE {zero} AND ({cols}) IN (SELECT {', '.join(key)} {where});")
        else:
            match = " AND ".join(f"{k} = {e}" for k, e in zip(_keys(table), key, strict=True))
            out.append(f"DELETE FROM {table} WHERE {match} AND {zero};")
    return out


def _sqlite_rating_change(r: str, d: int) -> list[str]:
    """Add (+1) or remove (-1) the rating row `r` (NEW or OLD) and the reasons stored with it."""
    out = []
    for table, (_, reasons, _) in TABLES.items():
        if reasons:
            where = f"FROM rating_reason x WHERE x.rating_id = {r}.id AND NOT {r}.misuse"
            out += _sqlite_add(table, r, d, "x", where)
        else:
            out += _sqlite_add(table, r, d)
    return out


def _sqlite_reason_change(row: str, d: int) -> list[str]:
    """Add or remove one `rating_reason` row (NEW or OLD) of a valid rating."""
    out = []
    for table, (_, reasons, _) in TABLES.items():
        if reasons:
            out += _sqlite_add(table, "r", d, row, f"FROM rating r WHERE r.id = {row}.rating_id AND NOT r.misuse")
    return out


def _sqlite_trigger(name: str, event: str, table: str, statements: list[str], when: str | None = None) -> str:
    body = "\n  ".join(statements)
    return f"CREATE TRIGGER {name} AFTER {event} ON {table}{f' WHEN {when}' if when else ''}\nBEGIN\n  {body}\nEND"


SQLITE_TRIGGER_NAMES = [
    "trg_rating_rollup_insert",
    "trg_rating_rollup_update",
    "trg_rating_rollup_delete",
    "trg_rating_reason_rollup_insert",
    "trg_rating_reason_rollup_update",
    "trg_rating_reason_rollup_delete",
]


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ["id", *COUNTED])
    return [
        _sqlite_trigger("trg_rating_rollup_insert", "INSERT", "rating", _sqlite_rating_change("NEW", 1)),
        _sqlite_trigger(
            "trg_rating_rollup_update",
            f"UPDATE OF id, {', '.join(COUNTED)}",
            "rating",
            _sqlite_rating_change("OLD", -1) + _sqlite_rating_change("NEW", 1),
            when=changed,
        ),
        _sqlite_trigger("trg_rating_rollup_delete", "DELETE", "rating", _sqlite_rating_change("OLD", -1)),
        _sqlite_trigger("trg_rating_reason_rollup_insert", "INSERT", "rating_reason", _sqlite_reason_change("NEW", 1)),
        _sqlite_trigger(
            "trg_rating_reason_rollup_update",
            "UPDATE",
            "rating_reason",
            _sqlite_reason_change("OLD", -1) + _sqlite_reason_change("NEW", 1),
        ),
        _sqlite_trigger("trg_rating_reason_rollup_delete", "DELETE", "rating_reason", _sqlite_reason_change("OLD", -1)),
    ]


# --- PostgreSQL: statement-level triggers with transition tables ----------------------------------------------------

# A part of a delta: (FROM ... WHERE over a rating row aliased `r` and maybe a reason row aliased `x`, the delta).
Part = tuple[str, int]


def _pg_apply(table: str, parts: list[Part]) -> list[str]:
    """Upsert the summed deltas of `parts` into `table` in key order, then drop keys left at zero."""
    keys, values = _keys(table), _values(table)
    cols = ", ".join(keys)

    def select(source: str, d: int) -> str:
        exprs = _key_exprs("postgresql", table, "r", "x") + _value_exprs(table, "r", str(d))
        return f"SELECT {', '.join(f'{e} AS {c}' for e, c in zip(exprs, keys + values, strict=True))} {source}"

    union = "\n      UNION ALL ".join(select(source, d) for source, d in parts)
    sums = ", ".join(f"CAST(sum({v}) AS integer) AS {v}" for v in values)
    nonzero = " OR ".join(f"{v} <> 0" for v in values)
    updates = ", ".join(f"{v} = t.{v} + EXCLUDED.{v}" for v in values)
    out = [
        f"""INSERT INTO {table} AS t ({cols}, {", ".join(values)})
    SELECT * FROM (
      SELECT {cols}, {sums} FROM (
        {union}
      ) AS c GROUP BY {cols}
    ) AS g WHERE {nonzero} ORDER BY {cols}
    ON CONFLICT ({cols}) DO UPDATE SET {updates};"""
    ]
    removed = [select(source, d) for source, d in parts if d < 0]
    if removed:
        match = " AND ".join(f"t.{k} = c.{k}" for k in keys)
        zero = " AND ".join(f"t.{v} = 0" for v in PRESENCE[table])
        out.append(
            f"""IF touched > 0 THEN
      DELETE FROM {table} AS t USING ({" UNION ".join(removed)}) AS c WHERE {match} AND {zero};
    END IF;"""
        )
    return out


def _pg_function(name: str, tables: dict[str, list[Part]], guard: str | None = None) -> str:
    body = []
    for table, parts in tables.items():
        for statement in _pg_apply(table, parts):
            body.append(statement)
            if statement.startswith("INSERT"):
                body.append("GET DIAGNOSTICS touched = ROW_COUNT;")
    guard_sql = f"IF NOT ({guard}) THEN RETURN NULL; END IF;\n    " if guard else ""
    joined = "\n    ".join(body)
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint;
BEGIN
    {guard_sql}{joined}
    RETURN NULL;
END
$$"""


def _pg_functions() -> dict[str, str]:
    new_ratings: Part = ("FROM new_rows AS r", 1)
    old_ratings: Part = ("FROM old_rows AS r", -1)
    reasons_of_new: Part = ("FROM new_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse", 1)
    reasons_of_old: Part = ("FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse", -1)
    new_reasons: Part = ("FROM new_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse", 1)
    old_reasons: Part = ("FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse", -1)
    old, new = ", ".join(f"o.{c}" for c in COUNTED), ", ".join(f"n.{c}" for c in COUNTED)
    # An UPDATE that changes no counted column (a comment, a visit link) costs one hash join and nothing else.
    changed = (
        "EXISTS (SELECT 1 FROM old_rows AS o FULL JOIN new_rows AS n ON n.id = o.id "
        f"WHERE o.id IS NULL OR n.id IS NULL OR ({old}) IS DISTINCT FROM ({new}))"
    )
    functions = {
        "hl_rollup_rating_insert": ({DAY: [new_ratings], MONTH: [new_ratings]}, None),
        "hl_rollup_rating_update": (
            {
                DAY: [new_ratings, old_ratings],
                MONTH: [new_ratings, old_ratings],
                DAY_REASON: [reasons_of_new, reasons_of_old],
                MONTH_REASON: [reasons_of_new, reasons_of_old],
            },
            changed,
        ),
        # Reasons normally go first (foreign key); any still present leave the counts with their rating.
        "hl_rollup_rating_delete": (
            {DAY: [old_ratings], MONTH: [old_ratings], DAY_REASON: [reasons_of_old], MONTH_REASON: [reasons_of_old]},
            None,
        ),
        "hl_rollup_reason_insert": ({DAY_REASON: [new_reasons], MONTH_REASON: [new_reasons]}, None),
        "hl_rollup_reason_update": (
            {DAY_REASON: [new_reasons, old_reasons], MONTH_REASON: [new_reasons, old_reasons]},
            None,
        ),
        "hl_rollup_reason_delete": ({DAY_REASON: [old_reasons], MONTH_REASON: [old_reasons]}, None),
    }
    out = {name: _pg_function(name, tables, guard) for name, (tables, guard) in functions.items()}
    for name, tables in (
        ("hl_rollup_rating_truncate", list(TABLES)),
        ("hl_rollup_reason_truncate", [DAY_REASON, MONTH_REASON]),
    ):
        deletes = " ".join(f"DELETE FROM {t};" for t in tables)
        out[name] = f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {deletes}
    RETURN NULL;
END
$$"""
    return out


# (trigger, table, event, transition tables, function)
PG_TRIGGERS = [
    ("trg_rating_rollup_insert", "rating", "INSERT", "NEW TABLE AS new_rows", "hl_rollup_rating_insert"),
    (
        "trg_rating_rollup_update",
        "rating",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "hl_rollup_rating_update",
    ),
    ("trg_rating_rollup_delete", "rating", "DELETE", "OLD TABLE AS old_rows", "hl_rollup_rating_delete"),
    ("trg_rating_rollup_truncate", "rating", "TRUNCATE", None, "hl_rollup_rating_truncate"),
    ("trg_rating_reason_rollup_insert", "rating_reason", "INSERT", "NEW TABLE AS new_rows", "hl_rollup_reason_insert"),
    (
        "trg_rating_reason_rollup_update",
        "rating_reason",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "hl_rollup_reason_update",
    ),
    ("trg_rating_reason_rollup_delete", "rating_reason", "DELETE", "OLD TABLE AS old_rows", "hl_rollup_reason_delete"),
    ("trg_rating_reason_rollup_truncate", "rating_reason", "TRUNCATE", None, "hl_rollup_reason_truncate"),
]


def _pg_triggers() -> list[str]:
    out = list(_pg_functions().values())
    for name, table, event, referencing, function in PG_TRIGGERS:
        ref = f" REFERENCING {referencing}" if referencing else ""
        out.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table}{ref} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    return out


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_tables()
    _fill(dialect)
    for statement in _pg_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, *_ in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in _pg_functions():
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in TABLES:
        op.drop_table(table)

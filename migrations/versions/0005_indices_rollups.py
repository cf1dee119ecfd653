"""Rollups for the satisfaction indices, kept exact by database triggers.

Four pre-aggregated tables (see server/models.py, "rollups (indices)"):

- `rating_rollup`: ratings per day × unit × counter × field × officer × channel × level × satisfied × misuse;
- `rating_reason_rollup`: reasons of valid ratings per day × unit × counter × field × officer × channel × reason;
- `rating_month_rollup` and `rating_reason_month_rollup`: the same per month × unit × field (national month reports).

Triggers keep them exact on every write to `rating` and `rating_reason`, whatever code does it: inserts, updates of
any counted column (a misuse flag set after the reasons were stored moves those reasons out of the counts),
deletes, and on PostgreSQL truncation. SQLite gets row-level triggers with upserts; PostgreSQL gets statement-level
triggers with transition tables, which aggregate a whole batch (a kiosk sends up to 500 ratings in one INSERT) and
upsert each key once, in key order so that concurrent batches lock rows in the same order. Each trigger applies a
delta (+1 for new rows, -1 for old rows) with `INSERT ... ON CONFLICT DO UPDATE SET n = n + delta`, then removes
keys whose count fell to zero.

`officer_id` 0 stands for "no officer" (key columns cannot be NULL). The SQL is frozen here on purpose: a
migration must not change meaning when application code does. The upgrade fills the rollups from existing ratings.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Key columns of each rollup, and how each is computed from a rating row aliased `{r}`.
DAY = "rating_rollup"
DAY_REASON = "rating_reason_rollup"
MONTH = "rating_month_rollup"
MONTH_REASON = "rating_reason_month_rollup"

_COMMON = {
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
RATING_KEYS = {
    DAY: ["unit_id", "day", "counter_id", "field_id", "officer_id", "channel", "level", "satisfied", "misuse"],
    MONTH: ["month", "unit_id", "field_id", "level", "satisfied", "misuse"],
}
# Reason rollups: the rating's part of the key, then `reason_id`.
REASON_KEYS = {
    DAY_REASON: ["unit_id", "day", "counter_id", "field_id", "officer_id", "channel"],
    MONTH_REASON: ["month", "unit_id", "field_id"],
}
ALL_KEYS = {**RATING_KEYS, **{t: [*k, "reason_id"] for t, k in REASON_KEYS.items()}}


def _exprs(dialect: str, keys: list[str], alias: str) -> list[str]:
    """The SQL expressions of `keys` computed from a rating row called `alias`."""
    table = {**_COMMON, "month": MONTH_OF[dialect]}
    return [table[k].format(r=alias) for k in keys]


def _create_tables() -> None:
    def key(name: str, type_: sa.types.TypeEngine) -> sa.Column:  # type: ignore[type-arg]
        return sa.Column(name, type_, autoincrement=False, nullable=False)

    def columns(keys: list[str]) -> list[sa.Column]:  # type: ignore[type-arg]
        types = {
            "month": sa.Date(),
            "day": sa.Date(),
            "channel": sqlmodel.sql.sqltypes.AutoString(length=16),
            "satisfied": sa.Boolean(),
            "misuse": sa.Boolean(),
        }
        return [key(k, types.get(k, sa.Integer())) for k in keys]

    for table, keys in ALL_KEYS.items():
        op.create_table(
            table,
            *columns(keys),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint(*keys, name=op.f(f"pk_{table}")),
            sqlite_with_rowid=False,
        )


def _fill(dialect: str) -> None:
    """Set-based fill from the ratings already stored."""
    for table, keys in RATING_KEYS.items():
        exprs = _exprs(dialect, keys, "r")
        positions = ", ".join(str(i + 1) for i in range(len(keys)))
        op.execute(
            f"INSERT INTO {table} ({', '.join(keys)}, n) "
            f"SELECT {', '.join(exprs)}, count(*) FROM rating r GROUP BY {positions}"
        )
    for table, keys in REASON_KEYS.items():
        exprs = [*_exprs(dialect, keys, "r"), "x.reason_id"]
        positions = ", ".join(str(i + 1) for i in range(len(exprs)))
        op.execute(
            f"INSERT INTO {table} ({', '.join([*keys, 'reason_id'])}, n) "
            f"SELECT {', '.join(exprs)}, count(*) FROM rating_reason x JOIN rating r ON r.id = x.rating_id "
            f"WHERE NOT r.misuse GROUP BY {positions}"
        )


# --- SQLite: row-level triggers ------------------------------------------------------------------------------------

SQLITE_COUNTED = ["local_date", "unit_id", "counter_id", "field_id", "officer_id", "channel", "level", "satisfied"]
SQLITE_COUNTED.append("misuse")


def _sqlite_add(table: str, exprs: list[str], delta: str, where: str | None = None) -> str:
    """Upsert `delta` into `table` at the key `exprs` (a SELECT with `where`, or plain VALUES)."""
    cols = ", ".join(ALL_KEYS[table])
    source = f"SELECT {', '.join(exprs)}, {delta} {where}" if where else f"VALUES ({', '.join(exprs)}, {delta})"
    return f"INSERT INTO {table} ({cols}, n) {source} ON CONFLICT ({cols}) DO UPDATE SET n = n + excluded.n;"


def _sqlite_drop_zero(table: str, exprs: list[str]) -> str:
    """Remove the key `exprs` of `table` if its count fell to zero."""
    conditions = " AND ".join(f"{k} = {e}" for k, e in zip(ALL_KEYS[table], exprs, strict=True))
    return f"DELETE FROM {table} WHERE {conditions} AND n = 0;"


def _sqlite_rating_change(row: str, delta: int) -> list[str]:
    """Statements adding (+1) or removing (-1) the rating `row` (NEW or OLD) and its reasons."""
    out = []
    for table, keys in RATING_KEYS.items():
        exprs = _exprs("sqlite", keys, row)
        out.append(_sqlite_add(table, exprs, str(delta)))
        if delta < 0:
            out.append(_sqlite_drop_zero(table, exprs))
    for table, keys in REASON_KEYS.items():
        exprs = [*_exprs("sqlite", keys, row), "x.reason_id"]
        where = f"FROM rating_reason x WHERE x.rating_id = {row}.id AND NOT {row}.misuse"
        out.append(_sqlite_add(table, exprs, str(delta), where))
        if delta < 0:
            conditions = " AND ".join(f"{k} = {e}" for k, e in zip(keys, exprs, strict=False))
            out.append(f"DELETE FROM {table} WHERE {conditions} AND n = 0;")
    return out


def _sqlite_reason_change(row: str, delta: int) -> list[str]:
    """Statements adding or removing one `rating_reason` row (NEW or OLD) for a valid rating."""
    out = []
    for table, keys in REASON_KEYS.items():
        exprs = [*_exprs("sqlite", keys, "r"), f"{row}.reason_id"]
        where = f"FROM rating r WHERE r.id = {row}.rating_id AND NOT r.misuse"
        out.append(_sqlite_add(table, exprs, str(delta), where))
        if delta < 0:
            cols = ", ".join(ALL_KEYS[table])
            out.append(f"DELETE FROM {table} WHERE n = 0 AND ({cols}) IN (SELECT {', '.join(exprs)} {where});")
    return out


def _sqlite_trigger(name: str, event: str, table: str, statements: list[str], when: str | None = None) -> str:
    body = "\n  ".join(statements)
    return f"CREATE TRIGGER {name} AFTER {event} ON {table}{f' WHEN {when}' if when else ''}\nBEGIN\n  {body}\nEND"


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ["id", *SQLITE_COUNTED])
    return [
        _sqlite_trigger("trg_rating_rollup_insert", "INSERT", "rating", _sqlite_rating_change("NEW", 1)),
        _sqlite_trigger(
            "trg_rating_rollup_update",
            f"UPDATE OF id, {', '.join(SQLITE_COUNTED)}",
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


SQLITE_TRIGGER_NAMES = [
    "trg_rating_rollup_insert",
    "trg_rating_rollup_update",
    "trg_rating_rollup_delete",
    "trg_rating_reason_rollup_insert",
    "trg_rating_reason_rollup_update",
    "trg_rating_reason_rollup_delete",
]


# --- PostgreSQL: statement-level triggers with transition tables ----------------------------------------------------


def _pg_apply(table: str, parts: list[tuple[str, int, str]]) -> list[str]:
    """Upsert the summed deltas of `parts` into `table`, then drop keys left at zero.

    Each part is (FROM/WHERE clause over a rating row aliased `r`, delta, alias for reasons or "").
    """
    keys = ALL_KEYS[table]
    cols = ", ".join(keys)
    rating_keys = RATING_KEYS.get(table) or REASON_KEYS[table]
    selects = []
    for source, delta, reason in parts:
        exprs = _exprs("postgresql", rating_keys, "r") + ([f"{reason}.reason_id"] if reason else [])
        selects.append(
            f"SELECT {', '.join(f'{e} AS {k}' for e, k in zip(exprs, keys, strict=True))}, {delta} AS d {source}"
        )
    union = "\n      UNION ALL ".join(selects)
    out = [
        f"""INSERT INTO {table} AS t ({cols}, n)
    SELECT {cols}, CAST(sum(d) AS integer) FROM (
      {union}
    ) AS c
    GROUP BY {cols} HAVING sum(d) <> 0 ORDER BY {cols}
    ON CONFLICT ({cols}) DO UPDATE SET n = t.n + EXCLUDED.n;"""
    ]
    negatives = [s for s, p in zip(selects, parts, strict=True) if p[1] < 0]
    if negatives:
        conditions = " AND ".join(f"t.{k} = c.{k}" for k in keys)
        out.append(
            f"""IF touched > 0 THEN
      DELETE FROM {table} AS t USING ({" UNION ".join(negatives)}) AS c WHERE {conditions} AND t.n = 0;
    END IF;"""
        )
    return out


def _pg_function(name: str, statements: list[str], guard: str | None = None) -> str:
    body = []
    for s in statements:
        body.append(s)
        if s.startswith("INSERT"):
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


def _pg_rating(table_parts: dict[str, list[tuple[str, int, str]]]) -> list[str]:
    return [s for table, parts in table_parts.items() for s in _pg_apply(table, parts)]


def _pg_functions() -> dict[str, str]:
    new_ratings = ("FROM new_rows AS r", 1, "")
    old_ratings = ("FROM old_rows AS r", -1, "")
    new_reasons_of_new = ("FROM new_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse", 1, "x")
    old_reasons_of_old = (
        "FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse",
        -1,
        "x",
    )
    reasons_new = ("FROM new_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse", 1, "x")
    reasons_old = ("FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse", -1, "x")
    counted = ", ".join(f"o.{c}" for c in SQLITE_COUNTED)
    counted_new = ", ".join(f"n.{c}" for c in SQLITE_COUNTED)
    # An UPDATE that changes no counted column (a comment, a visit link) costs one hash join and nothing else.
    changed = (
        "EXISTS (SELECT 1 FROM old_rows AS o FULL JOIN new_rows AS n ON n.id = o.id "
        f"WHERE o.id IS NULL OR n.id IS NULL OR ({counted}) IS DISTINCT FROM ({counted_new}))"
    )
    return {
        "hl_rollup_rating_insert": _pg_function(
            "hl_rollup_rating_insert", _pg_rating({DAY: [new_ratings], MONTH: [new_ratings]})
        ),
        "hl_rollup_rating_update": _pg_function(
            "hl_rollup_rating_update",
            _pg_rating(
                {
                    DAY: [new_ratings, old_ratings],
                    MONTH: [new_ratings, old_ratings],
                    DAY_REASON: [new_reasons_of_new, old_reasons_of_old],
                    MONTH_REASON: [new_reasons_of_new, old_reasons_of_old],
                }
            ),
            guard=changed,
        ),
        "hl_rollup_rating_delete": _pg_function(
            "hl_rollup_rating_delete",
            _pg_rating(
                {
                    DAY: [old_ratings],
                    MONTH: [old_ratings],
                    # Reasons normally go first (foreign key); any still present leave the counts with the rating.
                    DAY_REASON: [old_reasons_of_old],
                    MONTH_REASON: [old_reasons_of_old],
                }
            ),
        ),
        "hl_rollup_reason_insert": _pg_function(
            "hl_rollup_reason_insert", _pg_rating({DAY_REASON: [reasons_new], MONTH_REASON: [reasons_new]})
        ),
        "hl_rollup_reason_update": _pg_function(
            "hl_rollup_reason_update",
            _pg_rating({DAY_REASON: [reasons_new, reasons_old], MONTH_REASON: [reasons_new, reasons_old]}),
        ),
        "hl_rollup_reason_delete": _pg_function(
            "hl_rollup_reason_delete", _pg_rating({DAY_REASON: [reasons_old], MONTH_REASON: [reasons_old]})
        ),
        "hl_rollup_rating_truncate": f"""CREATE FUNCTION hl_rollup_rating_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {DAY}; DELETE FROM {MONTH}; DELETE FROM {DAY_REASON}; DELETE FROM {MONTH_REASON};
    RETURN NULL;
END
$$""",
        "hl_rollup_reason_truncate": f"""CREATE FUNCTION hl_rollup_reason_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {DAY_REASON}; DELETE FROM {MONTH_REASON};
    RETURN NULL;
END
$$""",
    }


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
    for table in ALL_KEYS:
        op.drop_table(table)

"""Subtree month rollups: every month × unit × field with the counts of the unit's whole subtree, kept by triggers.

Two tables (see server/models.py, "rollups (indices)"):

- `rating_subtree_month_rollup`: the columns of `rating_month_rollup` (valid, satisfied, misuse, levels 1-5), but
  each row counts the ratings of its unit AND of every unit below it, so a unit's figures are one row per field
  and the national matrix (every unit × field with subtree totals) reads stored rows instead of folding leaf rows
  into their ancestors at read time;
- `rating_reason_subtree_month_rollup`: reasons of valid ratings per month × unit (with its subtree) × field ×
  reason.

Triggers keep them exact on every write, beside the triggers of migration 0005 (which this migration leaves
alone):

- on `rating` and `rating_reason`: each changed leaf key (month × unit × field [× reason]) adds its delta to the
  unit and to each of its ancestors, read from the unit's materialised path (`/1/7/42/`). SQLite (one writer at a
  time): row-level triggers that apply each change at once, the ancestors from `json_each` over the path (triggers
  cannot use CTEs). PostgreSQL: statement-level triggers with transition tables group each statement's rows per
  leaf key into `rating_subtree_pending`; a deferred constraint trigger applies a transaction's deltas when it
  commits, in one pass in key order (see "PostgreSQL" below for why). Keys whose counts fall to zero go.
- on `unit`, when a path changes (a unit moves with its subtree; `server.units.service.move_unit`, the admin CSV
  import, or any UPDATE): every moved unit's leaf rows (`rating_month_rollup`, `rating_reason_month_rollup`) leave
  the ancestors of its old path and join those of its new one; ancestors common to both do not change. On
  PostgreSQL the move first takes `rating` and `rating_reason` in SHARE ROW EXCLUSIVE mode: writers that started
  before it finish first (the move then sees their counts), later ones wait for it (they then see the new paths),
  and two moves run one after the other. A new unit's first placement (old path '/', the default) skips the lock:
  nobody else can have rated a unit that is not committed yet.

The SQL is frozen here on purpose (a migration must not change meaning when application code does). The upgrade
fills both tables from the leaf month rollups; `rating_subtree_pending` and `rating_subtree_flush` exist on both
databases (one schema) but only PostgreSQL's triggers use them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBTREE = "rating_subtree_month_rollup"
SUBTREE_REASON = "rating_reason_subtree_month_rollup"
# The leaf rollups of migration 0005 each subtree table sums, and the counts they share.
LEAF = {SUBTREE: "rating_month_rollup", SUBTREE_REASON: "rating_reason_month_rollup"}
LEVELS = (1, 2, 3, 4, 5)
KEYS = {SUBTREE: ["month", "unit_id", "field_id"], SUBTREE_REASON: ["month", "unit_id", "field_id", "reason_id"]}
# Each count as an expression of a rating row `{r}` and the delta `{d}` (+1 or -1).
VALUES: dict[str, dict[str, str]] = {
    SUBTREE: {
        "valid": "CASE WHEN {r}.misuse THEN 0 ELSE {d} END",
        "satisfied": "CASE WHEN {r}.satisfied AND NOT {r}.misuse THEN {d} ELSE 0 END",
        "misuse": "CASE WHEN {r}.misuse THEN {d} ELSE 0 END",
        **{f"level_{lv}": f"CASE WHEN {{r}}.level = {lv} AND NOT {{r}}.misuse THEN {{d}} ELSE 0 END" for lv in LEVELS},
    },
    SUBTREE_REASON: {"n": "{d}"},
}
# A key disappears when these counts are all zero.
PRESENCE = {SUBTREE: ["valid", "misuse"], SUBTREE_REASON: ["n"]}
# PostgreSQL only: a transaction's leaf deltas until it commits, and the note that it has some.
PENDING = "rating_subtree_pending"
FLUSH = "rating_subtree_flush"
NO_REASON = 0  # reason_id of a pending row that carries counts (reason ids start at 1)
PENDING_VALUES = [*VALUES[SUBTREE], "n"]
MONTH_OF = {
    "postgresql": "CAST(date_trunc('month', CAST({r}.local_date AS timestamp)) AS date)",
    "sqlite": "substr({r}.local_date, 1, 8) || '01'",
}
# Rating columns whose change moves counts between subtree keys.
COUNTED = ["local_date", "unit_id", "field_id", "level", "satisfied", "misuse"]


def ancestors(dialect: str, path: str, alias: str = "a") -> tuple[str, str]:
    """A FROM item listing the unit ids of a materialised path (the unit itself included), and its id column."""
    if dialect == "postgresql":
        return f"unnest(string_to_array(btrim({path}, '/'), '/')) AS {alias}(id)", f"CAST({alias}.id AS integer)"
    # '/1/7/42/' → '[1,7,42]'; the root's '/' of a unit never placed → '[]'.
    return (
        f"json_each('[' || replace(trim({path}, '/'), '/', ',') || ']') AS {alias}",
        f"CAST({alias}.value AS integer)",
    )


def _values(table: str) -> list[str]:
    return list(VALUES[table])


def _create_tables() -> None:
    for table in (SUBTREE, SUBTREE_REASON):
        op.create_table(
            table,
            *[
                sa.Column(k, sa.Date() if k == "month" else sa.Integer(), autoincrement=False, nullable=False)
                for k in KEYS[table]
            ],
            *[sa.Column(v, sa.Integer(), nullable=False) for v in _values(table)],
            # No INCLUDE: updating a count then changes no indexed column, so PostgreSQL can update the row in
            # place (HOT), which matters for the rows near the root that every batch touches.
            sa.PrimaryKeyConstraint(*KEYS[table], name=op.f(f"pk_{table}")),
            sqlite_with_rowid=False,
        )
    # PostgreSQL's deltas waiting for their transaction's commit (see below); rows never outlive a transaction.
    # Created on SQLite too, where the row-level triggers apply every change at once and leave them empty.
    op.create_table(
        PENDING,
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        *[sa.Column(k, sa.Date() if k == "month" else sa.Integer(), nullable=False) for k in KEYS[SUBTREE_REASON]],
        *[sa.Column(v, sa.Integer(), server_default="0", nullable=False) for v in PENDING_VALUES],
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{PENDING}")),
    )
    op.create_table(
        FLUSH,
        sa.Column("txid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("txid", name=op.f(f"pk_{FLUSH}")),
    )


def _fill(dialect: str) -> None:
    """Every leaf row added to its unit and each ancestor: one INSERT ... SELECT per table."""
    tree, ancestor = ancestors(dialect, "u.path")
    for table in (SUBTREE, SUBTREE_REASON):
        keys, values = KEYS[table], _values(table)
        leaf_keys = [ancestor if k == "unit_id" else f"m.{k}" for k in keys]
        positions = ", ".join(str(i + 1) for i in range(len(keys)))
        op.execute(
            f"INSERT INTO {table} ({', '.join(keys + values)}) "
            f"SELECT {', '.join(leaf_keys + [f'sum(m.{v})' for v in values])} "
            f"FROM {LEAF[table]} AS m JOIN unit AS u ON u.id = m.unit_id, {tree} "
            # In key order: a month's rows then lie together, as they do when triggers add them month by month.
            f"GROUP BY {positions} ORDER BY {positions}"
        )


# --- SQLite: row-level triggers ------------------------------------------------------------------------------------


def _sqlite_upsert(table: str, select: str) -> str:
    cols = ", ".join(KEYS[table] + _values(table))
    updates = ", ".join(f"{v} = {v} + excluded.{v}" for v in _values(table))
    return f"INSERT INTO {table} ({cols}) {select} ON CONFLICT ({', '.join(KEYS[table])}) DO UPDATE SET {updates};"


def _sqlite_drop_zeros(table: str, keys_select: str) -> str:
    zero = " AND ".join(f"{v} = 0" for v in PRESENCE[table])
    return f"DELETE FROM {table} WHERE {zero} AND ({', '.join(KEYS[table])}) IN ({keys_select});"


def _sqlite_rating(r: str, d: int) -> list[str]:
    """Add (+1) or remove (-1) the rating row `r` (NEW or OLD) in its unit's and every ancestor's counts."""
    tree, ancestor = ancestors("sqlite", "u.path")
    month = MONTH_OF["sqlite"].format(r=r)
    source = f"FROM unit AS u, {tree} WHERE u.id = {r}.unit_id"
    values = [v.format(r=r, d=d) for v in VALUES[SUBTREE].values()]
    out = [_sqlite_upsert(SUBTREE, f"SELECT {month}, {ancestor}, {r}.field_id, {', '.join(values)} {source}")]
    if d < 0:
        out.append(_sqlite_drop_zeros(SUBTREE, f"SELECT {month}, {ancestor}, {r}.field_id {source}"))
    return out


def _sqlite_reasons(r: str, x: str, d: int, where: str) -> list[str]:
    """Add or remove reasons (rows `x`) of the valid rating `r`; `where` joins them and names the other table."""
    _, ancestor = ancestors("sqlite", "u.path")
    month = MONTH_OF["sqlite"].format(r=r)
    source = f"{where} AND NOT {r}.misuse AND u.id = {r}.unit_id"
    keys = f"{month}, {ancestor}, {r}.field_id, {x}.reason_id"
    out = [_sqlite_upsert(SUBTREE_REASON, f"SELECT {keys}, {d} {source}")]
    if d < 0:
        out.append(_sqlite_drop_zeros(SUBTREE_REASON, f"SELECT {keys} {source}"))
    return out


def _sqlite_reasons_of_rating(r: str, d: int) -> list[str]:
    tree, _ = ancestors("sqlite", "u.path")
    return _sqlite_reasons(r, "x", d, f"FROM rating_reason AS x, unit AS u, {tree} WHERE x.rating_id = {r}.id")


def _sqlite_reason_row(x: str, d: int) -> list[str]:
    tree, _ = ancestors("sqlite", "u.path")
    return _sqlite_reasons("r", x, d, f"FROM rating AS r, unit AS u, {tree} WHERE r.id = {x}.rating_id")


def _sqlite_move() -> list[str]:
    """Move the unit's own leaf rows from the ancestors of OLD.path to those of NEW.path (common ones net zero)."""
    out = []
    for table in (SUBTREE, SUBTREE_REASON):
        tree, ancestor = ancestors("sqlite", "p.path")
        keys, values = KEYS[table], _values(table)
        select_keys = [ancestor if k == "unit_id" else f"m.{k}" for k in keys]
        sums = [f"sum(p.d * m.{v})" for v in values]
        nonzero = " OR ".join(f"sum(p.d * m.{v}) <> 0" for v in values)
        paths = "(SELECT NEW.path AS path, 1 AS d UNION ALL SELECT OLD.path, -1) AS p"
        positions = ", ".join(str(i + 1) for i in range(len(keys)))
        out.append(
            _sqlite_upsert(
                table,
                f"SELECT {', '.join(select_keys + sums)} FROM {paths}, {tree}, {LEAF[table]} AS m "
                f"WHERE m.unit_id = NEW.id GROUP BY {positions} HAVING {nonzero}",
            )
        )
        old_tree, old_ancestor = ancestors("sqlite", "OLD.path")
        zero = " AND ".join(f"{v} = 0" for v in PRESENCE[table])
        out.append(f"DELETE FROM {table} WHERE {zero} AND unit_id IN (SELECT {old_ancestor} FROM {old_tree});")
    return out


def _sqlite_trigger(name: str, event: str, table: str, statements: list[str], when: str | None = None) -> str:
    body = "\n  ".join(statements)
    return f"CREATE TRIGGER {name} AFTER {event} ON {table}{f' WHEN {when}' if when else ''}\nBEGIN\n  {body}\nEND"


SQLITE_TRIGGER_NAMES = [
    "trg_rating_subtree_insert",
    "trg_rating_subtree_update",
    "trg_rating_subtree_delete",
    "trg_rating_reason_subtree_insert",
    "trg_rating_reason_subtree_update",
    "trg_rating_reason_subtree_delete",
    "trg_unit_subtree_move",
]


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ["id", *COUNTED])
    return [
        _sqlite_trigger("trg_rating_subtree_insert", "INSERT", "rating", _sqlite_rating("NEW", 1)),
        _sqlite_trigger(
            "trg_rating_subtree_update",
            f"UPDATE OF id, {', '.join(COUNTED)}",
            "rating",
            _sqlite_rating("OLD", -1)
            + _sqlite_rating("NEW", 1)
            + _sqlite_reasons_of_rating("OLD", -1)
            + _sqlite_reasons_of_rating("NEW", 1),
            when=changed,
        ),
        _sqlite_trigger(
            "trg_rating_subtree_delete",
            "DELETE",
            "rating",
            _sqlite_rating("OLD", -1) + _sqlite_reasons_of_rating("OLD", -1),
        ),
        _sqlite_trigger("trg_rating_reason_subtree_insert", "INSERT", "rating_reason", _sqlite_reason_row("NEW", 1)),
        _sqlite_trigger(
            "trg_rating_reason_subtree_update",
            "UPDATE",
            "rating_reason",
            _sqlite_reason_row("OLD", -1) + _sqlite_reason_row("NEW", 1),
        ),
        _sqlite_trigger("trg_rating_reason_subtree_delete", "DELETE", "rating_reason", _sqlite_reason_row("OLD", -1)),
        # Units without ratings (a new unit's first placement, an empty branch) have no leaf rows to move.
        _sqlite_trigger(
            "trg_unit_subtree_move",
            "UPDATE OF path",
            "unit",
            _sqlite_move(),
            when="OLD.path IS NOT NEW.path AND EXISTS (SELECT 1 FROM rating WHERE unit_id = NEW.id)",
        ),
    ]


# --- PostgreSQL: deltas collected per statement, applied once per transaction at commit ---------------------------
#
# The subtree rows near the root are shared by every batch in the country. Updating them statement by statement
# would let two transactions lock them in different orders (a batch that inserts ratings, then reasons, then flags an
# earlier stored rating as misuse takes count rows, reason rows, then count rows again) and deadlock. So the
# statement-level triggers only append each statement's leaf deltas (grouped per month × unit × field [× reason]) to
# `rating_subtree_pending`, which nobody else sees before commit, and note the transaction in
# `rating_subtree_flush`. A deferred constraint trigger on that note applies everything at commit: one pass over the
# count rows, then one over the reason rows, each in key order, so no two transactions can wait for each other in a
# cycle, and the shared rows stay locked only while a transaction commits. A reader in the same transaction first
# applies its own pending deltas (`SET CONSTRAINTS trg_rating_subtree_flush IMMEDIATE`, server.indices.rollups).

# A part of a delta: (FROM ... [WHERE] over a rating row aliased `r` and maybe a reason row aliased `x`, the delta).
Part = tuple[str, int]


def _pg_pend(table: str, parts: list[Part]) -> str:
    """Append the deltas of `parts`, grouped per leaf key, to the pending table (no lock on any shared row)."""
    month = MONTH_OF["postgresql"].format(r="r")
    reason = "x.reason_id" if table == SUBTREE_REASON else str(NO_REASON)
    values = VALUES[table] if table == SUBTREE else {"n": VALUES[SUBTREE_REASON]["n"]}
    cols = ["month", "unit_id", "field_id", "reason_id", *values]

    def leaf(source: str, d: int) -> str:
        exprs = [month, "r.unit_id", "r.field_id", reason] + [v.format(r="r", d=d) for v in values.values()]
        return f"SELECT {', '.join(f'{e} AS {c}' for e, c in zip(exprs, cols, strict=True))} {source}"

    union = "\n        UNION ALL ".join(leaf(source, d) for source, d in parts)
    sums = ", ".join(f"sum({v})" for v in values)
    nonzero = " OR ".join(f"sum({v}) <> 0" for v in values)
    return f"""INSERT INTO {PENDING} ({", ".join(cols)})
    SELECT month, unit_id, field_id, reason_id, {sums} FROM (
        {union}
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING {nonzero};
    IF FOUND THEN
        INSERT INTO {FLUSH} (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;"""


def _pg_function(name: str, tables: dict[str, list[Part]], guard: str | None = None) -> str:
    body = "\n    ".join(_pg_pend(table, parts) for table, parts in tables.items())
    guard_sql = f"IF NOT ({guard}) THEN RETURN NULL; END IF;\n    " if guard else ""
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {guard_sql}{body}
    RETURN NULL;
END
$$"""


def _pg_apply_pending(table: str) -> str:
    """Take this transaction's pending rows of `table` and add them to the unit and every ancestor in key order;
    drop the keys whose counts fell to zero."""
    keys, values = KEYS[table], _values(table)
    cols = ", ".join(keys)
    is_reason = table == SUBTREE_REASON
    tree, ancestor = ancestors("postgresql", "(SELECT u.path FROM unit AS u WHERE u.id = g.unit_id)")
    leaf_keys = ["month", "unit_id", "field_id", *(["reason_id"] if is_reason else [])]
    out_keys = [ancestor if k == "unit_id" else f"g.{k}" for k in keys]
    sums = [f"CAST(sum(g.{v}) AS integer)" for v in values]
    nonzero = " OR ".join(f"sum(g.{v}) <> 0" for v in values)
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    updates = ", ".join(f"{v} = t.{v} + EXCLUDED.{v}" for v in values)
    empty = " AND ".join(f"t.{v} = 0" for v in PRESENCE[table])
    arrays = [f"z_{k}" for k in keys]
    match = " AND ".join(f"t.{k} = z.{k}" for k in keys)
    return f"""WITH taken AS (
        DELETE FROM {PENDING} WHERE reason_id {"<>" if is_reason else "="} {NO_REASON}
        RETURNING {", ".join(leaf_keys)}, {", ".join(values)}
    ), added AS (
        INSERT INTO {table} AS t ({cols}, {", ".join(values)})
        SELECT {", ".join(out_keys + sums)}
        FROM (
            SELECT {", ".join(leaf_keys)}, {", ".join(f"sum({v}) AS {v}" for v in values)}
            FROM taken GROUP BY {", ".join(leaf_keys)}
        ) AS g CROSS JOIN LATERAL {tree}
        GROUP BY {positions} HAVING {nonzero} ORDER BY {positions}
        ON CONFLICT ({cols}) DO UPDATE SET {updates}
        RETURNING {", ".join(f"t.{k}" for k in keys)}, {empty} AS empty
    )
    SELECT {", ".join(f"array_agg({k})" for k in keys)} INTO {", ".join(arrays)} FROM added WHERE empty;
    IF {arrays[0]} IS NOT NULL THEN
        DELETE FROM {table} AS t USING unnest({", ".join(arrays)}) AS z ({cols}) WHERE {match} AND {empty};
    END IF;"""


def _pg_flush_function() -> str:
    declare = "\n    ".join(
        f"z_{k} {'date' if k == 'month' else 'integer'}[];" for k in KEYS[SUBTREE_REASON]
    )
    return f"""CREATE FUNCTION hl_subtree_flush() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    {declare}
BEGIN
    DELETE FROM {FLUSH} WHERE txid = txid_current();
    {_pg_apply_pending(SUBTREE)}
    {_pg_apply_pending(SUBTREE_REASON)}
END
$$"""


def _pg_move_function() -> str:
    """Statement-level AFTER UPDATE ON unit: move the leaf rows of every unit whose path changed."""
    changed = "old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path"
    # The moved units that have ratings, with +1 on their new path and -1 on their old one.
    moved = (
        f"SELECT n.id, n.path, 1 AS d FROM {changed} AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = n.id) "
        f"UNION ALL SELECT o.id, o.path, -1 FROM {changed} "
        "AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = o.id)"
    )
    # Leaf rows by (month, unit) through the primary key, month by month (no index starts with unit_id).
    months = (
        "generate_series((SELECT min(month) FROM {leaf}), (SELECT max(month) FROM {leaf}), interval '1 month') "
        "AS mo(month)"
    )
    tree, ancestor = ancestors("postgresql", "p.path")
    statements = []
    for table in (SUBTREE, SUBTREE_REASON):
        keys, values = KEYS[table], _values(table)
        cols = ", ".join(keys)
        select_keys = [ancestor if k == "unit_id" else f"m.{k}" for k in keys]
        sums = [f"CAST(sum(p.d * m.{v}) AS integer)" for v in values]
        nonzero = " OR ".join(f"sum(p.d * m.{v}) <> 0" for v in values)
        positions = ", ".join(str(i + 1) for i in range(len(keys)))
        updates = ", ".join(f"{v} = t.{v} + EXCLUDED.{v}" for v in values)
        zero = " AND ".join(f"t.{v} = 0" for v in PRESENCE[table])
        statements.append(
            f"""INSERT INTO {table} AS t ({cols}, {", ".join(values)})
    SELECT {", ".join(select_keys + sums)}
    FROM ({moved}) AS p CROSS JOIN LATERAL {tree} CROSS JOIN {months.format(leaf=LEAF[table])}
    JOIN {LEAF[table]} AS m ON m.month = CAST(mo.month AS date) AND m.unit_id = p.id
    GROUP BY {positions} HAVING {nonzero} ORDER BY {positions}
    ON CONFLICT ({cols}) DO UPDATE SET {updates};
    DELETE FROM {table} AS t
    USING (SELECT DISTINCT {ancestor} AS unit_id FROM ({moved}) AS p, {tree} WHERE p.d < 0) AS z
    WHERE t.unit_id = z.unit_id AND {zero};"""
        )
    body = "\n    ".join(statements)
    return f"""CREATE FUNCTION hl_subtree_unit_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM {changed}) THEN
        RETURN NULL;
    END IF;
    {body}
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
    counted = ["id", *COUNTED]
    old, new = ", ".join(f"o.{c}" for c in counted), ", ".join(f"n.{c}" for c in counted)
    # An UPDATE that changes no counted column (a comment, an officer, a visit link) costs one hash join.
    changed = (
        "EXISTS (SELECT 1 FROM old_rows AS o FULL JOIN new_rows AS n ON n.id = o.id "
        f"WHERE o.id IS NULL OR n.id IS NULL OR ({old}) IS DISTINCT FROM ({new}))"
    )
    functions = {
        "hl_subtree_rating_insert": ({SUBTREE: [new_ratings]}, None),
        "hl_subtree_rating_update": (
            {SUBTREE: [new_ratings, old_ratings], SUBTREE_REASON: [reasons_of_new, reasons_of_old]},
            changed,
        ),
        # Reasons normally go first (foreign key); any still present leave the counts with their rating.
        "hl_subtree_rating_delete": ({SUBTREE: [old_ratings], SUBTREE_REASON: [reasons_of_old]}, None),
        "hl_subtree_reason_insert": ({SUBTREE_REASON: [new_reasons]}, None),
        "hl_subtree_reason_update": ({SUBTREE_REASON: [new_reasons, old_reasons]}, None),
        "hl_subtree_reason_delete": ({SUBTREE_REASON: [old_reasons]}, None),
    }
    out = {"hl_subtree_flush": _pg_flush_function()}
    out.update({name: _pg_function(name, tables, guard) for name, (tables, guard) in functions.items()})
    # Emptied tables: the subtree rows go with them, and so do this transaction's pending deltas.
    for name, tables, pending in (
        ("hl_subtree_rating_truncate", [SUBTREE, SUBTREE_REASON], "TRUE"),
        ("hl_subtree_reason_truncate", [SUBTREE_REASON], f"reason_id <> {NO_REASON}"),
    ):
        deletes = " ".join(f"DELETE FROM {t};" for t in tables)
        out[name] = f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {PENDING} WHERE {pending};
    {deletes}
    RETURN NULL;
END
$$"""
    out["hl_subtree_flush_at_commit"] = """CREATE FUNCTION hl_subtree_flush_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_subtree_flush();
    RETURN NULL;
END
$$"""
    # Before the first path of a statement changes: a real move (not a new unit's first placement from the default
    # '/', which nobody else can have rated yet) waits for the transactions writing ratings to commit, and holds
    # new ones back until it commits: they then read the new paths. Then this transaction's own pending deltas are
    # applied under the paths they were counted with, before the move carries the unit's counts along.
    out["hl_subtree_unit_before_move"] = """CREATE FUNCTION hl_subtree_unit_before_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.path <> '/' THEN
        LOCK TABLE rating, rating_reason IN SHARE ROW EXCLUSIVE MODE;
    END IF;
    PERFORM hl_subtree_flush();
    RETURN NEW;
END
$$"""
    out["hl_subtree_unit_move"] = _pg_move_function()
    return out


# (trigger, table, event, transition tables, function)
PG_TRIGGERS = [
    ("trg_rating_subtree_insert", "rating", "INSERT", "NEW TABLE AS new_rows", "hl_subtree_rating_insert"),
    (
        "trg_rating_subtree_update",
        "rating",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "hl_subtree_rating_update",
    ),
    ("trg_rating_subtree_delete", "rating", "DELETE", "OLD TABLE AS old_rows", "hl_subtree_rating_delete"),
    ("trg_rating_subtree_truncate", "rating", "TRUNCATE", None, "hl_subtree_rating_truncate"),
    (
        "trg_rating_reason_subtree_insert",
        "rating_reason",
        "INSERT",
        "NEW TABLE AS new_rows",
        "hl_subtree_reason_insert",
    ),
    (
        "trg_rating_reason_subtree_update",
        "rating_reason",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "hl_subtree_reason_update",
    ),
    (
        "trg_rating_reason_subtree_delete",
        "rating_reason",
        "DELETE",
        "OLD TABLE AS old_rows",
        "hl_subtree_reason_delete",
    ),
    ("trg_rating_reason_subtree_truncate", "rating_reason", "TRUNCATE", None, "hl_subtree_reason_truncate"),
    ("trg_unit_subtree_move", "unit", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "hl_subtree_unit_move"),
]
# Triggers of another shape: (name, table, CREATE statement).
PG_OTHER_TRIGGERS = [
    (
        "trg_rating_subtree_flush",
        FLUSH,
        f"CREATE CONSTRAINT TRIGGER trg_rating_subtree_flush AFTER INSERT ON {FLUSH} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hl_subtree_flush_at_commit()",
    ),
    (
        "trg_unit_subtree_before_move",
        "unit",
        "CREATE TRIGGER trg_unit_subtree_before_move BEFORE UPDATE OF path ON unit FOR EACH ROW "
        "WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION hl_subtree_unit_before_move()",
    ),
]


def _pg_triggers() -> list[str]:
    out = list(_pg_functions().values())
    for name, table, event, referencing, function in PG_TRIGGERS:
        ref = f" REFERENCING {referencing}" if referencing else ""
        out.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table}{ref} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    out += [create for _, _, create in PG_OTHER_TRIGGERS]
    return out


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_tables()
    _fill(dialect)
    for statement in _pg_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, *_ in [*PG_TRIGGERS, *PG_OTHER_TRIGGERS]:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in reversed(list(_pg_functions())):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in (FLUSH, PENDING, SUBTREE_REASON, SUBTREE):
        op.drop_table(table)

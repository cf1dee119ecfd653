"""PostgreSQL: a transaction's subtree deltas wait for its commit in a transaction-local setting, not in a table;
the rollup triggers look a reason's rating and a rating's reasons up by key.

Migration 0008's statement-level triggers appended each statement's leaf deltas to `rating_subtree_pending`, and
the deferred flush took them back with `DELETE ... WHERE reason_id = 0` and `... <> 0`. Every transaction thus left
dead rows behind, and both DELETEs scan the whole table, dead rows included, until VACUUM runs: at the soak's 90
kiosk batches a second the flush's work grew with every batch (about 1.4 ms of the database's 3.5 ms per batch of 5
after a few thousand batches; with autovacuum off, as on the CI machine, without bound).

Now the deltas are kept as JSON text in the transaction-local setting `hailong.subtree_pending` (`set_config(...,
true)`): nothing is written but the note in `rating_subtree_flush` that fires the deferred trigger, and the flush
reads them back with `json_to_recordset`. The setting follows the transaction exactly as the pending rows did: it
goes at commit and rollback, and a rolled-back savepoint takes back what was added in it (with the note, when the
note was added in it too). What is applied, and when and in which order, does not change (see migration 0008).

Large transactions (a bulk load, a mass deletion) would make the text long and each append copy it: once it passes
64 KB it moves into `rating_subtree_pending` as before (`hailong.subtree_spilled` notes that), and the flush then
takes everything from the table with 0008's statements. Truncating `rating` or `rating_reason` drops the pending
deltas it voids, from both places.

The triggers of migrations 0005 and 0008 joined the transition tables to `rating` (or `rating_reason`) with a plain
join. Their statements have no parameters, so each session plans them once and keeps the plan: a session that first
ran them while the tables were small (a fresh database; the soak's server) kept a hash join over the whole table and
scanned every rating for each of the three reason statements of every batch (about 1.2 ms each at 5,000 ratings,
growing with the table). Every such join is now a LATERAL lookup through the primary key (0005's functions are
rebuilt by 0005's own code with the new joins).

The SQL is frozen here on purpose (a migration must not change meaning when application code does). The downgrade
restores the functions of migrations 0005 and 0008 (built by those migrations' code) and drops the helper.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBTREE = "rating_subtree_month_rollup"
SUBTREE_REASON = "rating_reason_subtree_month_rollup"
PENDING = "rating_subtree_pending"
FLUSH = "rating_subtree_flush"
PENDING_SETTING = "hailong.subtree_pending"
SPILLED_SETTING = "hailong.subtree_spilled"
#: Past this many characters of JSON, the pending deltas move to the table (appending copies the text).
SPILL_CHARS = 65536
NO_REASON = 0
LEVELS = (1, 2, 3, 4, 5)
KEYS = {SUBTREE: ["month", "unit_id", "field_id"], SUBTREE_REASON: ["month", "unit_id", "field_id", "reason_id"]}
VALUES: dict[str, dict[str, str]] = {
    SUBTREE: {
        "valid": "CASE WHEN {r}.misuse THEN 0 ELSE {d} END",
        "satisfied": "CASE WHEN {r}.satisfied AND NOT {r}.misuse THEN {d} ELSE 0 END",
        "misuse": "CASE WHEN {r}.misuse THEN {d} ELSE 0 END",
        **{f"level_{lv}": f"CASE WHEN {{r}}.level = {lv} AND NOT {{r}}.misuse THEN {{d}} ELSE 0 END" for lv in LEVELS},
    },
    SUBTREE_REASON: {"n": "{d}"},
}
PRESENCE = {SUBTREE: ["valid", "misuse"], SUBTREE_REASON: ["n"]}
PENDING_VALUES = [*VALUES[SUBTREE], "n"]
MONTH = "CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date)"
COUNTED = ["local_date", "unit_id", "field_id", "level", "satisfied", "misuse"]
# The pending deltas as rows: every key and count (a count a delta does not carry is absent from its JSON: 0).
RECORD = ", ".join(
    [f"{k} {'date' if k == 'month' else 'integer'}" for k in KEYS[SUBTREE_REASON]]
    + [f"{v} integer" for v in PENDING_VALUES]
)
PENDING_ROWS = f"json_to_recordset(CAST('[' || {{text}} || ']' AS json)) AS p({RECORD})"
PENDING_COLUMNS = [*KEYS[SUBTREE_REASON], *PENDING_VALUES]


def _pending_select(text: str, where: str = "") -> str:
    """The pending rows held in the text expression `text`, as the columns of the pending table."""
    cols = [f"p.{k}" for k in KEYS[SUBTREE_REASON]] + [f"COALESCE(p.{v}, 0)" for v in PENDING_VALUES]
    return f"SELECT {', '.join(cols)} FROM {PENDING_ROWS.format(text=text)}{where}"


def _pend_helper() -> str:
    """hl_subtree_pend(piece): add a statement's deltas (JSON objects, comma-separated) to the transaction's."""
    return f"""CREATE FUNCTION hl_subtree_pend(piece text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    pending text;
BEGIN
    IF piece IS NULL THEN
        RETURN;
    END IF;
    pending := current_setting('{PENDING_SETTING}', true);
    IF pending IS NULL OR pending = '' THEN
        -- The first deltas since the last flush: note the transaction, so the deferred trigger applies them.
        INSERT INTO {FLUSH} (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
        pending := piece;
    ELSE
        pending := pending || ',' || piece;
    END IF;
    IF length(pending) > {SPILL_CHARS} THEN
        INSERT INTO {PENDING} ({", ".join(PENDING_COLUMNS)}) {_pending_select("pending")};
        PERFORM set_config('{SPILLED_SETTING}', 'on', true);
        pending := '';
    END IF;
    PERFORM set_config('{PENDING_SETTING}', pending, true);
END
$$"""


# A part of a delta: (FROM ... [WHERE] over a rating row aliased `r` and maybe a reason row aliased `x`, the delta).
Part = tuple[str, int]


def _pg_pend(table: str, parts: list[Part]) -> str:
    """The deltas of `parts`, grouped per leaf key, handed to hl_subtree_pend as JSON (no row written)."""
    reason = "x.reason_id" if table == SUBTREE_REASON else str(NO_REASON)
    values = VALUES[table]
    cols = ["month", "unit_id", "field_id", "reason_id", *values]

    def leaf(source: str, d: int) -> str:
        exprs = [MONTH, "r.unit_id", "r.field_id", reason] + [v.format(r="r", d=d) for v in values.values()]
        return f"SELECT {', '.join(f'{e} AS {c}' for e, c in zip(exprs, cols, strict=True))} {source}"

    union = "\n            UNION ALL ".join(leaf(source, d) for source, d in parts)
    sums = ", ".join(f"CAST(sum({v}) AS integer) AS {v}" for v in values)
    nonzero = " OR ".join(f"sum({v}) <> 0" for v in values)
    return f"""PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, {sums} FROM (
            {union}
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING {nonzero}
        ) AS g
    ));"""


def _pg_function(name: str, tables: dict[str, list[Part]], guard: str | None = None) -> str:
    body = "\n    ".join(_pg_pend(table, parts) for table, parts in tables.items())
    guard_sql = f"IF NOT ({guard}) THEN RETURN NULL; END IF;\n    " if guard else ""
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {guard_sql}{body}
    RETURN NULL;
END
$$"""


def _pg_apply(table: str, *, spilled: bool) -> str:
    """Take the transaction's pending rows of `table` (from the setting, or from the table after a spill) and add
    them to the unit and every ancestor in key order; drop the keys whose counts fell to zero (as migration 0008)."""
    keys, values = KEYS[table], list(VALUES[table])
    cols = ", ".join(keys)
    is_reason = table == SUBTREE_REASON
    tree = "unnest(string_to_array(btrim((SELECT u.path FROM unit AS u WHERE u.id = g.unit_id), '/'), '/')) AS a(id)"
    ancestor = "CAST(a.id AS integer)"
    leaf_keys = ["month", "unit_id", "field_id", *(["reason_id"] if is_reason else [])]
    out_keys = [ancestor if k == "unit_id" else f"g.{k}" for k in keys]
    sums = [f"CAST(sum(g.{v}) AS integer)" for v in values]
    nonzero = " OR ".join(f"sum(g.{v}) <> 0" for v in values)
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    updates = ", ".join(f"{v} = t.{v} + EXCLUDED.{v}" for v in values)
    empty = " AND ".join(f"t.{v} = 0" for v in PRESENCE[table])
    arrays = [f"z_{k}" for k in keys]
    match = " AND ".join(f"t.{k} = z.{k}" for k in keys)
    which = f"reason_id {'<>' if is_reason else '='} {NO_REASON}"
    if spilled:
        taken = f"DELETE FROM {PENDING} WHERE {which} RETURNING {', '.join(leaf_keys)}, {', '.join(values)}"
    else:
        # Read through current_setting() in the statement itself (not a variable): it then has no parameters and
        # keeps one plan per session, whatever plan_cache_mode says.
        rows = PENDING_ROWS.format(text=f"current_setting('{PENDING_SETTING}')")
        taken = (
            f"SELECT {', '.join(f'p.{k}' for k in leaf_keys)}, {', '.join(f'COALESCE(p.{v}, 0) AS {v}' for v in values)} "
            f"FROM {rows} WHERE p.{which}"
        )
    return f"""WITH taken AS (
        {taken}
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
    declare = "\n    ".join(f"z_{k} {'date' if k == 'month' else 'integer'}[];" for k in KEYS[SUBTREE_REASON])
    held = _pending_select(f"current_setting('{PENDING_SETTING}')")
    return f"""CREATE OR REPLACE FUNCTION hl_subtree_flush() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    {declare}
BEGIN
    DELETE FROM {FLUSH} WHERE txid = txid_current();
    IF current_setting('{SPILLED_SETTING}', true) = 'on' THEN
        -- A large transaction: what the setting still holds joins the table, and everything is taken from there.
        IF current_setting('{PENDING_SETTING}', true) <> '' THEN
            INSERT INTO {PENDING} ({", ".join(PENDING_COLUMNS)}) {held};
        END IF;
        PERFORM set_config('{PENDING_SETTING}', '', true);
        PERFORM set_config('{SPILLED_SETTING}', '', true);
        {_pg_apply(SUBTREE, spilled=True)}
        {_pg_apply(SUBTREE_REASON, spilled=True)}
    ELSIF current_setting('{PENDING_SETTING}', true) <> '' THEN
        {_pg_apply(SUBTREE, spilled=False)}
        {_pg_apply(SUBTREE_REASON, spilled=False)}
        PERFORM set_config('{PENDING_SETTING}', '', true);
    END IF;
END
$$"""


def _pg_truncate_functions() -> dict[str, str]:
    """Emptied tables: the subtree rows go with them, and so do this transaction's pending deltas they void."""
    out = {}
    for name, tables, keep in (
        ("hl_subtree_rating_truncate", [SUBTREE, SUBTREE_REASON], None),
        ("hl_subtree_reason_truncate", [SUBTREE_REASON], f"{NO_REASON}"),
    ):
        deletes = " ".join(f"DELETE FROM {t};" for t in tables)
        if keep is None:
            table_rows, held = "TRUE", "''"
        else:  # only the count deltas stay
            table_rows = f"reason_id <> {NO_REASON}"
            held = (
                "COALESCE((SELECT string_agg(CAST(e AS text), ',') FROM json_array_elements(CAST('[' || "
                f"current_setting('{PENDING_SETTING}') || ']' AS json)) AS e "
                f"WHERE CAST(e ->> 'reason_id' AS integer) = {keep}), '')"
            )
        out[name] = f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {PENDING} WHERE {table_rows};
    IF current_setting('{PENDING_SETTING}', true) <> '' THEN
        PERFORM set_config('{PENDING_SETTING}', {held}, true);
    END IF;
    {deletes}
    RETURN NULL;
END
$$"""
    return out


# The rating of each reason row `x`, and the reasons of each rating row `r`, looked up one by one through the primary
# keys. A plain join let PostgreSQL plan a hash join over all of `rating` (or `rating_reason`): plans of trigger
# statements without parameters are made once per session and kept, and one made while the table was small (a fresh
# database, a server started before a load) scanned the whole table for every batch ever after (5,000 ratings: about
# 1.2 ms for each of the three statements of a batch with reasons). OFFSET 0 keeps each lookup a subquery.
RATING_OF_REASON = "CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r"
REASONS_OF_RATING = (
    "CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id "
    "OFFSET 0) AS x"
)
NEW_RATINGS: Part = ("FROM new_rows AS r", 1)
OLD_RATINGS: Part = ("FROM old_rows AS r", -1)
REASONS_OF_NEW: Part = (f"FROM new_rows AS r {REASONS_OF_RATING} WHERE NOT r.misuse", 1)
REASONS_OF_OLD: Part = (f"FROM old_rows AS r {REASONS_OF_RATING} WHERE NOT r.misuse", -1)
NEW_REASONS: Part = (f"FROM new_rows AS x {RATING_OF_REASON} WHERE NOT r.misuse", 1)
OLD_REASONS: Part = (f"FROM old_rows AS x {RATING_OF_REASON} WHERE NOT r.misuse", -1)


def _rollup_functions() -> dict[str, str]:
    """Migration 0005's leaf rollup functions with the lookups above (0005 builds them; only the joins differ)."""
    m = _migration("0005_indices_rollups.py")
    old, new = ", ".join(f"o.{c}" for c in m.COUNTED), ", ".join(f"n.{c}" for c in m.COUNTED)
    changed = (
        "EXISTS (SELECT 1 FROM old_rows AS o FULL JOIN new_rows AS n ON n.id = o.id "
        f"WHERE o.id IS NULL OR n.id IS NULL OR ({old}) IS DISTINCT FROM ({new}))"
    )
    day, day_reason, month, month_reason = m.DAY, m.DAY_REASON, m.MONTH, m.MONTH_REASON
    functions: dict[str, tuple[dict[str, list[Part]], str | None]] = {
        "hl_rollup_rating_insert": ({day: [NEW_RATINGS], month: [NEW_RATINGS]}, None),
        "hl_rollup_rating_update": (
            {
                day: [NEW_RATINGS, OLD_RATINGS],
                month: [NEW_RATINGS, OLD_RATINGS],
                day_reason: [REASONS_OF_NEW, REASONS_OF_OLD],
                month_reason: [REASONS_OF_NEW, REASONS_OF_OLD],
            },
            changed,
        ),
        "hl_rollup_rating_delete": (
            {day: [OLD_RATINGS], month: [OLD_RATINGS], day_reason: [REASONS_OF_OLD], month_reason: [REASONS_OF_OLD]},
            None,
        ),
        "hl_rollup_reason_insert": ({day_reason: [NEW_REASONS], month_reason: [NEW_REASONS]}, None),
        "hl_rollup_reason_update": (
            {day_reason: [NEW_REASONS, OLD_REASONS], month_reason: [NEW_REASONS, OLD_REASONS]},
            None,
        ),
        "hl_rollup_reason_delete": ({day_reason: [OLD_REASONS], month_reason: [OLD_REASONS]}, None),
    }
    return {name: _or_replace(m._pg_function(name, tables, guard)) for name, (tables, guard) in functions.items()}


def _or_replace(create: str) -> str:
    return create.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _pg_functions() -> dict[str, str]:
    new_ratings, old_ratings = NEW_RATINGS, OLD_RATINGS
    reasons_of_new, reasons_of_old = REASONS_OF_NEW, REASONS_OF_OLD
    new_reasons, old_reasons = NEW_REASONS, OLD_REASONS
    counted = ["id", *COUNTED]
    old, new = ", ".join(f"o.{c}" for c in counted), ", ".join(f"n.{c}" for c in counted)
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
        "hl_subtree_rating_delete": ({SUBTREE: [old_ratings], SUBTREE_REASON: [reasons_of_old]}, None),
        "hl_subtree_reason_insert": ({SUBTREE_REASON: [new_reasons]}, None),
        "hl_subtree_reason_update": ({SUBTREE_REASON: [new_reasons, old_reasons]}, None),
        "hl_subtree_reason_delete": ({SUBTREE_REASON: [old_reasons]}, None),
    }
    out = {"hl_subtree_pend": _pend_helper(), "hl_subtree_flush": _pg_flush_function()}
    out.update({name: _pg_function(name, tables, guard) for name, (tables, guard) in functions.items()})
    out.update(_pg_truncate_functions())
    return out


def _migration(filename: str) -> ModuleType:
    """An earlier migration's module, for the SQL it generates (frozen like this one)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"hailong_migration_{filename[:4]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's row-level triggers apply every change at once
    for statement in [*_pg_functions().values(), *_rollup_functions().values()]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Nothing is pending between transactions: 0008's functions take over as they were.
    for earlier, ours in (("0008_subtree_rollups.py", _pg_functions()), ("0005_indices_rollups.py", _rollup_functions())):
        functions = _migration(earlier)._pg_functions()
        for name in ours:
            if name in functions:
                op.execute(_or_replace(functions[name]))
    op.execute("DROP FUNCTION hl_subtree_pend(text)")

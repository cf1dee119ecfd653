"""PostgreSQL: each unit's whole month in one packed value, kept by the subtree flush, for the national month report.

The month report for every unit × field of the country read ~15,000 subtree rows and ~35,000 reason rows per month;
PostgreSQL spent most of its time sending them value by value, and the client building them.
`rating_subtree_month_cells` holds the same counts as one `bytea` per (month, unit): big-endian 32-bit integers, the block width w first, then a
block of w per field id f at position 1 + f × w (f = 0: the unit over all fields), each block `valid, satisfied,
misuse, level_1 … level_5`, then the count of reason id r at 7 + r. A block is as wide as the highest reason id the
row has seen needs (a new reason widens the row's blocks when it first counts there), and a row has blocks up to the
highest field id it has seen.

Kept exact the way the subtree rollups are (migrations 0008 and 0010):
- the flush at commit takes the transaction's pending deltas (the setting, or the table after a spill) and, before
  it applies them to the subtree rollups, adds them to the unit's row and each ancestor's, one row at a time in
  (month, unit) order (`hl_cells_add`: a handful of 4-byte overlays per row). Every transaction touching a unit's
  rollup rows now takes that unit's cells row first, so the flushes stay in one global order and cannot deadlock;
- a unit whose path changes: after 0008's trigger moved the rollup rows, the rows of the old and new ancestors are
  recomputed from the subtree rollups (`hl_cells_refresh`; the move holds every writer of ratings back already);
- TRUNCATE of `rating` or `rating_reason`: every row is recomputed from what the subtree rollups keep.
`hailong rollup rebuild` compares every row with the subtree rollups (`hl_cells_unpack`) and recomputes those that
differ. SQLite has no such table: its reports read the subtree rollups.

The SQL is frozen here (a migration must not change meaning when application code does). The downgrade restores
0010's flush and drops the rest.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def _migration(filename: str) -> ModuleType:
    """An earlier migration's module, for the SQL it generates (frozen like this one)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"hailong_migration_{filename[:4]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Migration 0010: its tables, settings and flush, which this one extends.
M10 = _migration("0010_subtree_pending_in_transaction.py")
CELLS = "rating_subtree_month_cells"
SUBTREE, SUBTREE_REASON, PENDING, FLUSH = M10.SUBTREE, M10.SUBTREE_REASON, M10.PENDING, M10.FLUSH
PENDING_SETTING, SPILLED_SETTING = M10.PENDING_SETTING, M10.SPILLED_SETTING
COUNTS = list(M10.VALUES[SUBTREE])  # valid, satisfied, misuse, level_1 … level_5
#: A reason id r is counted at component REASON_BASE + r (the counts take components 0 … 7).
REASON_BASE = 7


def _components(alias: str, reason: str | None = None) -> str:
    """A LATERAL VALUES list of (comp, n) pairs of a row `alias` holding the counts (and a reason id and its n)."""
    pairs = [f"({i}, {alias}.{c})" for i, c in enumerate(COUNTS)]
    if reason is not None:
        pairs.append(f"({REASON_BASE} + {alias}.{reason}, {alias}.n)")
    return f"(VALUES {', '.join(pairs)}) AS c(comp, n)"


FUNCTIONS = {
    # A signed 32-bit big-endian integer at byte offset p.
    "hl_cells_int": """CREATE FUNCTION hl_cells_int(cells bytea, p integer) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CAST(CAST(('x' || encode(substring(cells FROM p + 1 FOR 4), 'hex')) AS bit(32)) AS integer)
$$""",
    # `cells` (NULL: none yet) with each (field, comp, n) added to the field's block and to block 0 (all fields).
    "hl_cells_add": """CREATE FUNCTION hl_cells_add(cells bytea, fields integer[], comps integer[], ns integer[])
RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    need integer := 8;
    top integer := 0;
    w integer;
    held integer;
    i integer;
    b integer;
    p integer;
    old bytea;
    fresh integer[];
BEGIN
    FOR i IN 1 .. coalesce(array_length(comps, 1), 0) LOOP
        need := greatest(need, comps[i] + 1);
        top := greatest(top, fields[i]);
    END LOOP;
    IF cells IS NULL THEN
        -- A new row: built as an array, then sent as bytes once.
        fresh := array_fill(0, ARRAY[1 + (top + 1) * need]);
        fresh[1] := need;
        FOR i IN 1 .. coalesce(array_length(comps, 1), 0) LOOP
            FOREACH b IN ARRAY ARRAY[0, fields[i]] LOOP
                p := 2 + b * need + comps[i];
                fresh[p] := fresh[p] + ns[i];
            END LOOP;
        END LOOP;
        RETURN (SELECT string_agg(int4send(x), ''::bytea ORDER BY o) FROM unnest(fresh) WITH ORDINALITY AS u(x, o));
    END IF;
    w := hl_cells_int(cells, 0);
    held := (length(cells) / 4 - 1) / w;
    IF need > w THEN  -- a reason beyond the blocks' width: widen every block
        old := cells;
        cells := int4send(need);
        FOR b IN 0 .. held - 1 LOOP
            cells := cells || substring(old FROM 5 + 4 * b * w FOR 4 * w)
                || decode(repeat('00', 4 * (need - w)), 'hex');
        END LOOP;
        w := need;
    END IF;
    IF top >= held THEN  -- a field beyond the last block
        cells := cells || decode(repeat('00', 4 * (top + 1 - held) * w), 'hex');
    END IF;
    FOR i IN 1 .. coalesce(array_length(comps, 1), 0) LOOP
        FOREACH b IN ARRAY ARRAY[0, fields[i]] LOOP
            p := 4 * (1 + b * w + comps[i]);
            cells := overlay(cells PLACING int4send(hl_cells_int(cells, p) + ns[i]) FROM p + 1 FOR 4);
        END LOOP;
    END LOOP;
    RETURN cells;
END
$$""",
    # The non-zero counts of a row: (field id, 0 for all fields; component; count).
    "hl_cells_unpack": """CREATE FUNCTION hl_cells_unpack(cells bytea)
RETURNS TABLE (field_id integer, comp integer, n integer) LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CAST(g.i / h.w AS integer), CAST(g.i % h.w AS integer), x.n
    FROM (SELECT hl_cells_int(cells, 0) AS w) AS h
    CROSS JOIN LATERAL generate_series(0, length(cells) / 4 - 2) AS g(i)
    CROSS JOIN LATERAL (SELECT hl_cells_int(cells, 4 + 4 * g.i) AS n) AS x
    WHERE x.n <> 0
$$""",
    # Recompute the rows of month m (NULL: every month) and of the listed units (NULL: every unit) from the subtree
    # rollups. The caller holds writers back (a move, a truncate, the rebuild's lock).
    "hl_cells_refresh": f"""CREATE FUNCTION hl_cells_refresh(m date, units integer[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {CELLS} AS t WHERE (m IS NULL OR t.month = m) AND (units IS NULL OR t.unit_id = ANY(units));
    INSERT INTO {CELLS} (month, unit_id, cells)
    SELECT v.month, v.unit_id, hl_cells_add(NULL, array_agg(v.field_id), array_agg(v.comp), array_agg(v.n))
    FROM (
        SELECT s.month, s.unit_id, s.field_id, c.comp, c.n
        FROM {SUBTREE} AS s CROSS JOIN LATERAL {_components("s")}
        WHERE (m IS NULL OR s.month = m) AND (units IS NULL OR s.unit_id = ANY(units))
        UNION ALL
        SELECT r.month, r.unit_id, r.field_id, {REASON_BASE} + r.reason_id, r.n
        FROM {SUBTREE_REASON} AS r
        WHERE (m IS NULL OR r.month = m) AND (units IS NULL OR r.unit_id = ANY(units))
    ) AS v
    WHERE v.n <> 0
    GROUP BY v.month, v.unit_id
    ORDER BY v.month, v.unit_id;
END
$$""",
    # After 0008's trigger moved the rollup rows of units whose path changed (it fires first: names sort so).
    "hl_cells_unit_move": """CREATE FUNCTION hl_cells_unit_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched integer[];
BEGIN
    SELECT array_agg(DISTINCT CAST(a.id AS integer)) INTO touched
    FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
    CROSS JOIN LATERAL unnest(string_to_array(btrim(o.path, '/'), '/') || string_to_array(btrim(n.path, '/'), '/'))
        AS a(id)
    WHERE o.path IS DISTINCT FROM n.path AND a.id <> '';
    IF touched IS NOT NULL THEN
        PERFORM hl_cells_refresh(NULL, touched);
    END IF;
    RETURN NULL;
END
$$""",
    "hl_cells_truncate": """CREATE FUNCTION hl_cells_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_cells_refresh(NULL, NULL);
    RETURN NULL;
END
$$""",
}

TRIGGERS = [
    # (name, CREATE statement): each after the subtree trigger of the same event (trigger names sort so).
    (
        "trg_unit_subtree_move_cells",
        "CREATE TRIGGER trg_unit_subtree_move_cells AFTER UPDATE ON unit REFERENCING OLD TABLE AS old_rows "
        "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_cells_unit_move()",
    ),
    (
        "trg_rating_subtree_truncate_cells",
        "CREATE TRIGGER trg_rating_subtree_truncate_cells AFTER TRUNCATE ON rating "
        "FOR EACH STATEMENT EXECUTE FUNCTION hl_cells_truncate()",
    ),
    (
        "trg_rating_reason_subtree_truncate_cells",
        "CREATE TRIGGER trg_rating_reason_subtree_truncate_cells AFTER TRUNCATE ON rating_reason "
        "FOR EACH STATEMENT EXECUTE FUNCTION hl_cells_truncate()",
    ),
]
TRIGGER_TABLES = {
    "trg_unit_subtree_move_cells": "unit",
    "trg_rating_subtree_truncate_cells": "rating",
    "trg_rating_reason_subtree_truncate_cells": "rating_reason",
}


def _cells_apply(source: str) -> str:
    """Add the pending deltas of `source` (rows of the pending table's columns) to the cells rows of each unit and
    its ancestors, in (month, unit) order: an UPDATE, or an insert for a row not there yet."""
    tree = "unnest(string_to_array(btrim((SELECT u.path FROM unit AS u WHERE u.id = g.unit_id), '/'), '/')) AS a(id)"
    return f"""FOR rec IN
            SELECT g.month, CAST(a.id AS integer) AS unit_id, array_agg(g.field_id) AS fields,
                array_agg(c.comp) AS comps, array_agg(c.n) AS ns
            FROM ({source}) AS g
            CROSS JOIN LATERAL {_components("g", "reason_id")}
            CROSS JOIN LATERAL {tree}
            WHERE c.n <> 0
            GROUP BY 1, 2 ORDER BY 1, 2
        LOOP
            UPDATE {CELLS} AS t SET cells = hl_cells_add(t.cells, rec.fields, rec.comps, rec.ns)
            WHERE t.month = rec.month AND t.unit_id = rec.unit_id;
            IF NOT FOUND THEN
                INSERT INTO {CELLS} AS t (month, unit_id, cells)
                VALUES (rec.month, rec.unit_id, hl_cells_add(NULL, rec.fields, rec.comps, rec.ns))
                ON CONFLICT (month, unit_id) DO UPDATE SET cells = hl_cells_add(t.cells, rec.fields, rec.comps, rec.ns);
            END IF;
        END LOOP;"""


def _flush_function(m10: ModuleType) -> str:
    """0010's flush, with the cells rows first (the subtree rollups' spilled statements take the pending rows)."""
    declare = "\n    ".join(f"z_{k} {'date' if k == 'month' else 'integer'}[];" for k in m10.KEYS[SUBTREE_REASON])
    held = m10._pending_select(f"current_setting('{PENDING_SETTING}')")
    spilled = f"SELECT {', '.join(m10.PENDING_COLUMNS)} FROM {PENDING}"
    # The setting's rows with their columns named (a delta holds no key for a count it does not carry: 0).
    rows = m10.PENDING_ROWS.format(text=f"current_setting('{PENDING_SETTING}')")
    pending = "SELECT " + ", ".join(
        f"p.{c}" if c in m10.KEYS[SUBTREE_REASON] else f"COALESCE(p.{c}, 0) AS {c}" for c in m10.PENDING_COLUMNS
    ) + f" FROM {rows}"
    return f"""CREATE OR REPLACE FUNCTION hl_subtree_flush() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    {declare}
    rec record;
BEGIN
    DELETE FROM {FLUSH} WHERE txid = txid_current();
    IF current_setting('{SPILLED_SETTING}', true) = 'on' THEN
        -- A large transaction: what the setting still holds joins the table, and everything is taken from there.
        IF current_setting('{PENDING_SETTING}', true) <> '' THEN
            INSERT INTO {PENDING} ({", ".join(m10.PENDING_COLUMNS)}) {held};
        END IF;
        PERFORM set_config('{PENDING_SETTING}', '', true);
        PERFORM set_config('{SPILLED_SETTING}', '', true);
        {_cells_apply(spilled)}
        {m10._pg_apply(SUBTREE, spilled=True)}
        {m10._pg_apply(SUBTREE_REASON, spilled=True)}
    ELSIF current_setting('{PENDING_SETTING}', true) <> '' THEN
        {_cells_apply(pending)}
        {m10._pg_apply(SUBTREE, spilled=False)}
        {m10._pg_apply(SUBTREE_REASON, spilled=False)}
        PERFORM set_config('{PENDING_SETTING}', '', true);
    END IF;
END
$$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's reports read the subtree rollups
    op.create_table(
        CELLS,
        sa.Column("month", sa.Date(), autoincrement=False, nullable=False),
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cells", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("month", "unit_id", name=op.f(f"pk_{CELLS}")),
    )
    for statement in FUNCTIONS.values():
        op.execute(statement)
    op.execute(_flush_function(M10))
    for _, create in TRIGGERS:
        op.execute(create)
    op.execute("SELECT hl_cells_refresh(NULL, NULL)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {TRIGGER_TABLES[name]}")
    op.execute(M10._pg_flush_function())
    for name in reversed(list(FUNCTIONS)):
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
    op.drop_table(CELLS)

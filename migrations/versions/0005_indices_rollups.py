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

`officer_id` 0 stands for "no officer" (key columns cannot be NULL). The upgrade fills the rollups from existing
ratings. The SQL (fill, functions, triggers) is in `migrations/sql/0005_indices_rollups/`, one file per dialect and
direction, applied as written: a migration must not change meaning when application code does. PostgreSQL's
trigger functions have a file of their own (`functions.postgresql.sql`), which 0010's downgrade applies again.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from server.db import apply_migration_sql

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = (1, 2, 3, 4, 5)  # the month rollup's level columns
DAY_KEYS = ["unit_id", "day", "counter_id", "field_id", "officer_id", "channel"]
# Each table's key columns and count columns.
TABLES: dict[str, tuple[list[str], list[str]]] = {
    "rating_rollup": ([*DAY_KEYS, "level", "satisfied", "misuse"], ["n"]),
    "rating_reason_rollup": ([*DAY_KEYS, "reason_id"], ["n"]),
    "rating_month_rollup": (["month", "unit_id", "field_id"], ["valid", "satisfied", "misuse", *(f"level_{lv}" for lv in LEVELS)]),
    "rating_reason_month_rollup": (["month", "unit_id", "field_id", "reason_id"], ["n"]),
}
TYPES = {
    "month": sa.Date(),
    "day": sa.Date(),
    "channel": sqlmodel.sql.sqltypes.AutoString(length=16),
    "satisfied": sa.Boolean(),
    "misuse": sa.Boolean(),
}


def upgrade() -> None:
    for table, (keys, values) in TABLES.items():
        op.create_table(
            table,
            *[sa.Column(k, TYPES.get(k, sa.Integer()), autoincrement=False, nullable=False) for k in keys],
            *[sa.Column(v, sa.Integer(), nullable=False) for v in values],
            # The primary key carries the counts on PostgreSQL: reports are index-only scans.
            sa.PrimaryKeyConstraint(*keys, name=op.f(f"pk_{table}"), postgresql_include=values),
            sqlite_with_rowid=False,
        )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # the triggers' functions (0010's downgrade applies them again)
        apply_migration_sql(bind, "0005_indices_rollups", "functions")
    apply_migration_sql(bind, "0005_indices_rollups", "upgrade")


def downgrade() -> None:
    bind = op.get_bind()
    apply_migration_sql(bind, "0005_indices_rollups", "downgrade")
    for table in TABLES:
        op.drop_table(table)

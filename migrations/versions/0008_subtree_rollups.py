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

The SQL is in `migrations/sql/0008_subtree_rollups/`, one file per dialect and direction, applied as written (a
migration must not change meaning when application code does); PostgreSQL's trigger functions have a file of their
own (`functions.postgresql.sql`), which 0010's downgrade applies again. The upgrade fills both tables from the leaf month
rollups; `rating_subtree_pending` and `rating_subtree_flush` exist on both
databases (one schema) but only PostgreSQL's triggers use them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.db import apply_migration_sql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBTREE = "rating_subtree_month_rollup"
SUBTREE_REASON = "rating_reason_subtree_month_rollup"
PENDING = "rating_subtree_pending"
FLUSH = "rating_subtree_flush"
COUNTS = ["valid", "satisfied", "misuse", *(f"level_{lv}" for lv in (1, 2, 3, 4, 5))]
KEYS = {SUBTREE: ["month", "unit_id", "field_id"], SUBTREE_REASON: ["month", "unit_id", "field_id", "reason_id"]}
VALUES = {SUBTREE: COUNTS, SUBTREE_REASON: ["n"]}


def _key_column(name: str, **kwargs: bool) -> sa.Column:
    return sa.Column(name, sa.Date() if name == "month" else sa.Integer(), nullable=False, **kwargs)


def upgrade() -> None:
    for table in (SUBTREE, SUBTREE_REASON):
        op.create_table(
            table,
            *[_key_column(k, autoincrement=False) for k in KEYS[table]],
            *[sa.Column(v, sa.Integer(), nullable=False) for v in VALUES[table]],
            # No INCLUDE: updating a count then changes no indexed column, so PostgreSQL can update the row in
            # place (HOT), which matters for the rows near the root that every batch touches.
            sa.PrimaryKeyConstraint(*KEYS[table], name=op.f(f"pk_{table}")),
            sqlite_with_rowid=False,
        )
    # PostgreSQL's deltas waiting for their transaction's commit; rows never outlive a transaction. Created on
    # SQLite too, where the row-level triggers apply every change at once and leave them empty.
    op.create_table(
        PENDING,
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        *[_key_column(k) for k in KEYS[SUBTREE_REASON]],
        *[sa.Column(v, sa.Integer(), server_default="0", nullable=False) for v in [*COUNTS, "n"]],
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{PENDING}")),
    )
    op.create_table(
        FLUSH,
        sa.Column("txid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("txid", name=op.f(f"pk_{FLUSH}")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # the triggers' functions (0010's downgrade applies them again)
        apply_migration_sql(bind, "0008_subtree_rollups", "functions")
    apply_migration_sql(bind, "0008_subtree_rollups", "upgrade")


def downgrade() -> None:
    bind = op.get_bind()
    apply_migration_sql(bind, "0008_subtree_rollups", "downgrade")
    for table in (FLUSH, PENDING, SUBTREE_REASON, SUBTREE):
        op.drop_table(table)

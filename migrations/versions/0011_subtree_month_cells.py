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

The SQL is in `migrations/sql/0011_subtree_month_cells/`, applied as written (a migration must not change meaning
when application code does); the downgrade restores 0010's flush by applying 0010's
upgrade file again, then its own file drops the rest.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.db import apply_migration_sql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELLS = "rating_subtree_month_cells"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite's reports read the subtree rollups
    op.create_table(
        CELLS,
        sa.Column("month", sa.Date(), autoincrement=False, nullable=False),
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cells", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("month", "unit_id", name=op.f(f"pk_{CELLS}")),
    )
    apply_migration_sql(bind, "0011_subtree_month_cells", "upgrade")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # 0010's functions again: they restore 0010's `hl_subtree_flush`, which 0011 replaced.
    apply_migration_sql(bind, "0010_subtree_pending_in_transaction", "upgrade")
    apply_migration_sql(bind, "0011_subtree_month_cells", "downgrade")
    op.drop_table(CELLS)

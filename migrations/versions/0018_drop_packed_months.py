"""PostgreSQL: the packed months of migration 0011 go; no product route reads them any more (issues 17 and 20).

The public disclosure page reads one GROUP BY over the subtree month rollups (docs/benchmarks/public.md: 8.9 ms
against 23.2 ms for the national matrix over `rating_subtree_month_cells`), so the matrix, the table and the
functions and triggers keeping it go.

This migration is 0011 backwards, so it applies 0011's own checked-in SQL the other way round (its SQL, never its
Python: migrations never import each other). The upgrade does what 0011's downgrade does: 0010's
`upgrade.postgresql.sql` again (0010's flush `hl_subtree_flush`, which 0011 had replaced), 0011's
`downgrade.postgresql.sql` (the cells' triggers and functions dropped), then the table goes; the downgrade recreates
the table and runs 0011's `upgrade.postgresql.sql`, which refills it from the subtree rollups. SQLite has nothing to
do (0011 created nothing there).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.db import apply_migration_sql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELLS = "rating_subtree_month_cells"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # 0011 created nothing on SQLite
    apply_migration_sql(bind, "0010_subtree_pending_in_transaction", "upgrade")  # as 0011's downgrade does
    # 0011's SQL files, applied the other way round (a frozen migration's checked-in SQL, as the snapshot test sees it).
    apply_migration_sql(bind, "0011_subtree_month_cells", "downgrade")
    op.drop_table(CELLS)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.create_table(
        CELLS,
        sa.Column("month", sa.Date(), autoincrement=False, nullable=False),
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cells", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("month", "unit_id", name=op.f(f"pk_{CELLS}")),
    )
    apply_migration_sql(bind, "0011_subtree_month_cells", "upgrade")

"""PostgreSQL: the commit-time flush of the subtree rollups locks the deepest units' rows first, the root's last.

Every transaction that stores a rating adds its deltas to the subtree month rollups of every ancestor of the rating's
unit at commit (`hl_subtree_flush`, migration 0010), so every one of them updates the root's row for its month and
field, and holds that row's lock until its commit has been written. 0010's flush took the rows in (month, unit,
field) order: the root (the first unit) first, so the root's lock was held for the whole flush (every ancestor's
row of both tables, the empty rows' deletes) and the commit, and every other rating transaction queued behind it
(the 500 ratings/s soak, issue 20). This flush takes the rows deepest unit first (the depth of a unit in its path;
then month, unit, field as before: one total order, so no deadlocks between transactions), so the root's row is
locked last and held only for the rest of the flush and the commit. The counts written are the same.

The SQL is in `migrations/sql/0019_subtree_root_last/`, applied as written; the downgrade restores 0010's flush by
applying 0010's `upgrade.postgresql.sql` again (as 0011's downgrade does), never a copy of it.
SQLite has nothing to do (the flush is PostgreSQL's only).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from server.db import apply_migration_sql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    apply_migration_sql(bind, "0019_subtree_root_last", "upgrade")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # 0010's functions again: they hold the flush this migration replaced.
    apply_migration_sql(bind, "0010_subtree_pending_in_transaction", "upgrade")

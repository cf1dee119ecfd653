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
growing with the table). Every such join is now a LATERAL lookup through the primary key (0005's functions too).

PostgreSQL only. The SQL is in `migrations/sql/0010_subtree_pending_in_transaction/`, applied as written (a
migration must not change meaning when application code does); the downgrade restores the functions of migrations
0005 and 0008 as they were by applying their `functions.postgresql.sql` again, then drops the helper. 0011's
downgrade applies this upgrade file again (all `CREATE OR REPLACE`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

from server.db import apply_migration_sql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # SQLite's row-level triggers apply every change at once
        apply_migration_sql(bind, "0010_subtree_pending_in_transaction", "upgrade")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # The functions this migration replaced, as 0008 and 0005 installed them (their checked-in SQL, applied again).
        apply_migration_sql(bind, "0008_subtree_rollups", "functions")
        apply_migration_sql(bind, "0005_indices_rollups", "functions")
        apply_migration_sql(bind, "0010_subtree_pending_in_transaction", "downgrade")

"""Cheaper rating inserts: PostgreSQL checks a rating's unit, counter, field and level on its rollup row; two unused
indexes go.

Foreign keys on `rating` cost PostgreSQL one executor start-up, index probe and row lock per key per inserted
rating: for a kiosk batch of 500, 2,500 checks, about 40 % of the database's work for the batch (perf on the
backends). Every rating has a row in `rating_rollup` carrying the same `unit_id`, `counter_id`, `field_id` and
`level` (migration 0005's triggers keep it in the same statement, whoever writes), so the same four foreign keys
on `rating_rollup` give the same guarantee (no rating names a unit, counter, field or level that does not exist,
and none of those can be deleted while a rating names it) for one check per new rollup key, a handful per batch.
An insert naming an unknown unit fails in the trigger's upsert with the rollup's foreign-key error. The
references to officers, visits and devices stay on `rating`. SQLite keeps all of them on `rating`: its row-level
triggers touch the rollups once per rating anyway, its checks are cheap, and moving them would mean rebuilding
`rating` (which `rating_reason` references) with foreign keys enforced. `migrations/env.py` tells the drift check
about the difference (`FOREIGN_KEYS_ON_ROLLUPS`).

`ix_rating_counter_day` and `ix_rating_field_day` served no query since the reports read the rollups: every
remaining query on `rating` filters by id, visit, device, unit or day, or walks the commented ratings.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (column, referenced table, referenced column)
MOVED = [
    ("unit_id", "unit", "id"),
    ("counter_id", "counter", "id"),
    ("field_id", "field", "id"),
    ("level", "scale_level", "level"),
]
DROPPED_INDEXES = {"ix_rating_counter_day": ["counter_id", "local_date"], "ix_rating_field_day": ["field_id", "local_date"]}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column, table, key in MOVED:
            op.create_foreign_key(f"fk_rating_rollup_{column}_{table}", "rating_rollup", table, [column], [key])
            op.drop_constraint(f"fk_rating_{column}_{table}", "rating", type_="foreignkey")
    with op.batch_alter_table("rating", schema=None) as batch_op:
        for name in DROPPED_INDEXES:
            batch_op.drop_index(name)


def downgrade() -> None:
    with op.batch_alter_table("rating", schema=None) as batch_op:
        for name, columns in DROPPED_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for column, table, key in MOVED:
            op.create_foreign_key(f"fk_rating_{column}_{table}", "rating", table, [column], [key])
            op.drop_constraint(f"fk_rating_rollup_{column}_{table}", "rating_rollup", type_="foreignkey")

"""The fields each counter serves (the kiosk asks for the field only when there are several), and what happened to
a console invitation at the kiosk: shown, declined there, or cancelled at the console.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VISIT_COLUMNS = ("shown_at", "declined_at", "cancelled_at")


def upgrade() -> None:
    op.create_table(
        "counter_field",
        sa.Column("counter_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["counter_id"], ["counter.id"], name=op.f("fk_counter_field_counter_id_counter")),
        sa.ForeignKeyConstraint(["field_id"], ["field.id"], name=op.f("fk_counter_field_field_id_field")),
        sa.PrimaryKeyConstraint("counter_id", "field_id", name=op.f("pk_counter_field")),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        for name in VISIT_COLUMNS:
            batch_op.add_column(sa.Column(name, server.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visit", schema=None) as batch_op:
        for name in reversed(VISIT_COLUMNS):
            batch_op.drop_column(name)
    op.drop_table("counter_field")

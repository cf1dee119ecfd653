"""kiosk ingest and pairing: pairing attempts (guessing limits); rating (device_id, rated_at) replaces (device_id)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pairing_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing_attempt'))
    )
    with op.batch_alter_table('pairing_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pairing_attempt_at'), ['at'], unique=False)

    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index('ix_rating_device_rated', ['device_id', 'rated_at'], unique=False)
        batch_op.drop_index(batch_op.f('ix_rating_device_id'))


def downgrade() -> None:
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_device_id'), ['device_id'], unique=False)
        batch_op.drop_index('ix_rating_device_rated')

    with op.batch_alter_table('pairing_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pairing_attempt_at'))

    op.drop_table('pairing_attempt')

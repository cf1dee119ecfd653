"""Public disclosure (/cong-khai): which unit subtrees are published, and the minimum sample for publication.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db

revision: str = '0016'
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('public_unit',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('changed_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_public_unit_unit_id_unit')),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_public_unit'))
    )
    op.create_table('public_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('min_sample', sa.Integer(), nullable=True),
    sa.Column('changed_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_setting'))
    )


def downgrade() -> None:
    op.drop_table('public_setting')
    op.drop_table('public_unit')

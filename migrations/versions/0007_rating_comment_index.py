"""A partial index on ratings that carry a comment, newest first for the dashboard's latest comments.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index(
            'ix_rating_commented',
            ['rated_at'],
            unique=False,
            postgresql_where=sa.text('comment IS NOT NULL'),
            sqlite_where=sa.text('comment IS NOT NULL'),
        )


def downgrade() -> None:
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index('ix_rating_commented')

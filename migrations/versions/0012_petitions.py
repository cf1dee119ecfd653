"""Petitions (phản ánh, kiến nghị): the petition and its history, the working-day calendar's exceptions, the
notification outbox and users' notification preferences.

`petition`'s columns id, unit_id, category, dossier_code, received_at, due_at, answered_at, reaction, reopened,
status, source and rating_id are read by the QĐ 766 score: never rename them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = server.db.UTCDateTime


def upgrade() -> None:
    op.create_table('petition',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('category', S(length=16), nullable=False),
    sa.Column('dossier_code', S(length=128), nullable=True),
    sa.Column('received_at', T(timezone=True), nullable=False),
    sa.Column('due_at', T(timezone=True), nullable=False),
    sa.Column('answered_at', T(timezone=True), nullable=True),
    sa.Column('reaction', S(length=16), nullable=True),
    sa.Column('reopened', sa.Boolean(), nullable=False),
    sa.Column('status', S(length=16), nullable=False),
    sa.Column('source', S(length=16), nullable=False),
    sa.Column('rating_id', sa.Uuid(), nullable=True),
    sa.Column('token', S(length=32), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('contact_name', S(length=255), nullable=True),
    sa.Column('contact_email', S(length=255), nullable=True),
    sa.Column('contact_phone', S(length=32), nullable=True),
    sa.Column('contact_erased_at', T(timezone=True), nullable=True),
    sa.Column('language', S(length=8), nullable=False),
    sa.Column('reacted_at', T(timezone=True), nullable=True),
    sa.Column('closed_at', T(timezone=True), nullable=True),
    sa.Column('created_at', T(timezone=True), nullable=False),
    sa.Column('updated_at', T(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['app_user.id'], name=op.f('fk_petition_assignee_id_app_user')),
    sa.ForeignKeyConstraint(['rating_id'], ['rating.id'], name=op.f('fk_petition_rating_id_rating')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_petition_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petition')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_petition_rating_id')),
    sa.UniqueConstraint('token', name=op.f('uq_petition_token')),
    )
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.create_index('ix_petition_unit_received', ['unit_id', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_dossier_code'), ['dossier_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_assignee_id'), ['assignee_id'], unique=False)

    op.create_table('petition_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('petition_id', sa.Uuid(), nullable=False),
    sa.Column('at', T(timezone=True), nullable=False),
    sa.Column('actor', S(length=128), nullable=False),
    sa.Column('action', S(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['petition_id'], ['petition.id'], name=op.f('fk_petition_event_petition_id_petition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petition_event')),
    )
    with op.batch_alter_table('petition_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_petition_event_petition_id'), ['petition_id'], unique=False)

    op.create_table('calendar_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('note', S(length=255), nullable=False),
    sa.Column('created_at', T(timezone=True), nullable=False),
    sa.Column('created_by', S(length=128), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_day')),
    )

    op.create_table('notification_pref',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', S(length=255), nullable=True),
    sa.Column('phone', S(length=32), nullable=True),
    sa.Column('language', S(length=8), nullable=False),
    sa.Column('new_petition', sa.Boolean(), nullable=False),
    sa.Column('due_soon', sa.Boolean(), nullable=False),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('weekly_digest', sa.Boolean(), nullable=False),
    sa.Column('low_rate', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_notification_pref_user_id_app_user')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_pref')),
    )

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', T(timezone=True), nullable=False),
    sa.Column('kind', S(length=32), nullable=False),
    sa.Column('channel', S(length=16), nullable=False),
    sa.Column('recipient', S(length=255), nullable=False),
    sa.Column('subject', S(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('dedupe_key', S(length=255), nullable=False),
    sa.Column('status', S(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', T(timezone=True), nullable=False),
    sa.Column('sent_at', T(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('petition_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['petition_id'], ['petition.id'], name=op.f('fk_notification_petition_id_petition')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_notification_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notification_dedupe_key')),
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_status_next', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_petition_id'), ['petition_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_petition_id'))
        batch_op.drop_index(batch_op.f('ix_notification_created_at'))
        batch_op.drop_index('ix_notification_status_next')
    op.drop_table('notification')
    op.drop_table('notification_pref')
    op.drop_table('calendar_day')
    with op.batch_alter_table('petition_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_petition_event_petition_id'))
    op.drop_table('petition_event')
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_petition_assignee_id'))
        batch_op.drop_index(batch_op.f('ix_petition_status'))
        batch_op.drop_index(batch_op.f('ix_petition_due_at'))
        batch_op.drop_index(batch_op.f('ix_petition_dossier_code'))
        batch_op.drop_index(batch_op.f('ix_petition_unit_id'))
        batch_op.drop_index('ix_petition_unit_received')
    op.drop_table('petition')

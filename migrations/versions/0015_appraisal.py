"""Who registered each visit: the officers' appraisal tells doubtful ratings apart by it.

`visit.created_by_kind` (`officer_session`, `manager_session`, `admin_session` or `api_key`), with the user or the
integration key. Visits registered before this revision are filled in from the audit log where it can tell: the
visits API audited every registration (`visit.create`, actor = username or `apikey:<prefix>`, target = counter
code, detail = field code, a few milliseconds after the visit's `created_at`), so each such audit row is matched to
the latest visit of that counter and field created at most a minute before it. The counter console did not audit its
visits; those stay NULL ("not recorded"). The rating tables and their rollup triggers are untouched.

Plain integer columns rather than foreign keys: on SQLite a foreign key can only be added by rebuilding `visit`,
which `rating.visit_id` references (and users and keys are deactivated, never deleted).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How long after a visit's creation its audit row may be written (same request: milliseconds in practice).
AUDIT_LAG = timedelta(seconds=60)


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite returns text for a plain DateTime column read without the app's type
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _backfill() -> None:
    conn = op.get_bind()
    audits = conn.execute(
        sa.text("SELECT at, actor, target, detail FROM audit_log WHERE action = 'visit.create' ORDER BY at")
    ).all()
    if not audits:
        return
    users = {row.username: (row.id, row.role) for row in conn.execute(sa.text('SELECT id, username, role FROM app_user'))}
    keys = {row.prefix: row.id for row in conn.execute(sa.text('SELECT id, prefix FROM api_key'))}
    visits: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    for row in conn.execute(
        sa.text(
            'SELECT v.id, v.created_at, c.code AS counter, f.code AS field FROM visit v'
            ' JOIN counter c ON c.id = v.counter_id JOIN field f ON f.id = v.field_id ORDER BY v.created_at'
        )
    ):
        visits.setdefault((row.counter, row.field), []).append((_utc(row.created_at), row.id))
    taken: set[int] = set()
    update = sa.text(
        'UPDATE visit SET created_by_kind = :kind, created_by_user_id = :user_id, created_by_key_id = :key_id'
        ' WHERE id = :id'
    )
    for audit in audits:
        at = _utc(audit.at)
        candidates = [
            visit_id
            for created_at, visit_id in visits.get((audit.target, audit.detail), [])
            if at - AUDIT_LAG <= created_at <= at and visit_id not in taken
        ]
        if not candidates:
            continue
        visit_id = candidates[-1]
        if audit.actor.startswith('apikey:'):
            params = {'kind': 'api_key', 'user_id': None, 'key_id': keys.get(audit.actor.removeprefix('apikey:'))}
        elif audit.actor in users:
            user_id, role = users[audit.actor]
            params = {'kind': f'{role}_session', 'user_id': user_id, 'key_id': None}
        else:
            continue
        taken.add(visit_id)
        conn.execute(update, {**params, 'id': visit_id})


def upgrade() -> None:
    op.add_column('visit', sa.Column('created_by_kind', sa.String(length=16), nullable=True))
    op.add_column('visit', sa.Column('created_by_user_id', sa.Integer(), nullable=True))
    op.add_column('visit', sa.Column('created_by_key_id', sa.Integer(), nullable=True))
    op.create_index('ix_visit_created_by_user_id', 'visit', ['created_by_user_id'], unique=False)
    _backfill()


def downgrade() -> None:
    op.drop_index('ix_visit_created_by_user_id', table_name='visit')
    op.drop_column('visit', 'created_by_key_id')
    op.drop_column('visit', 'created_by_user_id')
    op.drop_column('visit', 'created_by_kind')

"""Dossiers from the one-stop electronic system, for the QĐ 766 satisfaction score (issue 16).

`dossier` holds what the system sends (upserted by code) and what the score counts: `completed_on` (the local date
of `completed_at` for completed or returned dossiers), `overdue`, and two "disliked" flags kept exact by triggers,
so that a month's score is an index-only range scan of `ix_dossier_unit_completed` per unit instead of joins with
ratings and petitions:

- `rated_not_satisfied`: a valid (not misuse) not-satisfied rating whose visit names the dossier's code. Set when
  such a rating is inserted (PostgreSQL: once per INSERT statement, from its transition table; SQLite: a row trigger
  with a WHEN that skips satisfied ratings), recomputed when a rating's `satisfied`, `misuse` or `visit_id` changes.
- `petitioned`: a petition names the dossier's code. Set when one is inserted, recomputed for the old and the new
  code when a petition's `dossier_code` changes.

A dossier stored after its ratings or petitions gets both flags from `server.dossiers.service` when it is created
(dossier codes never change). The triggers' SQL is in `migrations/sql/0013_dossiers/`, applied as written. The upgrade needs no fill: the table is new.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from server.db import UTCDateTime, apply_migration_sql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def upgrade() -> None:
    op.create_table(
        "dossier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=True),
        sa.Column("procedure_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("rated_not_satisfied", sa.Boolean(), nullable=False),
        sa.Column("petitioned", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["field_id"], ["field.id"], name=op.f("fk_dossier_field_id_field")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_dossier_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier")),
        sa.UniqueConstraint("code", name=op.f("uq_dossier_code")),
    )
    op.create_index(
        "ix_dossier_unit_completed",
        "dossier",
        ["unit_id", "completed_on"],
        unique=False,
        postgresql_include=["field_id", "overdue", "rated_not_satisfied", "petitioned"],
    )
    op.create_index(
        "ix_visit_dossier_code",
        "visit",
        ["dossier_code"],
        unique=False,
        postgresql_where=sa.text("dossier_code IS NOT NULL"),
        sqlite_where=sa.text("dossier_code IS NOT NULL"),
    )
    bind = op.get_bind()
    apply_migration_sql(bind, "0013_dossiers", "upgrade")


def downgrade() -> None:
    bind = op.get_bind()
    apply_migration_sql(bind, "0013_dossiers", "downgrade")
    op.drop_index("ix_visit_dossier_code", table_name="visit")
    op.drop_index("ix_dossier_unit_completed", table_name="dossier")
    op.drop_table("dossier")

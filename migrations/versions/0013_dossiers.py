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
(dossier codes never change). The SQL is frozen here on purpose. The upgrade needs no fill: the table is new.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from server.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: A dossier row `dossier` has a valid not-satisfied rating (through its visit).
RATED_NOT_SATISFIED = (
    "EXISTS (SELECT 1 FROM visit v JOIN rating r ON r.visit_id = v.id"
    " WHERE v.dossier_code = dossier.code AND NOT r.satisfied AND NOT r.misuse)"
)
#: A dossier row `dossier` is named by a petition.
PETITIONED = "EXISTS (SELECT 1 FROM petition p WHERE p.dossier_code = dossier.code)"

SQLITE_TRIGGERS = {
    "trg_dossier_rating_insert": (
        "AFTER INSERT ON rating WHEN NOT NEW.satisfied AND NOT NEW.misuse AND NEW.visit_id IS NOT NULL",
        "UPDATE dossier SET rated_not_satisfied = 1"
        " WHERE code = (SELECT dossier_code FROM visit WHERE id = NEW.visit_id) AND NOT rated_not_satisfied;",
    ),
    "trg_dossier_rating_update": (
        "AFTER UPDATE OF satisfied, misuse, visit_id ON rating"
        " WHEN OLD.satisfied IS NOT NEW.satisfied OR OLD.misuse IS NOT NEW.misuse OR OLD.visit_id IS NOT NEW.visit_id",
        f"UPDATE dossier SET rated_not_satisfied = {RATED_NOT_SATISFIED}"
        " WHERE code IN (SELECT dossier_code FROM visit WHERE id IN (OLD.visit_id, NEW.visit_id));",
    ),
    "trg_dossier_petition_insert": (
        "AFTER INSERT ON petition WHEN NEW.dossier_code IS NOT NULL",
        "UPDATE dossier SET petitioned = 1 WHERE code = NEW.dossier_code AND NOT petitioned;",
    ),
    "trg_dossier_petition_update": (
        "AFTER UPDATE OF dossier_code ON petition WHEN OLD.dossier_code IS NOT NEW.dossier_code",
        f"UPDATE dossier SET petitioned = {PETITIONED} WHERE code IN (OLD.dossier_code, NEW.dossier_code);",
    ),
}

#: PostgreSQL: name → (table, timing and level, function body).
PG_TRIGGERS = {
    "trg_dossier_rating_insert": (
        "rating",
        "AFTER INSERT ON rating REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "UPDATE dossier d SET rated_not_satisfied = TRUE FROM new_rows n JOIN visit v ON v.id = n.visit_id"
        " WHERE NOT n.satisfied AND NOT n.misuse AND v.dossier_code = d.code AND NOT d.rated_not_satisfied;",
    ),
    "trg_dossier_rating_update": (
        "rating",
        "AFTER UPDATE OF satisfied, misuse, visit_id ON rating FOR EACH ROW WHEN (OLD.satisfied IS DISTINCT FROM"
        " NEW.satisfied OR OLD.misuse IS DISTINCT FROM NEW.misuse OR OLD.visit_id IS DISTINCT FROM NEW.visit_id)",
        f"UPDATE dossier SET rated_not_satisfied = {RATED_NOT_SATISFIED}"
        " WHERE code IN (SELECT dossier_code FROM visit WHERE id IN (OLD.visit_id, NEW.visit_id));",
    ),
    "trg_dossier_petition_insert": (
        "petition",
        "AFTER INSERT ON petition REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "UPDATE dossier d SET petitioned = TRUE FROM new_rows n"
        " WHERE n.dossier_code = d.code AND NOT d.petitioned;",
    ),
    "trg_dossier_petition_update": (
        "petition",
        "AFTER UPDATE OF dossier_code ON petition FOR EACH ROW"
        " WHEN (OLD.dossier_code IS DISTINCT FROM NEW.dossier_code)",
        f"UPDATE dossier SET petitioned = {PETITIONED} WHERE code IN (OLD.dossier_code, NEW.dossier_code);",
    ),
}


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
    if op.get_bind().dialect.name == "postgresql":
        for name, (_table, when, body) in PG_TRIGGERS.items():
            op.execute(
                f"CREATE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  {body}\n"
                "  RETURN NULL;\nEND\n$$"
            )
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {name}_fn()")
    else:
        for name, (when, body) in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when}\nBEGIN\n  {body}\nEND")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, _when, _body) in PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}_fn()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_visit_dossier_code", table_name="visit")
    op.drop_index("ix_dossier_unit_completed", table_name="dossier")
    op.drop_table("dossier")

"""All tables of the central store. Alembic migrations (migrations/) are the only source of the schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CHANNELS = ("kiosk", "phone")
ROLES = ("admin", "manager", "officer")
API_KEY_KINDS = ("visits", "read")
#: Who may register a visit: a login session of one of these roles, or an integration key.
VISIT_CREATOR_KINDS = ("officer_session", "manager_session", "admin_session", "api_key")


class Unit(SQLModel, table=True):
    """A node of the organisation tree (province centre, commune desk, anything between)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    level: str = Field(default="", max_length=64, description="free label: tỉnh, xã, phường, …")
    active: bool = Field(default=True)
    # Materialised path of ids, "/1/7/42/": a subtree is `path LIKE '/1/7/%'`. Kept by server.units.service.
    path: str = Field(default="/", max_length=2048, index=True)


class Counter(SQLModel, table=True):
    """A service counter (quầy) of a unit; a kiosk is paired to one."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    name: str = Field(max_length=255)
    active: bool = Field(default=True)


class CounterField(SQLModel, table=True):
    """A procedure field served at a counter. A counter without rows serves every active field; the kiosk asks
    the citizen for the field only when the counter serves several."""

    __tablename__ = "counter_field"
    counter_id: int = Field(foreign_key="counter.id", primary_key=True)
    field_id: int = Field(foreign_key="field.id", primary_key=True)


class Officer(SQLModel, table=True):
    """A one-stop officer (cán bộ một cửa); ratings may name the officer who served."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    active: bool = Field(default=True)


class TargetGroup(SQLModel, table=True):
    """A group the resolution sets targets for: `all`, `lci`, `health_education`."""

    __tablename__ = "target_group"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name_vi: str = Field(max_length=255)
    name_en: str = Field(max_length=255)


class CodedChoice(SQLModel):
    """A coded entry of a list people choose from (fields, reasons): names in both languages, an order, and whether it
    is offered (an entry is deactivated, never deleted: stored ratings keep naming it)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name_vi: str = Field(max_length=255)
    name_en: str = Field(max_length=255)
    sort_order: int = Field(default=0)
    active: bool = Field(default=True)


class ProcedureField(CodedChoice, table=True):
    """A procedure field (lĩnh vực): land, construction, investment, …"""

    __tablename__ = "field"


class FieldGroup(SQLModel, table=True):
    """Membership of a field in a target group (a field may be in zero or more groups)."""

    __tablename__ = "field_group"
    field_id: int = Field(foreign_key="field.id", primary_key=True)
    group_id: int = Field(foreign_key="target_group.id", primary_key=True)


class Target(SQLModel, table=True):
    """A milestone: from `year_from` on, the group's rate should be at least `threshold` (0..1)."""

    __table_args__ = (sa.UniqueConstraint("group_id", "year_from", name="uq_target_group_year"),)
    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="target_group.id", index=True)
    year_from: int
    threshold: float


class ScaleLevel(SQLModel, table=True):
    """A level of the rating scale; the index uses only its `satisfied` flag."""

    __tablename__ = "scale_level"
    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name_vi: str = Field(max_length=255)
    name_en: str = Field(max_length=255)
    satisfied: bool


class Reason(CodedChoice, table=True):
    """A follow-up reason offered when a citizen is not satisfied."""


class KioskDevice(SQLModel, table=True):
    """A paired touch-screen kiosk; only a hash of its bearer token is stored."""

    __tablename__ = "kiosk_device"
    id: int | None = Field(default=None, primary_key=True)
    counter_id: int = Field(foreign_key="counter.id", index=True)
    token_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    app_version: str | None = Field(default=None, max_length=64)
    backlog: int = Field(default=0, description="ratings waiting in the kiosk's outbox at its last report")
    clock_offset_seconds: float | None = Field(default=None, description="server clock minus kiosk clock")
    clock_flagged: bool = Field(default=False, description="offset beyond tolerance: the administrator should look")
    last_press_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="time of the latest walk-up press (misuse window)"
    )


class PairingCode(SQLModel, table=True):
    """A single-use code that a kiosk exchanges for its device token."""

    __tablename__ = "pairing_code"
    id: int | None = Field(default=None, primary_key=True)
    counter_id: int = Field(foreign_key="counter.id", index=True)
    code_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    device_id: int | None = Field(default=None, foreign_key="kiosk_device.id")


class Visit(SQLModel, table=True):
    """A served citizen's visit at a counter; its token is the phone link and the QR code."""

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=16, unique=True)
    counter_id: int = Field(foreign_key="counter.id", index=True)
    field_id: int = Field(foreign_key="field.id")
    procedure_code: str | None = Field(default=None, max_length=64)
    dossier_code: str | None = Field(default=None, max_length=128)
    officer_id: int | None = Field(default=None, foreign_key="officer.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who registered the visit (migration 0015; NULL: registered before creators were recorded and not found in
    # the audit log). The appraisal reads it to tell doubtful ratings apart; the console shows a user only theirs.
    created_by_kind: str | None = Field(
        default=None, max_length=16, description="officer_session | manager_session | admin_session | api_key"
    )
    # Plain ids, not foreign keys: SQLite can add one only by rebuilding `visit` (see the migration).
    created_by_user_id: int | None = Field(default=None, index=True, description="app_user.id of a session")
    created_by_key_id: int | None = Field(default=None, description="api_key.id of an integration key")
    # What happened to the invitation at the counter (the console shows it while it waits).
    shown_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="the kiosk showed the faces")
    declined_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="skipped on the kiosk")
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="withdrawn at the console")


class Rating(SQLModel, table=True):
    """One citizen's answer. Never deleted: misuse is flagged, kept and counted apart."""

    __table_args__ = (
        sa.Index("ix_rating_unit_day", "unit_id", "local_date"),
        sa.Index("ix_rating_local_date", "local_date"),
        # Comments are few: the dashboard's "latest comments" walks this small index newest first.
        sa.Index(
            "ix_rating_commented",
            "rated_at",
            postgresql_where=sa.text("comment IS NOT NULL"),
            sqlite_where=sa.text("comment IS NOT NULL"),
        ),
    )
    # PostgreSQL enforces the references of level, field, unit and counter on the rating's rollup row (migration
    # 0009, migrations/env.py): once per rollup key instead of once per rating.
    id: uuid.UUID = Field(primary_key=True, description="client-generated UUID: the idempotency key")
    level: int = Field(foreign_key="scale_level.level")
    satisfied: bool
    field_id: int = Field(foreign_key="field.id")
    unit_id: int = Field(foreign_key="unit.id")
    counter_id: int = Field(foreign_key="counter.id")
    officer_id: int | None = Field(default=None, foreign_key="officer.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="visit.id", unique=True)
    channel: str = Field(max_length=16)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    contact: str | None = Field(default=None, max_length=255)
    contact_consent: bool = Field(default=False)
    rated_at: datetime = Field(sa_type=UTCDateTime, description="when the citizen rated (clock-corrected)")
    client_rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="as the device sent it")
    local_date: date = Field(description="calendar day of rated_at in the reporting time zone")
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    device_id: int | None = Field(default=None, foreign_key="kiosk_device.id")  # indexed with rated_at, below
    misuse: bool = Field(default=False)
    misuse_reason: str | None = Field(default=None, max_length=64)


class RatingReason(SQLModel, table=True):
    """A reason chosen with a rating (several per rating)."""

    __tablename__ = "rating_reason"
    rating_id: uuid.UUID = Field(foreign_key="rating.id", primary_key=True)
    reason_id: int = Field(foreign_key="reason.id", primary_key=True, index=True)


class User(SQLModel, table=True):
    """A person who logs in: admin, manager (a unit and its subtree) or officer."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    officer_id: int | None = Field(default=None, foreign_key="officer.id")
    display_name: str = Field(default="", max_length=255)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A key for another system: `visits` (register visits) or `read` (indices, exports) for a unit's subtree."""

    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    key_hash: str = Field(max_length=128, unique=True)
    prefix: str = Field(max_length=16, description="first characters, to tell keys apart in lists")
    label: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditLog(SQLModel, table=True):
    """Who did what: admin changes, logins, exports."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=255)
    detail: str = Field(default="", sa_type=sa.Text)
    ip: str | None = Field(default=None, max_length=64)


# --- rollups (indices) ---
# Pre-aggregated counts of `rating` and `rating_reason` that month reports read instead of raw ratings. They are
# kept exact by database triggers created in migration 0005 (not by application code, so every ingest path is
# covered: kiosk batches, phone ratings, bulk inserts, misuse flags set later). `officer_id` 0 stands for "no
# officer named" because a key column cannot hold NULL (and NULLs never collide in unique keys). Reason counts cover
# valid ratings only. `hailong rollup rebuild` recomputes all of them (the subtree ones below too) from the raw ratings.


def _rollup_key(**kwargs: Any) -> Any:
    return Field(primary_key=True, sa_column_kwargs={"autoincrement": False}, **kwargs)


def _rollup_key_args(*keys: str, counts: list[str]) -> tuple[Any, ...]:
    # The primary key carries the counts (PostgreSQL INCLUDE): reports are index-only scans, whatever order the
    # rows lie in. SQLite stores these tables in key order anyway (WITHOUT ROWID).
    return (sa.PrimaryKeyConstraint(*keys, postgresql_include=counts), {"sqlite_with_rowid": False})


class RatingRollup(SQLModel, table=True):
    """Ratings per reporting day × unit × counter × field × officer × channel × level × satisfied × misuse."""

    __tablename__ = "rating_rollup"
    __table_args__ = _rollup_key_args(
        "unit_id",
        "day",
        "counter_id",
        "field_id",
        "officer_id",
        "channel",
        "level",
        "satisfied",
        "misuse",
        counts=["n"],
    )
    unit_id: int = _rollup_key()
    day: date = _rollup_key(description="the ratings' local_date")
    counter_id: int = _rollup_key()
    field_id: int = _rollup_key()
    officer_id: int = _rollup_key(description="0: no officer named")
    channel: str = _rollup_key(max_length=16)
    level: int = _rollup_key()
    satisfied: bool = _rollup_key()
    misuse: bool = _rollup_key()
    n: int = Field(description="ratings with exactly this key")


class RatingReasonRollup(SQLModel, table=True):
    """Reasons chosen with valid ratings, per reporting day × unit × counter × field × officer × channel × reason."""

    __tablename__ = "rating_reason_rollup"
    __table_args__ = _rollup_key_args(
        "unit_id", "day", "counter_id", "field_id", "officer_id", "channel", "reason_id", counts=["n"]
    )
    unit_id: int = _rollup_key()
    day: date = _rollup_key()
    counter_id: int = _rollup_key()
    field_id: int = _rollup_key()
    officer_id: int = _rollup_key(description="0: no officer named")
    channel: str = _rollup_key(max_length=16)
    reason_id: int = _rollup_key()
    n: int = Field(description="valid ratings with this key that chose the reason")


#: Levels the month rollup has a column for; a scale with any other level makes month reports use the day rollup.
MONTH_ROLLUP_LEVELS = (1, 2, 3, 4, 5)


class MonthCounts(SQLModel):
    """A month rollup row's counts (leaf or subtree): valid, satisfied and misused ratings, valid ones per level."""

    valid: int = Field(description="ratings not flagged as misuse")
    satisfied: int = Field(description="valid ratings at a satisfied level")
    misuse: int = Field(description="ratings flagged as misuse")
    level_1: int = Field(description="valid ratings at level 1")
    level_2: int = Field(description="valid ratings at level 2")
    level_3: int = Field(description="valid ratings at level 3")
    level_4: int = Field(description="valid ratings at level 4")
    level_5: int = Field(description="valid ratings at level 5")


class RatingMonthRollup(MonthCounts, table=True):
    """Ratings per month × unit × field, one row each, levels as columns: national month reports in milliseconds."""

    __tablename__ = "rating_month_rollup"
    __table_args__ = _rollup_key_args(
        "month",
        "unit_id",
        "field_id",
        counts=["valid", "satisfied", "misuse", *(f"level_{lv}" for lv in MONTH_ROLLUP_LEVELS)],
    )
    month: date = _rollup_key(description="first day of the month of the ratings' local_date")
    unit_id: int = _rollup_key()
    field_id: int = _rollup_key()


class RatingReasonMonthRollup(SQLModel, table=True):
    """Reasons chosen with valid ratings, per month × unit × field × reason."""

    __tablename__ = "rating_reason_month_rollup"
    __table_args__ = _rollup_key_args("month", "unit_id", "field_id", "reason_id", counts=["n"])
    month: date = _rollup_key()
    unit_id: int = _rollup_key()
    field_id: int = _rollup_key()
    reason_id: int = _rollup_key()
    n: int = Field(description="valid ratings with this key that chose the reason")


# Subtree rollups (migration 0008): the month rollups again, but each row counts its unit's whole subtree (the unit
# itself and every unit below it), so a unit's figures and the public disclosure page read stored rows instead of adding
# every leaf row into its ancestors at read time. Triggers on `rating` and `rating_reason` add each change to the
# unit and its ancestors (from `unit.path`; on PostgreSQL once per transaction, at commit, from a transaction-local
# setting or, for large transactions, `rating_subtree_pending`: migration 0010); a trigger on `unit` moves the counts
# when a path changes. No INCLUDE on the primary key: count updates then touch no index and PostgreSQL can apply
# them in place (HOT), which the rows near the root, updated by every batch, need more than index-only reads of one
# unit's few rows.


def _subtree_key_args(*keys: str) -> tuple[Any, ...]:
    return (sa.PrimaryKeyConstraint(*keys), {"sqlite_with_rowid": False})


class RatingSubtreeMonthRollup(MonthCounts, table=True):
    """Ratings per month × unit × field counting the unit and everything below it, levels as columns."""

    __tablename__ = "rating_subtree_month_rollup"
    __table_args__ = _subtree_key_args("month", "unit_id", "field_id")
    month: date = _rollup_key(description="first day of the month of the ratings' local_date")
    unit_id: int = _rollup_key(description="the unit whose subtree is counted")
    field_id: int = _rollup_key()


class RatingReasonSubtreeMonthRollup(SQLModel, table=True):
    """Reasons chosen with valid ratings, per month × unit (with its whole subtree) × field × reason."""

    __tablename__ = "rating_reason_subtree_month_rollup"
    __table_args__ = _subtree_key_args("month", "unit_id", "field_id", "reason_id")
    month: date = _rollup_key()
    unit_id: int = _rollup_key(description="the unit whose subtree is counted")
    field_id: int = _rollup_key()
    reason_id: int = _rollup_key()
    n: int = Field(description="valid ratings with this key that chose the reason")


class RatingSubtreePending(SQLModel, table=True):
    """PostgreSQL: a large transaction's changes to the subtree rollups, per month × leaf unit × field (reason_id 0:
    counts) or × reason (n), applied to the unit and its ancestors when the transaction commits (migrations 0008 and
    0010: smaller transactions keep them in the setting `hailong.subtree_pending` and write no row here)."""

    __tablename__ = "rating_subtree_pending"
    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    month: date
    unit_id: int = Field(description="the unit the ratings were given at")
    field_id: int
    reason_id: int = Field(description="0: the row carries counts; otherwise n counts this reason")
    valid: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    satisfied: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    misuse: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    level_1: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    level_2: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    level_3: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    level_4: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    level_5: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    n: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class RatingSubtreeFlush(SQLModel, table=True):
    """PostgreSQL: a transaction with pending subtree changes; its deferred trigger applies them at commit."""

    __tablename__ = "rating_subtree_flush"
    txid: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False})


# --- Kiosk ingest and pairing (issue 3) ---------------------------------------------------------------------------

#: Misuse detection looks up one device's presses around a time: (device_id, rated_at). It replaces the plain
#: device_id index (same leading column): one index fewer to maintain on every insert.
sa.Index("ix_rating_device_rated", Rating.device_id, Rating.rated_at)  # type: ignore[arg-type]


class PairingAttempt(SQLModel, table=True):
    """A try at `POST /api/v1/kiosks/pair`, kept to slow down guessing (failures per client and overall)."""

    __tablename__ = "pairing_attempt"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    client: str = Field(max_length=64, description="the caller's address")
    succeeded: bool = Field(default=False)


# --- Dashboard, exports and admin (issue 6): server-side login sessions -----------------------------------------


class LoginSession(SQLModel, table=True):
    """A logged-in browser. The cookie holds a 256-bit random id; only its SHA-256 is stored here."""

    __tablename__ = "login_session"
    id_hash: str = Field(primary_key=True, max_length=64, description="SHA-256 (hex) of the session id")
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, description="absolute timeout base")
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True, description="idle base")
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str = Field(default="", max_length=255)


# --- Petitions (issue 15: phản ánh, kiến nghị) -------------------------------------------------------------------
# `petition`'s first columns are shared with the QĐ 766 score: never rename them.

PETITION_CATEGORIES = ("tthc", "staff", "other")
PETITION_STATUSES = ("received", "assigned", "answered", "closed", "reopened")
PETITION_SOURCES = ("rating", "form", "import")
PETITION_REACTIONS = ("satisfied", "not_satisfied")


class Petition(SQLModel, table=True):
    """A petition (phản ánh, kiến nghị): a complaint or proposal a unit must answer within its working days."""

    __table_args__ = (sa.Index("ix_petition_unit_received", "unit_id", "received_at"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, description="client UUID for imports")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    category: str = Field(max_length=16, description="tthc | staff | other")
    dossier_code: str | None = Field(default=None, max_length=128, index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime, index=True, description="end of the due working day (local)")
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="the latest answer")
    reaction: str | None = Field(default=None, max_length=16, description="satisfied | not_satisfied")
    reopened: bool = Field(default=False)
    status: str = Field(default="received", max_length=16, index=True)
    source: str = Field(max_length=16, description="rating | form | import")
    rating_id: uuid.UUID | None = Field(default=None, foreign_key="rating.id", unique=True)
    # --- the petitions feature's own columns
    token: str = Field(max_length=32, unique=True, description="the citizen's private link /pakn/<token>")
    content: str = Field(sa_type=sa.Text)
    answer: str | None = Field(default=None, sa_type=sa.Text, description="the latest answer, as the citizen sees it")
    assignee_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    contact_name: str | None = Field(default=None, max_length=255)
    contact_email: str | None = Field(default=None, max_length=255)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    language: str = Field(default="vi", max_length=8, description="the citizen's language, for messages")
    reacted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PetitionEvent(SQLModel, table=True):
    """A step of a petition's handling (received, assigned, answered, reacted, reopened, closed, contact viewed…)."""

    __tablename__ = "petition_event"
    id: int | None = Field(default=None, primary_key=True)
    petition_id: uuid.UUID = Field(foreign_key="petition.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    body: str | None = Field(default=None, sa_type=sa.Text, description="an answer's text, a note")


class CalendarDay(SQLModel, table=True):
    """A day an administrator made a working day (a make-up Saturday) or a day off, over the built-in calendar."""

    __tablename__ = "calendar_day"
    day: date = Field(primary_key=True)
    working: bool
    note: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=128)


class NotificationPref(SQLModel, table=True):
    """Where and what a user wants to be told (email and/or SMS text)."""

    __tablename__ = "notification_pref"
    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    email: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=32)
    language: str = Field(default="vi", max_length=8)
    new_petition: bool = Field(default=True)
    due_soon: bool = Field(default=True)
    overdue: bool = Field(default=True)
    weekly_digest: bool = Field(default=True)
    low_rate: bool = Field(default=True)


class Notification(SQLModel, table=True):
    """The outbox: one message to send by email or SMS, kept after sending (the log of every message)."""

    __table_args__ = (sa.Index("ix_notification_status_next", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    kind: str = Field(max_length=32, description="new_petition, due_soon, overdue, digest, low_rate, answer")
    channel: str = Field(max_length=16, description="email | sms")
    recipient: str = Field(max_length=255)
    subject: str = Field(default="", max_length=255)
    body: str = Field(sa_type=sa.Text)
    dedupe_key: str = Field(max_length=255, unique=True, description="the same message is never queued twice")
    status: str = Field(default="pending", max_length=16, description="pending | sent | failed")
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    petition_id: uuid.UUID | None = Field(default=None, foreign_key="petition.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")


# --- Dossiers from the one-stop system and the QĐ 766 score (issue 16) ---------------------------------------------

DOSSIER_STATUSES = ("received", "processing", "completed", "returned", "cancelled")
#: Statuses that end a dossier: it counts in the QĐ 766 denominator of the month of its `completed_at`.
DOSSIER_DONE = ("completed", "returned")


class Dossier(SQLModel, table=True):
    """A dossier (hồ sơ TTHC) as the one-stop electronic system reports it; upserted by `code`, never deleted.

    `completed_on` and `overdue` are derived by `server.dossiers.service` from what the system sends; the two
    "disliked" flags are kept by database triggers (migration 0013) on every write to `rating` and `petition`, so the
    QĐ 766 score counts stored flags instead of joining ratings and petitions at read time.
    """

    __table_args__ = (
        # The score reads a month's completed dossiers of each unit of a subtree: one short range per unit, and an
        # index-only scan on PostgreSQL (it also serves lookups by unit alone).
        sa.Index(
            "ix_dossier_unit_completed",
            "unit_id",
            "completed_on",
            postgresql_include=["field_id", "overdue", "rated_not_satisfied", "petitioned"],
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=128, unique=True)
    unit_id: int = Field(foreign_key="unit.id")
    field_id: int | None = Field(default=None, foreign_key="field.id")
    procedure_code: str | None = Field(default=None, max_length=64)
    received_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(max_length=16)
    completed_on: date | None = Field(
        default=None, description="local date of completed_at when completed or returned (the score's month)"
    )
    overdue: bool = Field(default=False, description="completed or returned after due_at")
    rated_not_satisfied: bool = Field(default=False, description="a valid not-satisfied rating names it (trigger)")
    petitioned: bool = Field(default=False, description="a petition names it (trigger)")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


#: A rating's dossier is found through its visit's `dossier_code` (the dossier triggers and the drill-down).
sa.Index(
    "ix_visit_dossier_code",
    Visit.dossier_code,  # type: ignore[arg-type]
    postgresql_where=sa.text("dossier_code IS NOT NULL"),
    sqlite_where=sa.text("dossier_code IS NOT NULL"),
)


class LoginThrottle(SQLModel, table=True):
    """Failed logins in the current window, per username and source (an IPv4 address or an IPv6 /64).

    One row per (username, source) pair; `username` "" is the source's row across all names. Counted with one
    atomic upsert per attempt (server/auth/sessions.py), so parallel guesses cannot slip past the limit, and a
    pair past it only refuses that pair: a guesser elsewhere cannot lock the real user out.
    """

    __tablename__ = "login_throttle"
    username: str = Field(primary_key=True, max_length=64)
    source: str = Field(primary_key=True, max_length=64)
    window_start: datetime = Field(sa_type=UTCDateTime, index=True)
    failures: int = Field(default=0, description="attempts in the window not (yet) proven right")
    refused: int = Field(default=0, description="attempts refused in the window (one audit row per window)")


# --- Public disclosure (issue 17, /cong-khai) ------------------------------------------------------------------------


class PublicUnit(SQLModel, table=True):
    """Whether a unit's subtree is published at /cong-khai: the nearest setting on the unit's path wins; with none
    on the path, a top-level unit (the province) and everything below it is public."""

    __tablename__ = "public_unit"
    unit_id: int = Field(primary_key=True, foreign_key="unit.id")
    published: bool
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    changed_by: str = Field(default="", max_length=64)


class PublicSetting(SQLModel, table=True):
    """The public pages' settings, one row (id 1): the minimum sample below which a published rate is withheld
    (None: the index's `HAILONG_MIN_SAMPLE`)."""

    __tablename__ = "public_setting"
    id: int = Field(default=1, primary_key=True)
    min_sample: int | None = Field(default=None)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    changed_by: str = Field(default="", max_length=64)

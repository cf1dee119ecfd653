"""Petitions: filing (from a rating, the public form, an import), handling (assign, answer, close), the citizen's
reaction, scope, contacts and their erasure. Services never commit: the request or the command does.

Lifecycle: `received` → `assigned` → `answered` → `closed` (the citizen is satisfied, says nothing, or the manager
closes it). A citizen who is not satisfied with an answer reopens the petition once (`reopened`, back to the
handlers; its due date stays the legal one); after a second answer their reaction is final and closes it.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from server.auth.service import audit
from server.config import Settings
from server.db import utcnow
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.models import (
    PETITION_CATEGORIES,
    PETITION_REACTIONS,
    Petition,
    Unit,
    User,
)
from server.petitions.calendar import WorkingCalendar, load_calendar
from server.tables import PETITION, PETITION_EVENT, RATING, UNIT, VISIT
from server.units.service import is_in_subtree, path_in_subtree

OPEN_STATUSES = ("received", "assigned", "reopened")
MAX_CONTENT = 4000
MAX_ANSWER = 4000
#: A petition "due soon" is due within this many working days.
DUE_SOON_WORKING_DAYS = 2
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 .\-]{7,18}$")


def new_token() -> str:
    """The citizen's private link token: 24 URL-safe characters (144 random bits)."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Contact:
    """How to reach the citizen (any may be empty)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None


def split_contact(text: str | None) -> Contact:
    """A free-text contact (the phone form's one field) as an email address, a phone number, or a name."""
    value = " ".join((text or "").split())
    if not value:
        return Contact()
    if _EMAIL.match(value):
        return Contact(email=value[:255])
    if _PHONE.match(value):
        return Contact(phone=re.sub(r"[ .\-]", "", value)[:32])
    return Contact(name=value[:255])


def check_email(value: str) -> str | None:
    """The email address trimmed, None when empty; `Invalid` when it is not one."""
    value = value.strip()
    if not value:
        return None
    if len(value) > 255 or not _EMAIL.match(value):
        raise Invalid("the email address is not valid")
    return value


def check_phone(value: str) -> str | None:
    """The phone number without spaces, dots or dashes, None when empty; `Invalid` when it is not one."""
    value = value.strip()
    if not value:
        return None
    if not _PHONE.match(value):
        raise Invalid("the phone number is not valid")
    return re.sub(r"[ .\-]", "", value)


def _event(session: Session, petition_id: uuid.UUID, actor: str, action: str, body: str | None = None) -> None:
    session.connection().execute(
        sa.insert(PETITION_EVENT).values(petition_id=petition_id, at=utcnow(), actor=actor, action=action, body=body)
    )


def _audit(
    session: Session, actor: str, action: str, petition: Petition, detail: str = "", ip: str | None = None
) -> None:
    audit(session=session, actor=actor, action=action, target=f"petition:{petition.id}", detail=detail, ip=ip)


def compute_due(*, settings: Settings, calendar: WorkingCalendar, category: str, received_at: datetime) -> datetime:
    """The due date of a petition of `category` received at `received_at`."""
    return calendar.due_at(received_at, settings.petition_days(category), settings.tz)


def create_petition(
    *,
    session: Session,
    settings: Settings,
    unit_id: int,
    category: str,
    content: str,
    source: str,
    actor: str,
    received_at: datetime | None = None,
    contact: Contact | None = None,
    dossier_code: str | None = None,
    rating_id: uuid.UUID | None = None,
    language: str = "vi",
    petition_id: uuid.UUID | None = None,
    calendar: WorkingCalendar | None = None,
    queue: bool = True,
) -> Petition:
    """File a petition: due date from the working-day calendar, a private token, its first event, and the
    notifications to the unit's managers (queued in the same transaction)."""
    from server.petitions import notify  # late import: notify builds on this module

    if category not in PETITION_CATEGORIES:
        raise Invalid("category must be one of {categories}", categories=", ".join(PETITION_CATEGORIES))
    received_at = received_at or utcnow()
    calendar = calendar or load_calendar(session=session)
    contact = contact or Contact()
    now = utcnow()
    petition = Petition(
        id=petition_id or uuid.uuid4(),
        unit_id=unit_id,
        category=category,
        dossier_code=dossier_code or None,
        received_at=received_at,
        due_at=compute_due(settings=settings, calendar=calendar, category=category, received_at=received_at),
        status="received",
        source=source,
        rating_id=rating_id,
        token=new_token(),
        content=content,
        contact_name=contact.name,
        contact_email=contact.email,
        contact_phone=contact.phone,
        language=language if language in ("vi", "en") else "vi",
        created_at=now,
        updated_at=now,
    )
    session.add(petition)
    session.flush()
    _event(session, petition.id, actor, "received")
    _audit(session, actor, "petition.create", petition, f"source={source}")
    if queue:
        notify.queue_new_petition(session=session, settings=settings, petition=petition)
    return petition


def becomes_petition(*, satisfied: bool, misuse: bool, comment: str | None, contact_consent: bool) -> bool:
    """Whether a rating becomes a petition: not satisfied, not misuse, a comment, and consent to be contacted."""
    return not satisfied and not misuse and bool((comment or "").strip()) and contact_consent


def petition_from_rating(
    *, session: Session, settings: Settings, rating_id: uuid.UUID, language: str = "vi"
) -> Petition | None:
    """The petition a rating becomes when it is not satisfied, carries a comment and the citizen agreed to be
    contacted (any channel; misuse excluded); None when it does not qualify. Idempotent: one per rating."""
    row = (
        session.connection()
        .execute(
            sa.select(
                RATING.c.id,
                RATING.c.unit_id,
                RATING.c.satisfied,
                RATING.c.comment,
                RATING.c.contact,
                RATING.c.contact_consent,
                RATING.c.misuse,
                RATING.c.rated_at,
            ).where(RATING.c.id == rating_id)
        )
        .first()
    )
    if row is None or not becomes_petition(
        satisfied=row.satisfied, misuse=row.misuse, comment=row.comment, contact_consent=row.contact_consent
    ):
        return None
    existing = session.connection().execute(sa.select(PETITION.c.id).where(PETITION.c.rating_id == rating_id)).first()
    if existing is not None:
        return session.get(Petition, existing.id)
    return create_petition(
        session=session,
        settings=settings,
        unit_id=row.unit_id,
        category="other",
        content=row.comment.strip()[:MAX_CONTENT],
        source="rating",
        actor="citizen",
        received_at=row.rated_at,
        contact=split_contact(row.contact),
        rating_id=row.id,
        language=language,
    )


def petition_token_of_visit(*, session: Session, visit_token: str) -> str | None:
    """The private token of the petition a visit's rating became, if any (for the phone thanks page)."""
    return (
        session.connection()
        .execute(
            sa.select(PETITION.c.token)
            .join(RATING, RATING.c.id == PETITION.c.rating_id)
            .join(VISIT, VISIT.c.id == RATING.c.visit_id)
            .where(VISIT.c.token == visit_token)
        )
        .scalar()
    )


# --- finding petitions ----------------------------------------------------------------------------------------------


def by_token(*, session: Session, token: str) -> Petition:
    """The petition behind a private link, or 404."""
    if not token or len(token) > 64:
        raise NotFound("unknown petition link")
    petition = session.execute(sa.select(Petition).where(PETITION.c.token == token)).scalars().first()
    if petition is None:
        raise NotFound("unknown petition link")
    return petition


def in_scope(*, session: Session, petition_id: uuid.UUID | str, root: Unit | None) -> Petition:
    """The petition if it belongs to `root`'s subtree (None: every unit); 404 otherwise (its existence is not told)."""
    try:
        pid = petition_id if isinstance(petition_id, uuid.UUID) else uuid.UUID(str(petition_id))
    except ValueError as exc:
        raise NotFound("unknown petition") from exc
    petition = session.get(Petition, pid)
    if petition is None:
        raise NotFound("unknown petition")
    if root is not None:
        unit = session.get(Unit, petition.unit_id)
        if unit is None or not is_in_subtree(unit=unit, root=root):
            raise NotFound("unknown petition")
    return petition


@dataclass(frozen=True)
class InboxFilter:
    """The inbox's filters (all optional)."""

    status: str = ""  # a status, or "open"
    unit: str = ""  # a unit code within scope
    category: str = ""
    due: str = ""  # "soon" | "overdue"
    assignee_id: int | None = None  # only the petitions given to this person (officers)


@dataclass(frozen=True)
class InboxRow:
    """One petition as the inbox lists it."""

    id: uuid.UUID
    unit_code: str
    unit_name: str
    category: str
    status: str
    received_at: datetime
    due_at: datetime
    content: str
    assignee: str | None
    urgency: str  # "overdue" | "soon" | ""


def urgency(*, status: str, due_at: datetime, now: datetime, calendar: WorkingCalendar, settings: Settings) -> str:
    """`overdue` (open and past due), `soon` (open, due within 2 working days) or ''."""
    if status not in OPEN_STATUSES:
        return ""
    if due_at < now:
        return "overdue"
    left = calendar.working_days_between(now.astimezone(settings.tz).date(), due_at.astimezone(settings.tz).date())
    return "soon" if left <= DUE_SOON_WORKING_DAYS else ""


def inbox(
    *,
    session: Session,
    settings: Settings,
    root: Unit | None,
    filters: InboxFilter,
    now: datetime | None = None,
    limit: int = 200,
) -> list[InboxRow]:
    """The petitions of `root`'s subtree matching `filters`, due first (open ones), newest received last."""
    now = now or utcnow()
    calendar = load_calendar(session=session)
    assignee = sa.table("app_user", sa.column("id"), sa.column("username"), sa.column("display_name"))
    query = (
        sa.select(
            PETITION.c.id,
            PETITION.c.category,
            PETITION.c.status,
            PETITION.c.received_at,
            PETITION.c.due_at,
            PETITION.c.content,
            UNIT.c.code,
            UNIT.c.name,
            assignee.c.username,
            assignee.c.display_name,
        )
        .join(UNIT, UNIT.c.id == PETITION.c.unit_id)
        .outerjoin(assignee, assignee.c.id == PETITION.c.assignee_id)
    )
    if root is not None:
        query = query.where(UNIT.c.path.like(root.path + "%"))
    if filters.unit:
        unit = session.execute(sa.select(Unit).where(UNIT.c.code == filters.unit)).scalars().first()
        if unit is None:
            raise NotFound("unknown unit {code!r}", code=filters.unit)
        if root is not None and not is_in_subtree(unit=unit, root=root):
            raise Forbidden("unit {code!r} is outside the units you may see", code=filters.unit)
        query = query.where(UNIT.c.path.like(unit.path + "%"))
    if filters.status == "open" or filters.due in ("soon", "overdue"):
        query = query.where(PETITION.c.status.in_(OPEN_STATUSES))
    elif filters.status:
        query = query.where(PETITION.c.status == filters.status)
    if filters.category:
        query = query.where(PETITION.c.category == filters.category)
    if filters.assignee_id is not None:
        query = query.where(PETITION.c.assignee_id == filters.assignee_id)
    if filters.due == "overdue":
        query = query.where(PETITION.c.due_at < now)
    elif filters.due == "soon":
        query = query.where(PETITION.c.due_at >= now)
    query = query.order_by(PETITION.c.due_at, PETITION.c.received_at).limit(limit * 4 if filters.due else limit)
    rows = []
    for r in session.connection().execute(query):
        kind = urgency(status=r.status, due_at=r.due_at, now=now, calendar=calendar, settings=settings)
        if filters.due == "soon" and kind != "soon":
            continue
        rows.append(
            InboxRow(
                id=r.id,
                unit_code=r.code,
                unit_name=r.name,
                category=r.category,
                status=r.status,
                received_at=r.received_at,
                due_at=r.due_at,
                content=r.content,
                assignee=(r.display_name or r.username) if r.username else None,
                urgency=kind,
            )
        )
    return rows[:limit]


def open_counts(*, session: Session, root: Unit | None, now: datetime | None = None) -> tuple[int, int]:
    """(open, overdue) petitions of `root`'s subtree, for the nav."""
    now = now or utcnow()
    query = (
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((PETITION.c.due_at < now, 1), else_=0)), 0),
        )
        .select_from(PETITION.join(UNIT, UNIT.c.id == PETITION.c.unit_id))
        .where(PETITION.c.status.in_(OPEN_STATUSES))
    )
    if root is not None:
        query = query.where(UNIT.c.path.like(root.path + "%"))
    total, overdue = session.connection().execute(query).one()
    return int(total), int(overdue)


def events(*, session: Session, petition: Petition) -> list[Any]:
    """The petition's history, oldest first."""
    return list(
        session.connection().execute(
            sa.select(PETITION_EVENT.c.at, PETITION_EVENT.c.actor, PETITION_EVENT.c.action, PETITION_EVENT.c.body)
            .where(PETITION_EVENT.c.petition_id == petition.id)
            .order_by(PETITION_EVENT.c.at, PETITION_EVENT.c.id)
        )
    )


def handlers(*, session: Session, petition: Petition) -> list[User]:
    """Active users who may be assigned: those whose unit's subtree holds the petition's unit."""
    unit = session.get(Unit, petition.unit_id)
    assert unit is not None
    users = session.execute(
        sa.select(User, UNIT.c.path)
        .join(UNIT, UNIT.c.id == User.unit_id)
        .where(User.active.is_(True))  # type: ignore[attr-defined]
        .order_by(User.username)
    ).all()
    return [u for u, path in users if unit.path.startswith(path)]


def may_handle(*, session: Session, user: User, petition: Petition) -> bool:
    """Admins, managers of the petition's subtree, and the officer it is assigned to."""
    if user.role == "admin":
        return True
    if petition.assignee_id == user.id:
        return True
    if user.role != "manager" or user.unit_id is None:
        return False
    root = session.get(Unit, user.unit_id)
    unit = session.get(Unit, petition.unit_id)
    return root is not None and unit is not None and path_in_subtree(unit.path, root=root)


# --- handling -------------------------------------------------------------------------------------------------------


def _touch(petition: Petition, **values: Any) -> None:
    for key, value in values.items():
        setattr(petition, key, value)
    petition.updated_at = utcnow()


def assign(*, session: Session, petition: Petition, assignee: User, actor: str, ip: str | None = None) -> None:
    """Give the petition to a person (any open petition; an answered one is not reassigned)."""
    if petition.status not in OPEN_STATUSES:
        raise Conflict("only an open petition can be assigned")
    if assignee not in handlers(session=session, petition=petition):
        raise Forbidden("that person does not work for the petition's unit")
    _touch(petition, assignee_id=assignee.id, status="assigned" if petition.status == "received" else petition.status)
    session.flush()
    _event(session, petition.id, actor, "assigned", assignee.display_name or assignee.username)
    _audit(session, actor, "petition.assign", petition, f"assignee={assignee.username}", ip)


def answer(
    *, session: Session, settings: Settings, petition: Petition, text: str, actor: str, ip: str | None = None
) -> None:
    """Record the answer: shown at the citizen's link and sent to their email or phone (queued)."""
    from server.petitions import notify

    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise Invalid("the answer is empty")
    if len(text) > MAX_ANSWER:
        raise Invalid("the answer is longer than {n} characters", n=MAX_ANSWER)
    if petition.status not in OPEN_STATUSES:
        raise Conflict("this petition has been answered already")
    _touch(petition, answer=text, answered_at=utcnow(), status="answered")
    session.flush()
    _event(session, petition.id, actor, "answered", text)
    _audit(session, actor, "petition.answer", petition, "", ip)
    notify.queue_answer(session=session, settings=settings, petition=petition)


def close(*, session: Session, petition: Petition, actor: str, ip: str | None = None) -> None:
    """Close an answered petition (the citizen has not reacted; nothing more to do)."""
    if petition.status != "answered":
        raise Conflict("only an answered petition can be closed")
    _touch(petition, status="closed", closed_at=utcnow())
    session.flush()
    _event(session, petition.id, actor, "closed")
    _audit(session, actor, "petition.close", petition, "", ip)


def set_category(*, session: Session, petition: Petition, category: str, actor: str, ip: str | None = None) -> None:
    """Classify the petition (its due date follows the category's handling time)."""
    if category not in PETITION_CATEGORIES:
        raise Invalid("category must be one of {categories}", categories=", ".join(PETITION_CATEGORIES))
    if category == petition.category:
        return
    _touch(petition, category=category)
    session.flush()
    _event(session, petition.id, actor, "classified", category)
    _audit(session, actor, "petition.classify", petition, f"category={category}", ip)


def recompute_due(*, session: Session, settings: Settings, petition: Petition) -> None:
    """Set the due date from the category and the calendar (after a reclassification)."""
    petition.due_at = compute_due(
        settings=settings,
        calendar=load_calendar(session=session),
        category=petition.category,
        received_at=petition.received_at,
    )
    session.flush()


def react(*, session: Session, petition: Petition, reaction: str) -> None:
    """The citizen's word on the answer: satisfied closes it; not satisfied reopens it once, then closes it."""
    if reaction not in PETITION_REACTIONS:
        raise Invalid("reaction must be satisfied or not_satisfied")
    if petition.status != "answered":
        raise Conflict("there is no answer to react to")
    now = utcnow()
    if reaction == "not_satisfied" and not petition.reopened:
        _touch(petition, reaction=reaction, reacted_at=now, reopened=True, status="reopened")
        session.flush()
        _event(session, petition.id, "citizen", "reopened")
    else:
        _touch(petition, reaction=reaction, reacted_at=now, status="closed", closed_at=now)
        session.flush()
        _event(session, petition.id, "citizen", f"reacted:{reaction}")
    _audit(session, "citizen", "petition.react", petition, f"reaction={reaction}")


def view_contact(*, session: Session, petition: Petition, user: User, ip: str | None = None) -> Contact:
    """The citizen's contact for someone handling the petition (403 otherwise); every view is audited."""
    if not may_handle(session=session, user=user, petition=petition):
        raise Forbidden("only the people handling this petition may see the citizen's contact")
    _event(session, petition.id, user.username, "contact_viewed")
    _audit(session, user.username, "petition.contact_view", petition, "", ip)
    return Contact(name=petition.contact_name, email=petition.contact_email, phone=petition.contact_phone)


def purge_contacts(*, session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Erase the contact details of petitions closed more than the retention period ago (and of the ratings they
    came from); the rest of each petition stays, and an open or answered petition keeps its contact however old it
    is. Returns how many petitions were erased.

    The closing time is `closed_at`; a closed petition without one (an imported petition closed by an update before
    updates recorded it) counts from its last change, `updated_at`, which is when that update closed it."""
    now = now or utcnow()
    local = now.astimezone(settings.tz)
    months = settings.petition_contact_retention_months
    year, month = divmod(local.year * 12 + local.month - 1 - months, 12)
    day = min(local.day, 28)
    cutoff = local.replace(year=year, month=month + 1, day=day).astimezone(now.tzinfo)
    has_contact = sa.or_(
        PETITION.c.contact_name.is_not(None),
        PETITION.c.contact_email.is_not(None),
        PETITION.c.contact_phone.is_not(None),
    )
    conn = session.connection()
    due = conn.execute(
        sa.select(PETITION.c.id, PETITION.c.rating_id).where(
            PETITION.c.status == "closed",
            sa.func.coalesce(PETITION.c.closed_at, PETITION.c.updated_at) < cutoff,
            sa.or_(has_contact, PETITION.c.contact_erased_at.is_(None)),
        )
    ).all()
    if not due:
        return 0
    ids = [r.id for r in due]
    conn.execute(
        sa.update(PETITION)
        .where(PETITION.c.id.in_(ids))
        .values(contact_name=None, contact_email=None, contact_phone=None, contact_erased_at=now)
    )
    rating_ids = [r.rating_id for r in due if r.rating_id is not None]
    if rating_ids:
        conn.execute(sa.update(RATING).where(RATING.c.id.in_(rating_ids)).values(contact=None))
    conn.execute(
        sa.insert(PETITION_EVENT),
        [{"petition_id": i, "at": now, "actor": "system", "action": "contact_erased"} for i in ids],
    )
    audit(session=session, actor="system", action="petition.purge", detail=f"{len(ids)} petitions' contacts erased")
    return len(ids)


# --- import (API) ---------------------------------------------------------------------------------------------------


IMPORT_FIELDS = ("unit_id", "category", "dossier_code", "received_at", "content", "answered_at", "reaction", "reopened")


def imported_status(answered_at: datetime | None, reaction: str | None, reopened: bool) -> str:
    """The status an imported outcome implies: a reaction ends it, then an answer, then a reopening."""
    if reaction is not None:
        return "closed"
    if answered_at is not None:
        return "answered"
    return "reopened" if reopened else "received"


def import_one(
    *,
    session: Session,
    settings: Settings,
    calendar: WorkingCalendar,
    values: dict[str, Any],
    actor: str,
) -> str:
    """Create or update one imported petition by its id: `created`, `updated` or `unchanged`."""
    existing = session.get(Petition, values["id"])
    status = imported_status(values["answered_at"], values["reaction"], values["reopened"])
    if existing is None:
        petition = create_petition(
            session=session,
            settings=settings,
            unit_id=values["unit_id"],
            category=values["category"],
            content=values["content"],
            source="import",
            actor=actor,
            received_at=values["received_at"],
            dossier_code=values["dossier_code"],
            petition_id=values["id"],
            calendar=calendar,
            queue=False,  # handled elsewhere: nobody here needs telling
        )
        if status != "received" or values["reopened"]:
            _touch(
                petition,
                answered_at=values["answered_at"],
                reaction=values["reaction"],
                reopened=values["reopened"],
                status=status,
                closed_at=utcnow() if status == "closed" else None,
            )
            session.flush()
        return "created"
    if existing.source != "import":
        raise Conflict("this id belongs to a petition filed here, not an imported one")
    if all(_same(getattr(existing, k), values[k]) for k in IMPORT_FIELDS):
        return "unchanged"
    changes = {k: values[k] for k in IMPORT_FIELDS}
    # The closing time starts the contact's retention period (`purge_contacts`): kept while it stays closed.
    closed_at = (existing.closed_at or utcnow()) if status == "closed" else None
    _touch(existing, **changes, status=status, closed_at=closed_at)
    existing.due_at = compute_due(
        settings=settings, calendar=calendar, category=existing.category, received_at=existing.received_at
    )
    session.flush()
    _event(session, existing.id, actor, "imported_update")
    _audit(session, actor, "petition.import_update", existing)
    return "updated"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return bool(a == b)

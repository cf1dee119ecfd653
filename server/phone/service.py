"""Phone ratings: the form's choices, its CSRF token, reading an answer, and storing it once per visit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs

import sqlalchemy as sa
from sqlmodel import Session

from server.config import Settings
from server.contracts import face_kinds
from server.db import insert_or_nothing, utcnow
from server.errors import Conflict
from server.hardening import clean_text
from server.petitions.service import becomes_petition
from server.tables import RATING, RATING_REASON, REASON, SCALE, VISIT
from server.visits import signing
from server.visits.service import RatableVisit

CSRF_PURPOSE = "phone-csrf"
CSRF_COOKIE = "hl_rate"
MAX_FORM_BYTES = 16 * 1024
MAX_COMMENT = 1000
MAX_CONTACT = 255
HONEYPOT_FIELD = "website"


@dataclass(frozen=True)
class LevelChoice:
    """A level of the scale as the form shows it."""

    level: int
    name_vi: str
    name_en: str
    satisfied: bool
    shape: str


@dataclass(frozen=True)
class ReasonChoice:
    """An active follow-up reason as the form shows it."""

    id: int
    code: str
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class Choices:
    """What the form offers: the scale, most positive first, and the active reasons in display order."""

    levels: list[LevelChoice]
    reasons: list[ReasonChoice]

    def level(self, value: int) -> LevelChoice | None:
        """The level with this value, if the scale has it."""
        return next((lv for lv in self.levels if lv.level == value), None)


def level_choices(*, session: Session) -> list[LevelChoice]:
    """The scale's levels, most positive first, each with its face drawing (the kiosk's, `face_kinds`)."""
    rows = session.connection().execute(sa.select(SCALE).order_by(SCALE.c.level.desc())).all()
    kinds = face_kinds([(row.level, row.satisfied) for row in rows])
    return [
        LevelChoice(
            level=row.level,
            name_vi=row.name_vi,
            name_en=row.name_en,
            satisfied=row.satisfied,
            shape=kinds[row.level],
        )
        for row in rows
    ]


def reason_choices(*, session: Session) -> list[ReasonChoice]:
    """The active follow-up reasons in their display order."""
    rows = session.connection().execute(
        sa.select(REASON.c.id, REASON.c.code, REASON.c.name_vi, REASON.c.name_en)
        .where(REASON.c.active.is_(True))
        .order_by(REASON.c.sort_order, REASON.c.id)
    )
    return [ReasonChoice(id=r.id, code=r.code, name_vi=r.name_vi, name_en=r.name_en) for r in rows]


def load_choices(*, session: Session) -> Choices:
    """The scale and the active reasons (two small queries; the routes keep them in the reference cache)."""
    return Choices(levels=level_choices(session=session), reasons=reason_choices(session=session))


def csrf_token(*, settings: Settings, token: str, nonce: str) -> str:
    """The form's CSRF token: the HMAC of the visit token and the per-form nonce kept in a cookie."""
    return signing.sign(settings.secret_key, CSRF_PURPOSE, token, nonce)


def csrf_ok(*, settings: Settings, token: str, nonce: str | None, given: str | None) -> bool:
    """Whether a submitted CSRF token matches the visit and this browser's nonce cookie."""
    if not nonce or not given:
        return False
    return signing.verify(settings.secret_key, CSRF_PURPOSE, given, token, nonce)


@dataclass
class PostedForm:
    """A form body read with a size cap: its fields, or why it could not be read."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    too_large: bool = False
    unreadable: bool = False

    def first(self, name: str) -> str:
        """The first value of a field, or ''."""
        values = self.fields.get(name)
        return values[0] if values else ""

    def filled(self, name: str) -> bool:
        """Whether any value of a field is non-empty (a robot may fill the second of two copies)."""
        return any(self.fields.get(name, []))


def parse_form_body(body: bytes, content_type: str) -> PostedForm:
    """Fields of an `application/x-www-form-urlencoded` body (anything else is unreadable)."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return PostedForm(unreadable=True)
    try:
        # Strict UTF-8, raw or percent-encoded: a browser never sends anything else, so other bytes are refused.
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100, errors="strict")
    except UnicodeDecodeError:
        return PostedForm(unreadable=True)
    except ValueError:
        return PostedForm(too_large=True)
    return PostedForm(fields=fields)


@dataclass
class Answer:
    """What the citizen chose and wrote, as submitted (kept to re-show the form after a mistake)."""

    level: int | None = None
    reasons: list[str] = field(default_factory=list)
    comment: str = ""
    contact: str = ""
    consent: bool = False

    @property
    def contact_consent(self) -> bool:
        """A contact given, with consent to be contacted (otherwise the contact is not stored)."""
        return bool(self.consent and self.contact)

    def may_become_petition(self, choices: Choices) -> bool:
        """Whether its rating becomes a petition (`becomes_petition`): only then is the stored rating read back for
        `petition_from_rating`."""
        level = choices.level(self.level) if self.level is not None else None
        return level is not None and becomes_petition(
            satisfied=level.satisfied, misuse=False, comment=self.comment, contact_consent=self.contact_consent
        )


@dataclass(frozen=True)
class FieldError:
    """A problem with one field of the form: which field (`level`, `reasons`, `comment`, `contact`, `consent`) and
    the Vietnamese message shown in the error summary and next to that field."""

    field: str
    message: str


def read_answer(
    form: PostedForm, *, levels: list[LevelChoice], reasons: list[ReasonChoice]
) -> tuple[Answer, list[FieldError]]:
    """The answer in a posted form and the problems with it, in the form's order (empty when it can be stored)."""
    errors: list[FieldError] = []
    answer = Answer(
        reasons=[r for r in form.fields.get("reasons", []) if r],
        comment=clean_text(form.first("comment")).replace("\r\n", "\n").strip(),
        contact=" ".join(clean_text(form.first("contact")).split()),
        consent=form.first("consent") in ("1", "on", "yes", "true"),
    )
    raw_level = form.first("level").strip()
    if raw_level.isdigit() and int(raw_level) in {lv.level for lv in levels}:
        answer.level = int(raw_level)
    else:
        errors.append(FieldError("level", "Vui lòng chọn một mức độ hài lòng."))
    known = {r.code for r in reasons}
    if any(code not in known for code in answer.reasons):
        errors.append(FieldError("reasons", "Lý do đã chọn không hợp lệ; vui lòng chọn lại."))
        answer.reasons = [code for code in answer.reasons if code in known]
    if len(answer.comment) > MAX_COMMENT:
        errors.append(FieldError("comment", "Góp ý dài quá 1000 ký tự; vui lòng rút gọn."))
    if len(answer.contact) > MAX_CONTACT:
        errors.append(FieldError("contact", "Thông tin liên hệ dài quá 255 ký tự."))
    if answer.contact and not answer.consent:
        errors.append(
            FieldError("consent", "Để lại thông tin liên hệ cần đánh dấu ô đồng ý; hoặc xoá thông tin liên hệ.")
        )
    return answer, errors


_MARK_RATED = sa.update(VISIT).where(VISIT.c.id == sa.bindparam("visit")).values(rated_at=sa.bindparam("now"))


def store_phone_rating(
    *,
    session: Session,
    settings: Settings,
    visit: RatableVisit,
    answer: Answer,
    choices: Choices,
    now: datetime | None = None,
) -> uuid.UUID:
    """Store the visit's rating from a phone (its id); 409 when any channel rated it first (the database decides).

    Core statements, no savepoint: `rating.visit_id` is UNIQUE, so of concurrent submissions (phone or kiosk)
    exactly one insert creates a row; `ON CONFLICT DO NOTHING` makes the others return nothing instead of failing.
    """
    assert answer.level is not None
    level = choices.level(answer.level)
    assert level is not None  # read_answer accepted only levels of the scale
    now = now or utcnow()
    reason_ids = [r.id for r in choices.reasons if r.code in answer.reasons] if not level.satisfied else []
    conn = session.connection()
    rating_id = uuid.uuid4()
    created = conn.execute(
        insert_or_nothing(RATING, conn.dialect.name, "id"),
        {
            "id": rating_id,
            "level": level.level,
            "satisfied": level.satisfied,
            "field_id": visit.field_id,
            "unit_id": visit.unit_id,
            "counter_id": visit.counter_id,
            "officer_id": visit.officer_id,
            "visit_id": visit.id,
            "channel": "phone",
            "comment": answer.comment or None,
            "contact": answer.contact if answer.contact_consent else None,
            "contact_consent": answer.contact_consent,
            "rated_at": now,
            "client_rated_at": now,
            "local_date": now.astimezone(settings.tz).date(),
            "received_at": now,
            "device_id": None,
            "misuse": False,
            "misuse_reason": None,
        },
    ).first()
    if created is None:
        raise Conflict("this visit has been rated already")
    if reason_ids:
        conn.execute(sa.insert(RATING_REASON), [{"rating_id": rating_id, "reason_id": rid} for rid in reason_ids])
    conn.execute(_MARK_RATED, {"visit": visit.id, "now": now})
    return rating_id

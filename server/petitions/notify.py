"""Notifications: an outbox table (`notification`), filled in the transactions that cause a message, and a sender
that delivers it by email (SMTP) or SMS text (an HTTP gateway), retrying with back-off for as long as it takes.

- Queued: a new petition (to the managers of its unit's ancestors who asked for it), the answer (to the citizen's
  email or phone), and by `scan`: due within 2 working days, overdue, the weekly digest of each manager's unit and
  subtree (the rate of the 7 days before today, its change against the 7 days before those, the 3 weakest fields
  with enough ratings, the petitions), and an alert for every unit of the manager's subtree whose month-to-date rate
  is below target beyond doubt (Wilson upper bound < target, n ≥ minimum), once per unit and month.
- Every message has a `dedupe_key` (UNIQUE): the same message is never queued twice, whoever scans.
- Sending: a message is claimed by pushing its next attempt past a lease (one UPDATE, so of several senders exactly
  one wins), sent, then marked sent; a failure records the error and waits 1, 2, 4 … minutes (at most an hour)
  before the next attempt. Nothing is dropped: an outage leaves a backlog (`hailong notify status`).
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session

from server.auth.service import audit
from server.config import Settings
from server.db import upsert_insert, utcnow
from server.i18n import translate
from server.indices.overview import rank_rows
from server.indices.periods import Period, parse_period
from server.indices.schemas import IndexRow, IndicesReport
from server.indices.service import compute_indices
from server.models import NotificationPref, Petition, Unit, User
from server.petitions.calendar import load_calendar
from server.petitions.service import OPEN_STATUSES, check_email, check_phone, urgency
from server.tables import NOTIFICATION, PETITION, UNIT, USER
from server.tables import NOTIFICATION_PREF as PREF

log = logging.getLogger("hailong.notify")

#: A claimed message is tried again after this long if its sender died before recording the outcome.
LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
KINDS = ("new_petition", "due_soon", "overdue", "weekly_digest", "low_rate")

#: Every message's words (Vietnamese source text; English in the gettext catalog).
TEXTS = {
    "new_subject": "Phản ánh, kiến nghị mới — {unit}",
    "new_body": "Đơn vị {unit} nhận một phản ánh, kiến nghị mới, hạn trả lời {due}.\n\n{content}\n\n{link}",
    "answer_subject": "Trả lời phản ánh, kiến nghị của Ông/Bà",
    "answer_body": "{answer}\n\nXem và cho biết Ông/Bà có hài lòng không: {link}",
    "answer_sms": "Phản ánh của Ông/Bà đã được trả lời: {link}",
    "due_soon_subject": "Sắp đến hạn trả lời — {unit}",
    "due_soon_body": "Phản ánh, kiến nghị của {unit} sắp đến hạn trả lời ({due}): {link}",
    "overdue_subject": "Quá hạn trả lời — {unit}",
    "overdue_body": "Phản ánh, kiến nghị của {unit} đã quá hạn trả lời ({due}): {link}",
    "digest_subject": "Tổng hợp tuần {week} — {unit}",
    "digest_body": "{unit}, 7 ngày qua ({days}): {rate}; {change}.\nLĩnh vực thấp nhất: {weakest}.\n"
    "Phản ánh, kiến nghị: nhận {received}, trả lời {answered}. Đang xử lý {open}, trong đó quá hạn {overdue}.\n"
    "{dashboard}\n{link}",
    "digest_rate": "tỷ lệ hài lòng {rate} trên {n} đánh giá",
    "digest_no_rate": "chưa có đánh giá nào",
    "digest_change": "{change} điểm so với 7 ngày trước đó ({previous})",
    "digest_no_change": "7 ngày trước đó không có đánh giá để so sánh",
    "digest_field": "{field} {rate} ({n} đánh giá)",
    "digest_no_fields": "chưa lĩnh vực nào đủ {min} đánh giá",
    "low_rate_subject": "Tỷ lệ hài lòng dưới chỉ tiêu — {unit}",
    "low_rate_body": "Tháng {month}, {unit}: tỷ lệ hài lòng {rate} trên {n} đánh giá, chắc chắn dưới chỉ tiêu {target} "
    "(cận trên {high}).\n{link}",
}


def _t(text: str, lang: str, **values: Any) -> str:
    return translate(text, lang).format(**values)


def enqueue(
    *,
    session: Session,
    kind: str,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    dedupe_key: str,
    petition_id: uuid.UUID | None = None,
    user_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue one message unless the same key was queued before; whether it was queued now."""
    now = now or utcnow()
    conn = session.connection()
    insert = upsert_insert(NOTIFICATION, conn.dialect.name)
    row = conn.execute(
        insert.values(
            created_at=now,
            kind=kind,
            channel=channel,
            recipient=recipient,
            subject=subject[:255],
            body=body,
            dedupe_key=dedupe_key[:255],
            status="pending",
            attempts=0,
            next_attempt_at=now,
            petition_id=petition_id,
            user_id=user_id,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(NOTIFICATION.c.id)
    ).first()
    return row is not None


@dataclass(frozen=True)
class Recipient:
    """A user who wants a kind of message, and where."""

    user_id: int
    unit_id: int | None
    unit_path: str | None
    email: str | None
    phone: str | None
    language: str


def recipients(*, session: Session, kind: str, unit_path: str | None = None) -> list[Recipient]:
    """Active managers and admins who want `kind`, with an address; those covering `unit_path` when given."""
    flag = PREF.c[kind]
    rows = session.connection().execute(
        sa.select(USER.c.id, USER.c.unit_id, UNIT.c.path, PREF.c.email, PREF.c.phone, PREF.c.language)
        .join(PREF, PREF.c.user_id == USER.c.id)
        .outerjoin(UNIT, UNIT.c.id == USER.c.unit_id)
        .where(USER.c.active.is_(True), USER.c.role.in_(("admin", "manager")), flag.is_(True))
        .order_by(USER.c.id)
    )
    out = []
    for r in rows:
        if unit_path is not None and r.path is not None and not unit_path.startswith(r.path):
            continue
        if r.path is None and r.unit_id is not None:
            continue
        if r.email or r.phone:
            out.append(Recipient(r.id, r.unit_id, r.path, r.email, r.phone, r.language))
    return out


def set_addresses(
    *, session: Session, user: User, email: str | None, phone: str | None, actor: str
) -> NotificationPref:
    """Where a user is told, set by an administrator (no login needed): a user without preferences gets them with
    every kind of message on; one who has them keeps the kinds they chose. An address left out (None) stays as it
    is, an empty one removes it; a malformed one is `Invalid`. Audited."""
    pref = session.get(NotificationPref, user.id)
    if pref is None:
        pref = NotificationPref(
            user_id=user.id or 0, new_petition=True, due_soon=True, overdue=True, weekly_digest=True, low_rate=True
        )
    if email is not None:
        pref.email = check_email(email)
    if phone is not None:
        pref.phone = check_phone(phone)
    session.add(pref)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="notify.addresses",
        target=f"user:{user.username}",
        detail=", ".join(k for k in ("email", "phone") if getattr(pref, k)) or "none",
    )
    return pref


def _to_users(
    session: Session,
    kind: str,
    key: str,
    people: list[Recipient],
    subject: dict[str, str],
    body: dict[str, str],
    petition_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> int:
    queued = 0
    for person in people:
        lang = person.language if person.language in subject else "vi"
        queued += _to_addresses(
            session,
            kind,
            f"{key}:{person.user_id}",
            (("email", person.email, subject[lang], body[lang]), ("sms", person.phone, subject[lang], body[lang])),
            petition_id,
            user_id=person.user_id,
            now=now,
        )
    return queued


def _to_addresses(
    session: Session,
    kind: str,
    key: str,
    messages: Iterable[tuple[str, str | None, str, str]],
    petition_id: uuid.UUID | None,
    user_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Queue each (channel, address, subject, body) whose address is known, deduplicated by `key:channel`."""
    queued = 0
    for channel, address, subject, body in messages:
        if address:
            queued += enqueue(
                session=session,
                kind=kind,
                channel=channel,
                recipient=address,
                subject=subject,
                body=body,
                dedupe_key=f"{key}:{channel}",
                petition_id=petition_id,
                user_id=user_id,
                now=now,
            )
    return queued


def _petition_link(settings: Settings, petition_id: uuid.UUID) -> str:
    return f"{settings.public_base_url}/petitions/{petition_id}"


def _both(text: str, **values: Any) -> dict[str, str]:
    return {lang: _t(text, lang, **values) for lang in ("vi", "en")}


def queue_new_petition(*, session: Session, settings: Settings, petition: Petition) -> int:
    """Tell the managers covering the petition's unit that it arrived."""
    unit = session.get(Unit, petition.unit_id)
    assert unit is not None
    due = petition.due_at.astimezone(settings.tz).strftime("%d/%m/%Y")
    people = recipients(session=session, kind="new_petition", unit_path=unit.path)
    return _to_users(
        session,
        "new_petition",
        f"new_petition:{petition.id}",
        people,
        _both(TEXTS["new_subject"], unit=unit.name),
        _both(
            TEXTS["new_body"],
            unit=unit.name,
            due=due,
            content=petition.content[:500],
            link=_petition_link(settings, petition.id),
        ),
        petition.id,
    )


def queue_answer(*, session: Session, settings: Settings, petition: Petition) -> int:
    """Send the answer's notice to the citizen's email and phone, when they gave one (the link shows the answer)."""
    lang = petition.language
    link = f"{settings.public_base_url}/pakn/{petition.token}"
    key = f"answer:{petition.id}:{petition.answered_at.isoformat() if petition.answered_at else ''}"
    answer = _t(TEXTS["answer_body"], lang, answer=petition.answer, link=link)
    messages = (
        ("email", petition.contact_email, _t(TEXTS["answer_subject"], lang), answer),
        ("sms", petition.contact_phone, "", _t(TEXTS["answer_sms"], lang, link=link)),
    )
    return _to_addresses(session, "answer", key, messages, petition.id)


# --- the periodic scan ----------------------------------------------------------------------------------------------


def scan(*, session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Queue what time brings: due soon, overdue, the weekly digest, low-rate alerts. Returns how many queued."""
    now = now or utcnow()
    calendar = load_calendar(session=session)
    queued = 0
    rows = (
        session.connection()
        .execute(
            sa.select(PETITION.c.id, PETITION.c.status, PETITION.c.due_at, UNIT.c.name, UNIT.c.path)
            .join(UNIT, UNIT.c.id == PETITION.c.unit_id)
            .where(PETITION.c.status.in_(OPEN_STATUSES))
        )
        .all()
    )
    people = {kind: recipients(session=session, kind=kind) for kind in ("due_soon", "overdue")}
    # What was queued before for these petitions (the scan runs every minute: most of it is done already).
    done = set(
        session.connection().scalars(
            sa.select(NOTIFICATION.c.dedupe_key).where(
                NOTIFICATION.c.petition_id.in_([r.id for r in rows]), NOTIFICATION.c.kind.in_(("due_soon", "overdue"))
            )
        )
    )
    for r in rows:
        kind = urgency(status=r.status, due_at=r.due_at, now=now, calendar=calendar, settings=settings)
        if not kind:
            continue
        kind = "due_soon" if kind == "soon" else "overdue"
        wanted = [
            p
            for p in people[kind]
            if (p.unit_path is None or r.path.startswith(p.unit_path))
            and any(f"{kind}:{r.id}:{p.user_id}:{c}" not in done for c in ("email", "sms"))
        ]
        if not wanted:
            continue
        due = r.due_at.astimezone(settings.tz).strftime("%d/%m/%Y")
        text, title = TEXTS[f"{kind}_body"], TEXTS[f"{kind}_subject"]
        queued += _to_users(
            session,
            kind,
            f"{kind}:{r.id}",
            wanted,
            _both(title, unit=r.name),
            _both(text, unit=r.name, due=due, link=_petition_link(settings, r.id)),
            r.id,
            now,
        )
    queued += _digests(session, settings, now)
    queued += _low_rates(session, settings, now)
    return queued


def _keys_like(session: Session, pattern: str) -> set[str]:
    return set(
        session.connection().scalars(
            sa.select(NOTIFICATION.c.dedupe_key).where(NOTIFICATION.c.dedupe_key.like(pattern))
        )
    )


def _has(done: set[str], key: str, person: Recipient) -> bool:
    """Whether every message of `key` this person wants has been queued already."""
    channels = [c for c, address in (("email", person.email), ("sms", person.phone)) if address]
    return all(f"{key}:{person.user_id}:{c}" in done for c in channels)


def _unit_of(session: Session, person: Recipient) -> Unit | None:
    if person.unit_id is not None:
        return session.get(Unit, person.unit_id)
    return session.execute(sa.select(Unit).where(UNIT.c.parent_id.is_(None)).order_by(UNIT.c.id)).scalars().first()


def _percent(rate: float) -> str:
    return f"{rate:.1%}"


def _digest_rates(current: IndicesReport, previous: IndicesReport, min_sample: int, lang: str) -> dict[str, str]:
    """The digest's words on the satisfaction index in `lang`: the past 7 days' rate with n, its change against the
    7 days before, and the 3 weakest fields among those with at least `min_sample` ratings (weakest first)."""
    overall, before = current.overall, previous.overall
    if overall.rate is None:
        rate = _t(TEXTS["digest_no_rate"], lang)
    else:
        rate = _t(TEXTS["digest_rate"], lang, rate=_percent(overall.rate), n=overall.n)
    if overall.rate is None or before.rate is None:
        change = _t(TEXTS["digest_no_change"], lang)
    else:
        points = f"{(overall.rate - before.rate) * 100:+.1f}"
        change = _t(TEXTS["digest_change"], lang, change=points, previous=_percent(before.rate))
    ranked, _few = rank_rows([r for r in current.rows if r.n >= min_sample])
    weakest = [
        _t(TEXTS["digest_field"], lang, field=r.label_en if lang == "en" else r.label, rate=_percent(r.rate), n=r.n)
        for r in reversed(ranked[-3:])
        if r.rate is not None
    ]
    return {
        "rate": rate,
        "change": change,
        "weakest": "; ".join(weakest) or _t(TEXTS["digest_no_fields"], lang, min=min_sample),
    }


def _digests(session: Session, settings: Settings, now: datetime) -> int:
    """Each recipient's weekly digest of their unit and its subtree: the satisfaction rate of the 7 days before
    today (local days) with its change against the 7 days before those and the weakest fields (all from
    `compute_indices`), and the petitions received, answered, open and overdue."""
    local_today = now.astimezone(settings.tz).date()
    year, week, _ = local_today.isocalendar()
    days = [local_today - timedelta(days=n) for n in (7, 1, 14, 8)]
    this_week = parse_period(f"{days[0].isoformat()}..{days[1].isoformat()}")
    week_before = parse_period(f"{days[2].isoformat()}..{days[3].isoformat()}")
    span = f"{days[0]:%d/%m}–{days[1]:%d/%m/%Y}"
    queued = 0
    done = _keys_like(session, f"weekly_digest:{year}-W{week:02d}:%")
    for person in recipients(session=session, kind="weekly_digest"):
        unit = _unit_of(session, person)
        if unit is None or _has(done, f"weekly_digest:{year}-W{week:02d}:{unit.code}", person):
            continue
        in_unit = UNIT.c.path.like(unit.path + "%")
        base = sa.select(sa.func.count()).select_from(PETITION.join(UNIT, UNIT.c.id == PETITION.c.unit_id))
        conn = session.connection()
        open_n = conn.execute(base.where(in_unit, PETITION.c.status.in_(OPEN_STATUSES))).scalar_one()
        overdue = conn.execute(
            base.where(in_unit, PETITION.c.status.in_(OPEN_STATUSES), PETITION.c.due_at < now)
        ).scalar_one()
        week_ago = now - timedelta(days=7)
        received = conn.execute(base.where(in_unit, PETITION.c.received_at >= week_ago)).scalar_one()
        answered = conn.execute(base.where(in_unit, PETITION.c.answered_at >= week_ago)).scalar_one()
        current, previous = (
            compute_indices(session=session, unit=unit, period=p, by=by, min_sample=settings.min_sample, tz=settings.tz)
            for p, by in ((this_week, "field"), (week_before, None))
        )
        values = {
            "unit": unit.name,
            "days": span,
            "received": received,
            "answered": answered,
            "open": open_n,
            "overdue": overdue,
            "dashboard": f"{settings.public_base_url}/dashboard?unit={unit.code}&period={this_week.code}",
            "link": f"{settings.public_base_url}/petitions?unit={unit.code}",
        }
        body = {
            lang: _t(
                TEXTS["digest_body"],
                lang,
                **values,
                **_digest_rates(current, previous, settings.min_sample, lang),
            )
            for lang in ("vi", "en")
        }
        queued += _to_users(
            session,
            "weekly_digest",
            f"weekly_digest:{year}-W{week:02d}:{unit.code}",
            [person],
            _both(TEXTS["digest_subject"], week=week, unit=unit.name),
            body,
            None,
            now,
        )
    return queued


def _subtree_figures(
    session: Session,
    settings: Settings,
    root: Unit,
    period: Period,
    reports: dict[int, IndicesReport],
    wanted: Callable[[Unit], bool],
) -> Iterator[tuple[Unit, IndexRow]]:
    """Each active unit of `root`'s subtree (root included) that is `wanted`, with its figures for `period` (its
    own subtree's). One `compute_indices` per unit that has children, grouped by child unit, gives all
    its children's figures at once; `reports` keeps them across recipients of one scan."""
    units = list(
        session.execute(sa.select(Unit).where(UNIT.c.path.like(root.path + "%")).order_by(UNIT.c.path)).scalars()
    )
    by_id = {u.id: u for u in units}
    parents = {u.parent_id for u in units}

    def report(unit: Unit) -> IndicesReport:
        assert unit.id is not None
        if unit.id not in reports:
            reports[unit.id] = compute_indices(
                session=session,
                unit=unit,
                period=period,
                by="unit" if unit.id in parents else None,
                min_sample=settings.min_sample,
                tz=settings.tz,
            )
        return reports[unit.id]

    for unit in units:
        if not unit.active or not wanted(unit):
            continue
        parent = by_id.get(unit.parent_id) if unit.id != root.id else None
        if parent is None:
            yield unit, report(unit).overall
        else:
            yield unit, next(r for r in report(parent).rows if r.key == unit.code)


def _low_rates(session: Session, settings: Settings, now: datetime) -> int:
    """An alert to each recipient for every unit of their subtree (their own included) whose month-to-date rate is
    below target beyond doubt, once per unit and month."""
    month = now.astimezone(settings.tz).strftime("%Y-%m")
    period = parse_period(month)
    queued = 0
    reports: dict[int, IndicesReport] = {}
    done = _keys_like(session, f"low_rate:{month}:%")
    for person in recipients(session=session, kind="low_rate"):
        root = _unit_of(session, person)
        if root is None or root.id is None:
            continue

        def untold(unit: Unit, person: Recipient = person) -> bool:
            return not _has(done, f"low_rate:{month}:{unit.code}", person)  # told this month: nothing to compute

        for unit, row in _subtree_figures(session, settings, root, period, reports, untold):
            if not is_low(n=row.n, ci_high=row.ci_high, target=row.target, min_sample=settings.min_sample):
                continue
            assert row.rate is not None and row.ci_high is not None and row.target is not None  # is_low holds
            queued += _to_users(
                session,
                "low_rate",
                f"low_rate:{month}:{unit.code}",
                [person],
                _both(TEXTS["low_rate_subject"], unit=unit.name),
                _both(
                    TEXTS["low_rate_body"],
                    month=month,
                    unit=unit.name,
                    rate=_percent(row.rate),
                    n=row.n,
                    target=f"{row.target:.0%}",
                    high=_percent(row.ci_high),
                    link=f"{settings.public_base_url}/dashboard?unit={unit.code}",
                ),
                None,
                now,
            )
    return queued


def is_low(*, n: int, ci_high: float | None, target: float | None, min_sample: int) -> bool:
    """Below target beyond doubt: enough ratings, and even the Wilson upper bound is under the target."""
    return n >= min_sample and ci_high is not None and target is not None and ci_high < target


# --- sending --------------------------------------------------------------------------------------------------------


class SendFailed(Exception):
    """A message could not be handed over (the relay or gateway is down or refused it)."""


def send_email(settings: Settings, recipient: str, subject: str, body: str) -> None:
    """Hand one email to the SMTP relay."""
    if not settings.smtp_host:
        raise SendFailed("no SMTP relay configured (HAILONG_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendFailed(f"SMTP: {exc}") from exc


def send_sms(settings: Settings, recipient: str, text: str) -> None:
    """Hand one text to the HTTP SMS gateway (POST JSON `{to, text, brand}`; any 2xx is accepted)."""
    if not settings.sms_gateway_url:
        raise SendFailed("no SMS gateway configured (HAILONG_SMS_GATEWAY_URL)")
    headers = {"Authorization": f"Bearer {settings.sms_gateway_token}"} if settings.sms_gateway_token else {}
    try:
        response = httpx.post(
            settings.sms_gateway_url,
            json={"to": recipient, "text": text, "brand": settings.sms_brand},
            headers=headers,
            timeout=15,
        )
    except httpx.HTTPError as exc:
        raise SendFailed(f"SMS gateway: {exc}") from exc
    if not response.is_success:
        raise SendFailed(f"SMS gateway answered {response.status_code}")


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 1, 2, 4 … minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def deliver(*, engine: sa.Engine, settings: Settings, now: datetime | None = None, limit: int = 200) -> tuple[int, int]:
    """Send what is due, each message in its own transactions (claim, then outcome); (sent, failed)."""
    now = now or utcnow()
    sent = failed = 0
    with engine.connect() as conn:
        due = conn.execute(
            sa.select(NOTIFICATION.c.id)
            .where(NOTIFICATION.c.status == "pending", NOTIFICATION.c.next_attempt_at <= now)
            .order_by(NOTIFICATION.c.next_attempt_at, NOTIFICATION.c.id)
            .limit(limit)
        ).all()
        conn.rollback()
    for (message_id,) in due:
        with engine.begin() as conn:
            claimed = conn.execute(
                sa.update(NOTIFICATION)
                .where(
                    NOTIFICATION.c.id == message_id,
                    NOTIFICATION.c.status == "pending",
                    NOTIFICATION.c.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + LEASE, attempts=NOTIFICATION.c.attempts + 1)
                .returning(
                    NOTIFICATION.c.channel,
                    NOTIFICATION.c.recipient,
                    NOTIFICATION.c.subject,
                    NOTIFICATION.c.body,
                    NOTIFICATION.c.attempts,
                )
            ).first()
        if claimed is None:
            continue  # another sender took it
        try:
            if claimed.channel == "email":
                send_email(settings, claimed.recipient, claimed.subject, claimed.body)
            else:
                send_sms(settings, claimed.recipient, claimed.body)
        except SendFailed as exc:
            failed += 1
            log.warning("notification %s not sent (attempt %s): %s", message_id, claimed.attempts, exc)
            with engine.begin() as conn:
                conn.execute(
                    sa.update(NOTIFICATION)
                    .where(NOTIFICATION.c.id == message_id)
                    .values(next_attempt_at=now + backoff(claimed.attempts), last_error=str(exc)[:2000])
                )
            continue
        sent += 1
        with engine.begin() as conn:
            conn.execute(
                sa.update(NOTIFICATION)
                .where(NOTIFICATION.c.id == message_id)
                .values(status="sent", sent_at=utcnow(), last_error=None)
            )
    return sent, failed


@dataclass(frozen=True)
class Backlog:
    """What waits in the outbox."""

    pending: int
    retrying: int
    oldest: datetime | None
    sent: int
    last_error: str | None


def backlog(*, session: Session) -> Backlog:
    """The outbox's state, for `hailong notify status`."""
    conn = session.connection()
    pending = NOTIFICATION.c.status == "pending"
    n, retrying, oldest = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((NOTIFICATION.c.attempts > 0, 1), else_=0)), 0),
            sa.func.min(NOTIFICATION.c.created_at),
        ).where(pending)
    ).one()
    sent = conn.execute(sa.select(sa.func.count()).where(NOTIFICATION.c.status == "sent")).scalar_one()
    error = conn.execute(
        sa.select(NOTIFICATION.c.last_error)
        .where(pending, NOTIFICATION.c.last_error.is_not(None))
        .order_by(NOTIFICATION.c.id.desc())
        .limit(1)
    ).scalar()
    if isinstance(oldest, str):  # SQLite aggregates lose the column type
        oldest = datetime.fromisoformat(oldest)
    return Backlog(int(n), int(retrying), oldest, int(sent), error)


def run_cycle(*, engine: sa.Engine, settings: Settings, purge: bool = False, now: datetime | None = None) -> None:
    """One round of the sender: scan (and purge contacts when asked) in one transaction, then deliver."""
    from server.petitions.service import purge_contacts

    with Session(engine, expire_on_commit=False) as session:
        scan(session=session, settings=settings, now=now)
        if purge:
            purge_contacts(session=session, settings=settings, now=now)
        session.commit()
    deliver(engine=engine, settings=settings, now=now)

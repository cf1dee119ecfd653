"""Notifications through a real SMTP server (aiosmtpd, started here) and a local HTTP SMS gateway: delivered once,
kept through an outage and delivered after it, and the periodic scan (due soon, overdue, digest, low rate)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from server.config import Settings
from server.db import make_engine
from server.models import Notification, NotificationPref, Petition, Unit
from server.petitions import notify, service
from tests import factories, logins
from tests.conftest import make_settings
from tests.databases import DatabaseFactory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


class Relay:
    """A real SMTP server on a fixed port that the test can stop and start again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Gateway:
    """A local HTTP SMS gateway: records each POST; answers `status` (500 to play an outage)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[str | None] = []
        self.status = 200
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if gateway.status == 200:
                    gateway.received.append(json.loads(body))
                    gateway.headers.append(self.headers.get("Authorization"))
                self.send_response(gateway.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def relay() -> Iterator[Relay]:
    r = Relay()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    g = Gateway()
    yield g
    g.close()


@pytest.fixture
def world(db_factory: DatabaseFactory, relay: Relay, gateway: Gateway) -> Iterator[tuple[sa.Engine, Settings]]:
    """A database of its own (the sender commits), and settings pointing at the relay and the gateway."""
    url = db_factory.new_url()
    engine = make_engine(url)
    settings = make_settings(
        url,
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_from="hailong@example.vn",
        sms_gateway_url=gateway.url,
        sms_gateway_token="gw-secret",
    )
    yield engine, settings
    engine.dispose()


def _setup(session: Session) -> tuple[Unit, Unit]:
    root = factories.unit(session, code="N-ROOT", name="Tỉnh")
    ward = factories.unit(session, root, code="N-WARD", name="Phường Một")
    manager = logins.user(session, "manager", root, username="ql-tinh")
    session.add(NotificationPref(user_id=manager.id, email="ql@example.vn", phone="0900000001"))  # type: ignore[arg-type]
    outsider = logins.user(session, "manager", factories.unit(session, root, code="N-OTHER"), username="ql-khac")
    session.add(NotificationPref(user_id=outsider.id, email="khac@example.vn"))  # type: ignore[arg-type]
    session.flush()
    return root, ward


def test_a_new_petition_reaches_the_managers_once_by_email_and_sms(
    world: tuple[sa.Engine, Settings], relay: Relay, gateway: Gateway
) -> None:
    engine, settings = world
    with Session(engine) as session:
        _, ward = _setup(session)
        factories.petition(session, settings, ward)
        session.commit()
    assert notify.deliver(engine=engine, settings=settings) == (2, 0)
    [mail] = relay.inbox.messages
    assert mail["To"] == "ql@example.vn" and "Phường Một" in mail["Subject"]
    assert "Thủ tục chậm" in mail.get_content()
    assert [m["to"] for m in gateway.received] == ["0900000001"] and gateway.headers == ["Bearer gw-secret"]
    # Another manager's subtree is not told; nothing is sent twice.
    assert notify.deliver(engine=engine, settings=settings) == (0, 0)
    assert len(relay.inbox.messages) == 1 and len(gateway.received) == 1
    with Session(engine) as session:
        rows = session.exec(select(Notification)).all()
        assert {(n.channel, n.status, n.attempts) for n in rows} == {("email", "sent", 1), ("sms", "sent", 1)}


def test_an_smtp_outage_loses_nothing(world: tuple[sa.Engine, Settings], relay: Relay, gateway: Gateway) -> None:
    engine, settings = world
    relay.stop()
    gateway.status = 500
    with Session(engine) as session:
        _, ward = _setup(session)
        factories.petition(session, settings, ward)
        session.commit()
    now = datetime.now(UTC)
    assert notify.deliver(engine=engine, settings=settings, now=now) == (0, 2)
    with Session(engine) as session:
        backlog = notify.backlog(session=session)
        assert (backlog.pending, backlog.retrying, backlog.sent) == (2, 2, 0)
        assert backlog.last_error is not None
        email = session.exec(select(Notification).where(Notification.channel == "email")).one()
        assert email.last_error is not None and "SMTP" in email.last_error
        assert email.next_attempt_at > now  # backs off
    # Not yet due again: nothing is tried.
    assert notify.deliver(engine=engine, settings=settings, now=now + timedelta(seconds=30)) == (0, 0)
    # Still down at the next attempt: a longer wait.
    assert notify.deliver(engine=engine, settings=settings, now=now + timedelta(minutes=2)) == (0, 2)
    relay.start()
    gateway.status = 200
    assert notify.deliver(engine=engine, settings=settings, now=now + timedelta(minutes=10)) == (2, 0)
    assert len(relay.inbox.messages) == 1 and len(gateway.received) == 1
    assert notify.deliver(engine=engine, settings=settings, now=now + timedelta(hours=5)) == (0, 0)
    with Session(engine) as session:
        assert notify.backlog(session=session).pending == 0


def test_the_answer_goes_to_the_citizen(world: tuple[sa.Engine, Settings], relay: Relay, gateway: Gateway) -> None:
    engine, settings = world
    with Session(engine) as session:
        unit = factories.unit(session, code="N-SOLO")
        petition = factories.petition(
            session, settings, unit, contact=service.Contact(email="dan@example.vn", phone="0912345678")
        )
        service.answer(session=session, settings=settings, petition=petition, text="Đã xử lý xong.", actor="ql")
        token = petition.token
        session.commit()
    assert notify.deliver(engine=engine, settings=settings) == (2, 0)
    [mail] = relay.inbox.messages
    assert mail["To"] == "dan@example.vn" and "Đã xử lý xong." in mail.get_content()
    assert f"/pakn/{token}" in mail.get_content()
    assert gateway.received[0]["to"] == "0912345678" and f"/pakn/{token}" in gateway.received[0]["text"]


def test_the_scan_queues_due_soon_overdue_and_the_digest_once(world: tuple[sa.Engine, Settings]) -> None:
    engine, settings = world
    now = datetime.now(UTC)
    with Session(engine) as session:
        _, ward = _setup(session)
        late = factories.petition(session, settings, ward, received_at=now - timedelta(days=60))
        soon = factories.petition(session, settings, ward)
        soon.due_at = now + timedelta(hours=20)
        calm = factories.petition(session, settings, ward)
        session.commit()
        ids = {late.id: "overdue", soon.id: "due_soon"}
        calm_id = calm.id
    with Session(engine) as session:
        assert notify.scan(session=session, settings=settings, now=now) > 0
        session.commit()
    with Session(engine) as session:
        assert notify.scan(session=session, settings=settings, now=now) == 0  # dedupe keys: never twice
        rows = session.exec(select(Notification).where(Notification.kind.in_(("due_soon", "overdue")))).all()  # type: ignore[attr-defined]
        assert {(n.petition_id, n.kind) for n in rows} == set(ids.items())
        assert all(n.petition_id != calm_id for n in rows)
        digests = session.exec(select(Notification).where(Notification.kind == "weekly_digest")).all()
        # One per manager and channel: the province manager by email and SMS, the other unit's by email.
        assert sorted(d.recipient for d in digests) == ["0900000001", "khac@example.vn", "ql@example.vn"]
        assert "quá hạn 1" in next(d.body for d in digests if d.recipient == "ql@example.vn")


def _rate(session: Session, counter: Any, field_code: str, satisfied: int, total: int, at: datetime) -> None:
    """`total` ratings of `field_code` at `counter` just before `at`, the first `satisfied` of them satisfied."""
    for i in range(total):
        level = 4 if i < satisfied else 1
        factories.rating(session, counter, level=level, field_code=field_code, at=at - timedelta(seconds=i))


def test_the_digest_tells_the_weeks_rate_its_change_and_the_weakest_fields(world: tuple[sa.Engine, Settings]) -> None:
    """Issue 15, finding 3: the digest sent petition counts only; DOMAIN asks for rate, change and weakest fields."""
    engine, settings = world
    now = datetime.now(UTC)
    with Session(engine) as session:
        _, ward = _setup(session)
        counter = factories.counter(session, ward)
        this_week, week_before = now - timedelta(days=2), now - timedelta(days=10)
        # The 7 days before today: 125 ratings, 96 satisfied (76.8 %); health has too few ratings to be ranked.
        for code, satisfied in (("land", 15), ("justice", 24), ("tax", 27), ("certification", 30)):
            _rate(session, counter, code, satisfied, 30, this_week)
        _rate(session, counter, "health", 0, 5, this_week)
        _rate(session, counter, "land", 16, 20, week_before)  # the 7 days before those: 80.0 %
        _rate(session, counter, "land", 0, 10, now)  # today: not in a complete day yet
        session.commit()
    with Session(engine) as session:
        notify.scan(session=session, settings=settings, now=now)
        session.commit()
        digests = session.exec(select(Notification).where(Notification.kind == "weekly_digest")).all()
    body = next(d.body for d in digests if d.recipient == "ql@example.vn")
    assert "tỷ lệ hài lòng 76.8% trên 125 đánh giá; -3.2 điểm so với 7 ngày trước đó (80.0%)" in body
    weakest = (
        "Lĩnh vực thấp nhất: Đất đai 50.0% (30 đánh giá); Tư pháp – Hộ tịch 80.0% (30 đánh giá); "
        "Thuế 90.0% (30 đánh giá)."
    )
    assert weakest in body and "Y tế" not in body and "Chứng thực" not in body
    today = now.astimezone(settings.tz).date()
    days = f"{today - timedelta(days=7):%d/%m}–{today - timedelta(days=1):%d/%m/%Y}"
    assert f"7 ngày qua ({days})" in body and "Đang xử lý 0, trong đó quá hạn 0" in body
    assert "/dashboard?unit=N-ROOT&period=" in body
    # The other unit's manager: no ratings there at all, said so rather than a rate of nothing.
    other = next(d.body for d in digests if d.recipient == "khac@example.vn")
    assert "chưa có đánh giá nào" in other and "chưa lĩnh vực nào đủ 30 đánh giá" in other


def test_a_manager_is_alerted_for_each_failing_unit_below_them(world: tuple[sa.Engine, Settings]) -> None:
    """Issue 15, finding 4: the alert looked at the manager's own unit only, so a failing commune under a district
    whose overall rate passed raised nothing."""
    engine, settings = world
    now = datetime.now(UTC)
    with Session(engine) as session:
        root = factories.unit(session, code="S-ROOT", name="Tỉnh")
        district = factories.unit(session, root, code="S-DIST", name="Huyện")
        failing = factories.unit(session, district, code="S-BAD", name="Xã Chậm")
        passing = factories.unit(session, district, code="S-GOOD", name="Xã Tốt")
        ward = factories.unit(session, failing, code="S-BAD-1", name="Thôn")
        manager = logins.user(session, "manager", district, username="ql-huyen")
        session.add(NotificationPref(user_id=manager.id, email="huyen@example.vn"))  # type: ignore[arg-type]
        session.flush()
        _rate(session, factories.counter(session, failing), "land", 15, 30, now)  # 50 %: below 90 % beyond doubt
        _rate(session, factories.counter(session, ward), "land", 0, 3, now)  # too few alone, counted in S-BAD
        _rate(session, factories.counter(session, passing), "land", 100, 100, now)
        session.commit()  # the district: 115 of 133 (86.5 %), its upper bound above 90 %: not below beyond doubt
    with Session(engine) as session:
        notify.scan(session=session, settings=settings, now=now)
        session.commit()
        alerts = session.exec(select(Notification).where(Notification.kind == "low_rate")).all()
        assert [(a.recipient, a.subject) for a in alerts] == [
            ("huyen@example.vn", "Tỷ lệ hài lòng dưới chỉ tiêu — Xã Chậm")
        ]
        assert "45.5%" in alerts[0].body and "33" in alerts[0].body and "unit=S-BAD" in alerts[0].body
        assert notify.scan(session=session, settings=settings, now=now) == 0  # once per unit and month


def test_low_rate_alert_needs_enough_ratings_and_an_upper_bound_below_target(world: tuple[sa.Engine, Settings]) -> None:
    engine, settings = world
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        _, ward = _setup(session)
        counter = factories.counter(session, ward)
        for i in range(settings.min_sample - 1):
            factories.rating(session, counter, level=1 if i % 2 else 4, at=now - timedelta(minutes=i))
        session.commit()
    with Session(engine) as session:
        notify.scan(session=session, settings=settings, now=now)
        assert session.exec(select(Notification).where(Notification.kind == "low_rate")).all() == []
        session.rollback()
    with Session(engine) as session:
        factories.rating(session, counter, level=1, at=now)
        session.commit()
    with Session(engine) as session:
        notify.scan(session=session, settings=settings, now=now)
        session.commit()
        alerts = session.exec(select(Notification).where(Notification.kind == "low_rate")).all()
        # The province's manager (whose subtree holds the ward); the other unit has no ratings at all.
        assert {a.recipient for a in alerts} == {"ql@example.vn", "0900000001"}
        assert "50.0%" in alerts[0].body and "30" in alerts[0].body


@pytest.mark.parametrize(
    ("n", "satisfied", "target", "low"),
    [(30, 15, 0.9, True), (29, 0, 0.9, False), (100, 85, 0.9, False), (400, 340, 0.9, True)],
)
def test_is_low_is_the_wilson_upper_bound_rule(n: int, satisfied: int, target: float, low: bool) -> None:
    from server.satisfaction import wilson_interval

    interval = wilson_interval(satisfied, n)
    assert interval is not None
    assert notify.is_low(n=n, ci_high=interval[1], target=target, min_sample=30) is low


def test_the_server_sends_the_outbox_and_purges_by_itself(db_factory: DatabaseFactory, relay: Relay) -> None:
    """The sender loop of a running server (HAILONG_NOTIFY_INTERVAL_SECONDS): queued mail goes out, the contacts of
    petitions closed long ago go."""
    import time

    from server.app import create_app
    from tests.browser.conftest import serve

    url = db_factory.new_url()
    engine = make_engine(url)
    settings = make_settings(url, smtp_host="127.0.0.1", smtp_port=relay.port, notify_interval_seconds=0.2)
    with Session(engine, expire_on_commit=False) as session:
        _, ward = _setup(session)
        factories.petition(session, settings, ward)
        old = factories.petition(
            session,
            settings,
            ward,
            received_at=datetime.now(UTC) - timedelta(days=1000),
            contact=service.Contact(phone="0912345678"),
        )
        old.status, old.closed_at = "closed", datetime.now(UTC) - timedelta(days=900)
        still_open = factories.petition(
            session,
            settings,
            ward,
            received_at=datetime.now(UTC) - timedelta(days=1000),
            contact=service.Contact(phone="0987654321"),
        )
        session.commit()
    unsent_mail = select(Notification).where(Notification.channel == "email", Notification.status != "sent")
    with serve(create_app(settings)):
        deadline = time.monotonic() + 120  # a generous bound for a busy machine, not a speed check
        while time.monotonic() < deadline:
            with Session(engine) as session:
                if session.exec(select(Notification)).first() and not session.exec(unsent_mail).all():
                    break
            time.sleep(0.2)
    subjects = sorted(m["Subject"] for m in relay.inbox.messages)
    # The three new petitions, the old open one overdue, and this week's digest of each manager: each once.
    assert subjects.count("Phản ánh, kiến nghị mới — Phường Một") == 3
    assert subjects.count("Quá hạn trả lời — Phường Một") == 1
    assert len([s for s in subjects if s.startswith("Tổng hợp tuần")]) == 2
    assert len(subjects) == 6
    assert {m["To"] for m in relay.inbox.messages if "Phường Một" in m["Subject"]} == {"ql@example.vn"}
    with Session(engine) as session:
        assert session.get(Petition, old.id).contact_phone is None  # type: ignore[union-attr]
        assert session.get(Petition, still_open.id).contact_phone == "0987654321"  # type: ignore[union-attr]
        assert session.exec(unsent_mail).all() == []
    engine.dispose()

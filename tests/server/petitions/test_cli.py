"""`hailong calendar …`, `hailong petitions purge` and `hailong notify …` as real processes: results, and bad input
as one line with a non-zero status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from server.config import Settings
from server.db import make_engine
from server.models import AuditLog, CalendarDay, Notification, NotificationPref, Petition, Unit, User
from server.petitions import notify, service
from tests import factories
from tests.databases import DatabaseFactory
from tests.test_cli import one_line_error, run


def test_calendar_commands(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    added = run("calendar", "add", "2027-01-04", "--note", "Nghỉ bù", url=url)
    assert added.returncode == 0 and "2027-01-04: day off" in added.stdout
    assert "already marked" in one_line_error(run("calendar", "add", "2027-01-04", "--working", url=url))
    assert run("calendar", "add", "2027-01-02", "--working", url=url).returncode == 0
    listed = run("calendar", "list", "--year", "2027", url=url)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert "2027-01-01 Fri  public holiday: New Year's Day" in lines
    assert "2027-01-02 Sat  working day (added)" in lines
    assert "2027-01-04 Mon  day off: Nghỉ bù (added)" in lines
    assert any(line.startswith("2027-02-06") and "Lunar New Year" in line for line in lines)
    assert run("calendar", "remove", "2027-01-02", url=url).returncode == 0
    assert "no exception" in one_line_error(run("calendar", "remove", "2027-01-02", url=url))
    assert "not a date" in one_line_error(run("calendar", "add", "2027-13-01", url=url))
    engine = make_engine(url)
    with Session(engine) as session:
        assert [d.day.isoformat() for d in session.exec(select(CalendarDay))] == ["2027-01-04"]
    engine.dispose()


def test_purge_and_notify_commands(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    engine = make_engine(url)
    settings = Settings(environment="test", database_url=url)
    with Session(engine) as session:
        unit = factories.unit(session)
        for content in ("Cũ", "Còn mở"):
            factories.petition(
                session,
                settings,
                unit,
                category="other",
                content=content,
                received_at=datetime.now(UTC) - timedelta(days=900),
                contact=service.Contact(email=f"{len(content)}@example.vn"),
            )
        old = session.exec(select(Petition).where(Petition.content == "Cũ")).one()
        old.status, old.closed_at = "closed", datetime.now(UTC) - timedelta(days=400)
        session.commit()
    purged = run("petitions", "purge", url=url)
    assert purged.returncode == 0 and purged.stdout.strip() == "contacts erased from 1 petitions"
    with Session(engine) as session:
        contacts = {p.content: p.contact_email for p in session.exec(select(Petition))}
        assert contacts == {"Cũ": None, "Còn mở": "6@example.vn"}  # closed 13 months ago; still open
    engine.dispose()
    status = run("notify", "status", url=url)
    assert status.returncode == 0 and status.stdout.startswith("pending 0 (retrying 0)")
    ran = run("notify", "run", url=url)
    assert ran.returncode == 0 and ran.stdout.startswith("queued 0, sent 0, failed 0")
    assert "No such option" in one_line_error(run("notify", "run", "--everything", url=url))


def test_an_administrator_gives_a_manager_addresses_without_their_logging_in(db_factory: DatabaseFactory) -> None:
    """Issue 15, finding 5: a manager got nothing until they logged in and saved /petitions/preferences."""
    url = db_factory.new_url()
    engine = make_engine(url)
    settings = Settings(environment="test", database_url=url)
    with Session(engine) as session:
        factories.unit(session, code="C-WARD", name="Phường Một")
        session.commit()
    create = ("user", "create", "ql-phuong", "--role", "manager", "--unit", "C-WARD", "--password-stdin")
    created = run(*create, "--email", "ql@example.vn", "--phone", "0900 000 001", url=url, stdin="mật khẩu đủ dài\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "user ql-phuong (manager) created, notified at ql@example.vn and 0900 000 001"
    bad = run(
        "user",
        "create",
        "ql-2",
        "--role",
        "manager",
        "--unit",
        "C-WARD",
        "--password-stdin",
        "--email",
        "x@",
        url=url,
        stdin="mật khẩu đủ dài\n",
    )
    assert "email address is not valid" in one_line_error(bad)
    assert "unknown user" in one_line_error(run("user", "notify", "nobody", "--email", "a@b.vn", url=url))
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == "ql-2")).first() is None  # nothing half-made
        manager = session.exec(select(User).where(User.username == "ql-phuong")).one()
        manager_id = manager.id
        pref = session.get(NotificationPref, manager_id)
        assert pref is not None and (pref.email, pref.phone) == ("ql@example.vn", "0900000001")
        assert all(getattr(pref, kind) for kind in notify.KINDS)
        assert manager.last_login_at is None
        # A petition filed now reaches them by email and SMS although they never logged in.
        ward = session.exec(select(Unit).where(Unit.code == "C-WARD")).one()
        factories.petition(session, settings, ward)
        session.commit()
        queued = session.exec(select(Notification).where(Notification.kind == "new_petition")).all()
        assert sorted(n.recipient for n in queued) == ["0900000001", "ql@example.vn"]
        # The manager turns the digest off; an administrator's new address keeps that choice.
        pref.weekly_digest = False
        session.commit()
    changed = run("user", "notify", "ql-phuong", "--email", "moi@example.vn", url=url)
    assert (
        changed.returncode == 0 and changed.stdout.strip() == "user ql-phuong notified at moi@example.vn and 0900000001"
    )
    with Session(engine) as session:
        pref = session.get(NotificationPref, manager_id)
        assert pref is not None and (pref.email, pref.weekly_digest, pref.new_petition) == (
            "moi@example.vn",
            False,
            True,
        )
        assert session.exec(select(AuditLog).where(AuditLog.action == "notify.addresses")).all() != []
    engine.dispose()

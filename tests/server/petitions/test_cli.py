"""`hailong calendar …`, `hailong petitions purge` and `hailong notify …` as real processes: results, and bad input
as one line with a non-zero status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from server.config import Settings
from server.db import make_engine
from server.models import CalendarDay, Petition
from server.petitions import service
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

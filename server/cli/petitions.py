"""`hailong calendar add/remove/list`, `hailong petitions purge`, `hailong notify run/status`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import holidays
import typer

from server.cli.core import app, engine_of, fail, load_settings, open_session
from server.db import utcnow
from server.petitions import calendar as cal
from server.petitions import notify
from server.petitions.service import purge_contacts
from server.terminal import echo

calendar_app = typer.Typer(help="The working-day calendar of petitions' due dates.", no_args_is_help=True)
petitions_app = typer.Typer(help="Petitions (phản ánh, kiến nghị).", no_args_is_help=True)
notify_app = typer.Typer(help="Notifications: queue what is due and send the outbox.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
app.add_typer(petitions_app, name="petitions")
app.add_typer(notify_app, name="notify")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"not a date: {text!r} (use YYYY-MM-DD)")


@calendar_app.command("add")
def calendar_add(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
    working: Annotated[
        bool, typer.Option("--working/--off", help="a make-up working day, or a day off (default)")
    ] = False,
    note: Annotated[str, typer.Option(help="why (shown in the list)")] = "",
) -> None:
    """Make a day a day off (a provincial holiday, a bridge day) or a working day (a make-up Saturday)."""
    when = _day(day)
    with open_session() as session:
        cal.set_day(session=session, day=when, working=working, note=note, actor="cli")
    echo(f"{when.isoformat()}: {'working day' if working else 'day off'}")


@calendar_app.command("remove")
def calendar_remove(day: Annotated[str, typer.Argument(help="YYYY-MM-DD")]) -> None:
    """Remove an exception: the day follows weekends and public holidays again."""
    when = _day(day)
    with open_session() as session:
        cal.remove_day(session=session, day=when)
    echo(f"{when.isoformat()}: exception removed")


@calendar_app.command("list")
def calendar_list(year: Annotated[int | None, typer.Option(help="one year (default: this year)")] = None) -> None:
    """The year's public holidays and the administrator's exceptions."""
    settings = load_settings()
    with open_session(settings) as session:
        year = year or utcnow().astimezone(settings.tz).year
        if not 1900 <= year <= 2200:
            fail("the year must lie between 1900 and 2200")
        days = cal.list_days(session=session, year=year)
    rows: dict[date, str] = {
        d: f"public holiday: {name}" for d, name in holidays.country_holidays("VN", years=year).items()
    }
    for extra in days:
        kind = "working day" if extra.working else "day off"
        rows[extra.day] = kind + (f": {extra.note}" if extra.note else "") + " (added)"
    for when in sorted(rows):
        echo(f"{when.isoformat()} {when.strftime('%a')}  {rows[when]}")


@petitions_app.command("purge")
def petitions_purge() -> None:
    """Erase the contacts of petitions closed longer ago than HAILONG_PETITION_CONTACT_RETENTION_MONTHS (the rest
    stays; open petitions keep theirs)."""
    settings = load_settings()
    with open_session(settings) as session:
        n = purge_contacts(session=session, settings=settings)
    echo(f"contacts erased from {n} petitions")


@notify_app.command("run")
def notify_run(
    purge: Annotated[bool, typer.Option(help="also erase expired petition contacts")] = False,
) -> None:
    """One round: queue due-soon, overdue, digests and low-rate alerts, then send the outbox (for cron)."""
    settings = load_settings()
    with open_session(settings) as session:
        queued = notify.scan(session=session, settings=settings)
        if purge:
            purge_contacts(session=session, settings=settings)
        session.commit()  # the queue is stored before the sending, which runs its own transactions
        sent, failed = notify.deliver(engine=engine_of(session), settings=settings)
    echo(f"queued {queued}, sent {sent}, failed {failed} (will retry)")


@notify_app.command("status")
def notify_status() -> None:
    """The outbox: messages waiting, retrying, the oldest, and the last error."""
    with open_session() as session:
        b = notify.backlog(session=session)
    oldest = b.oldest.isoformat() if b.oldest else "-"
    echo(f"pending {b.pending} (retrying {b.retrying}), oldest {oldest}, sent {b.sent}")
    if b.last_error:
        echo(f"last error: {b.last_error}")

"""`hailong seed-demo`: demo units, counters, officers, logins and about a year of ratings."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from sqlmodel import select

from server.cli.core import app, fail, load_settings, open_session, progress_bar
from server.models import Unit
from server.terminal import echo


@app.command("seed-demo")
def seed_demo_command(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and end month give the same data")] = 1,
    end_month: Annotated[str | None, typer.Option(help="Last month of data, YYYY-MM (default: this month)")] = None,
    months: Annotated[int, typer.Option(min=1, max=60, help="How many months of ratings")] = 12,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when the database has units")] = False,
) -> None:
    """Load demo units, counters, officers and about a year of ratings."""
    from server.demo import seed_demo

    settings = load_settings()
    with open_session(settings) as session:
        today = date.today()
        if end_month:
            try:
                year, month = (int(p) for p in end_month.split("-"))
                end = date(year, month, 1)
            except ValueError:
                fail(f"--end-month must look like 2026-10, not {end_month!r}")
        else:
            end = date(today.year, today.month, 1)
        has_units = session.exec(select(Unit.id).limit(1)).first() is not None
        if has_units:
            if if_empty:
                echo("demo data: the database already has units; nothing to do", err=True)
                return
            fail("the database already has units; seed-demo only fills an empty database (use --if-empty to skip)")
        if settings.environment == "production":
            fail("seed-demo makes demo logins with a published password; it refuses HAILONG_ENVIRONMENT=production")
        with progress_bar() as bar:
            task = bar.add_task("demo ratings", total=None)
            summary = seed_demo(
                session=session,
                seed=seed,
                end_month=end,
                months=months,
                tz=settings.tz,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    echo(
        f"demo data: {summary.units} units, {summary.counters} counters, {summary.officers} officers, "
        f"{summary.ratings} ratings, {summary.visits} visits"
    )
    from server.demo import DEMO_PASSWORD

    for username, role, scope in summary.users:
        echo(f"demo login: {username} / {DEMO_PASSWORD} ({role}, {scope})")

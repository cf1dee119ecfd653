"""`hailong user create`, `hailong user notify`, `hailong apikey create`: people who log in (and where they are
notified) and keys for other systems."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlmodel import select

from server.cli.core import app, fail, load_settings, open_session
from server.terminal import echo

user_app = typer.Typer(help="People who log in.", no_args_is_help=True)
apikey_app = typer.Typer(help="Keys for other systems.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[str, typer.Option(help="admin | manager | officer")],
    unit: Annotated[str | None, typer.Option(help="Unit code (the user sees this unit and its subtree)")] = None,
    officer: Annotated[str | None, typer.Option(help="Officer code, for an officer's own figures")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
    email: Annotated[str | None, typer.Option(help="Email address for notifications (all kinds on)")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number for SMS notifications (all kinds on)")] = None,
) -> None:
    """Create a login; asks for the password twice, or reads one line from stdin. With --email or --phone the user
    is notified (new petitions, due soon, overdue, weekly digest, low-rate alerts) before ever logging in."""
    from server.auth.service import create_user
    from server.models import Officer
    from server.petitions.notify import set_addresses
    from server.units.service import get_unit

    settings = load_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_session(settings) as session:
        unit_row = get_unit(session=session, code=unit) if unit else None
        officer_row = None
        if officer:
            officer_row = session.exec(select(Officer).where(Officer.code == officer)).first()
            if officer_row is None:
                fail(f"unknown officer {officer!r}")
        user = create_user(
            session=session, username=username, password=password, role=role, unit=unit_row, officer=officer_row
        )
        if email is not None or phone is not None:
            set_addresses(session=session, user=user, email=email, phone=phone, actor="cli")
    echo(f"user {user.username} ({user.role}) created" + _notified(email, phone))


def _notified(email: str | None, phone: str | None) -> str:
    to = [a.strip() for a in (email, phone) if a and a.strip()]
    return f", notified at {' and '.join(to)}" if to else ""


@user_app.command("notify")
def user_notify(
    username: Annotated[str, typer.Argument(help="Login name")],
    email: Annotated[str | None, typer.Option(help="Email address for notifications ('' removes it)")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number for SMS notifications ('' removes it)")] = None,
) -> None:
    """Set where a user is notified, without their logging in: a user with no preferences yet gets every kind of
    message; one who chose kinds at /petitions/preferences keeps them."""
    from server.models import User
    from server.petitions.notify import set_addresses

    if email is None and phone is None:
        fail("give --email and/or --phone")
    with open_session() as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            fail(f"unknown user {username!r}")
        pref = set_addresses(session=session, user=user, email=email, phone=phone, actor="cli")
        to = [a for a in (pref.email, pref.phone) if a]
    echo(f"user {username} notified at {' and '.join(to)}" if to else f"user {username}: no address, not notified")


@apikey_app.command("create")
def apikey_create(
    kind: Annotated[str, typer.Option(help="visits (register visits) | read (indices and exports)")],
    unit: Annotated[str, typer.Option(help="Unit code: the key covers this unit and its subtree")],
    label: Annotated[str, typer.Option(help="A note to tell keys apart")] = "",
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from server.auth.service import audit, create_api_key
    from server.units.service import get_unit

    with open_session() as session:
        row, key = create_api_key(session=session, kind=kind, unit=get_unit(session=session, code=unit), label=label)
        audit(session=session, actor="cli", action="apikey.create", target=f"{row.kind}:{row.prefix}", detail=unit)
    echo(key)

"""`hailong kiosk`, `demo-kiosk`, `pairing-code`, `kiosk-list`, `kiosk-revoke`: the counters' touch screens."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from server import PROJECT_ROOT
from server.cli.core import app, fail, load_settings, open_session
from server.terminal import echo, printable

# --- Kiosks (issue 3) --------------------------------------------------------------------------------------------


@app.command()
def kiosk(
    server: Annotated[str | None, typer.Option(help="Central server URL (HAILONG_KIOSK_SERVER_URL)")] = None,
    host: Annotated[str | None, typer.Option(help="Address of the touch UI (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port of the touch UI (default 8001)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Directory of the kiosk's outbox (default var/kiosk)")] = None,
    pin: Annotated[str | None, typer.Option(help="Staff PIN of the status screen (HAILONG_KIOSK_PIN)")] = None,
    pair: Annotated[str | None, typer.Option(metavar="CODE", help="Exchange this pairing code first")] = None,
    pair_wait: Annotated[float, typer.Option(min=0, help="Seconds to keep trying to reach the server")] = 0.0,
    pair_only: Annotated[bool, typer.Option("--pair-only", help="Pair, then exit")] = False,
) -> None:
    """Run the touch-screen kiosk app at a counter (offline first; forwards ratings to --server)."""
    args = []
    for flag, value in (
        ("--server", server),
        ("--host", host),
        ("--port", port),
        ("--data-dir", data_dir),
        ("--pin", pin),
        ("--pair", pair),
    ):
        if value is not None:
            args += [flag, str(value)]
    if pair_wait:
        args += ["--pair-wait", str(pair_wait)]
    if pair_only:
        args.append("--pair-only")
    run_kiosk_process(args)


def run_kiosk_process(args: list[str]) -> NoReturn:
    """Replace this process with `python -m kiosk` (the kiosk never loads the central server's modules)."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    env = dict(os.environ)  # the checkout on the path: `kiosk` imports from any working directory
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    os.execve(sys.executable, [sys.executable, "-m", "kiosk", *args], env)


@app.command("demo-kiosk")
def demo_kiosk(
    counter: Annotated[str, typer.Option(help="Demo counter to pair with")] = "BMT-Q01",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the demo kiosk")] = 8001,
    server: Annotated[str, typer.Option(help="The central server it forwards to")] = "http://127.0.0.1:8000",
    data_dir: Annotated[Path, typer.Option(help="The demo kiosk's outbox")] = PROJECT_ROOT / "var" / "demo-kiosk",
) -> None:
    """Run a demo kiosk paired to a demo counter (pairs itself on first start, through the real endpoint)."""
    from kiosk.outbox import Outbox
    from server.kiosks.service import create_pairing_code, demo_token_accepted

    outbox = Outbox(data_dir / "outbox.db")
    token = outbox.get("token")
    revoked = outbox.get("revoked") == "1"
    outbox.close()
    args = ["--server", server, "--port", str(port), "--data-dir", str(data_dir)]
    settings = load_settings()
    # The demo kiosk (only it: a real kiosk waits for staff) pairs itself again whenever the server would refuse
    # its token, e.g. after var/hailong.db was recreated: its old token names a device the new database lacks.
    with open_session(settings) as session:
        accepted = token is not None and not revoked and demo_token_accepted(session=session, token=token)
        if not accepted:
            if token is not None:
                echo("demo kiosk: the server no longer knows its pairing; pairing again", err=True)
            code, _ = create_pairing_code(session=session, counter_code=counter, settings=settings)
    if not accepted:
        args += ["--pair", code, "--pair-wait", "60"]
    echo(
        f"demo kiosk: http://127.0.0.1:{port}  (counter {counter}; staff screen: hold the top-left "
        "corner 3 s, PIN 1234)",
        err=True,
    )
    run_kiosk_process(args)


@app.command("pairing-code")
def pairing_code(
    counter: Annotated[str, typer.Option(help="Code of the counter the kiosk stands at")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the code")] = False,
) -> None:
    """Print a single-use code that pairs a kiosk with a counter (only its hash is stored)."""
    from server.auth.service import audit
    from server.kiosks.service import create_pairing_code

    settings = load_settings()
    with open_session(settings) as session:
        code, expires_at = create_pairing_code(session=session, counter_code=counter, settings=settings)
        audit(session=session, actor="cli", action="kiosk.pairing_code", target=counter)
    if quiet:
        echo(code)
        return
    local = expires_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
    echo(code)
    echo(
        f"pairing code for counter {counter}, single use, valid until {local} ({settings.timezone}); enter it on "
        "the kiosk's set-up screen or run `hailong kiosk --server URL --pair CODE`",
        err=True,
    )


@app.command("kiosk-list")
def kiosk_list() -> None:
    """List paired kiosks: counter, last contact, outbox backlog, clock offset and ratings delivered."""
    from server.kiosks.service import list_devices

    settings = load_settings()
    with open_session(settings) as session:
        devices = list_devices(session=session)
    if not devices:
        echo("no kiosks are paired; make a code with `hailong pairing-code --counter CODE`", err=True)
        return

    def when(at: object) -> str:
        return at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M") if hasattr(at, "astimezone") else "-"

    echo("id\tcounter\tstate\tlast seen\tbacklog\tclock offset s\tversion\tratings")
    for d in devices:
        state = "revoked" if d.revoked_at else ("clock!" if d.clock_flagged else "live")
        offset = "-" if d.clock_offset_seconds is None else f"{d.clock_offset_seconds:+.0f}"
        echo(
            f"{d.id}\t{printable(d.counter, field=True)}\t{state}\t{when(d.last_seen_at)}\t{d.backlog}\t{offset}\t"
            f"{printable(d.app_version or '-', field=True)}\t{d.ratings}"
        )


@app.command("kiosk-revoke")
def kiosk_revoke(
    device: Annotated[int | None, typer.Option(help="Device id (see `hailong kiosk-list`)")] = None,
    counter: Annotated[str | None, typer.Option(help="Revoke every live kiosk of this counter")] = None,
) -> None:
    """Revoke kiosk device tokens: the kiosk shows "out of service" and keeps its ratings until re-paired."""
    from server.auth.service import audit
    from server.kiosks.service import revoke_devices

    with open_session() as session:
        n = revoke_devices(session=session, device_id=device, counter_code=counter)
        if n == 0:
            fail("no live kiosk matched; see `hailong kiosk-list`")
        audit(session=session, actor="cli", action="kiosk.revoke", target=str(device or counter))
    echo(f"{n} kiosk(s) revoked")

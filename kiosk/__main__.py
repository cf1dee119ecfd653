"""`python -m kiosk` (what `hailong kiosk` runs): pair once if asked, then serve the touch UI.

Kept free of the central server's modules so that the kiosk process starts fast and stays small.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from kiosk.central import CentralError, Refused
from kiosk.config import KioskSettings
from kiosk.runtime import Runtime


def _die(message: str, status: int = 1) -> NoReturn:
    print(f"hailong: error: {message}", file=sys.stderr)
    sys.exit(status)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _die(f"{message} (see `hailong kiosk --help`)", 2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; each overrides its HAILONG_KIOSK_* variable."""
    parser = _Parser(prog="hailong kiosk", description="Run the touch-screen kiosk app at a counter.")
    parser.add_argument("--server", help="central server URL, e.g. https://hailong.example.gov.vn")
    parser.add_argument("--host", help="address of the touch UI (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port of the touch UI (default 8001)")
    parser.add_argument("--data-dir", type=Path, help="directory of the outbox database (default var/kiosk)")
    parser.add_argument("--pin", help="staff PIN for the status screen")
    parser.add_argument("--pair", metavar="CODE", help="exchange this pairing code for a device token first")
    parser.add_argument(
        "--pair-wait", type=float, default=0.0, metavar="SECONDS", help="keep trying to reach the server this long"
    )
    parser.add_argument("--pair-only", action="store_true", help="pair, then exit without serving")
    return parser.parse_args(argv)


def build_settings(args: argparse.Namespace) -> KioskSettings:
    """Settings from the environment with the command line on top; configuration errors as one line."""
    overrides = {
        "server_url": args.server,
        "host": args.host,
        "port": args.port,
        "data_dir": args.data_dir,
        "pin": args.pin,
    }
    try:
        return KioskSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        _die(f"configuration: {where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")


def pair_now(rt: Runtime, code: str, wait: float) -> str:
    """Exchange the code, retrying while the server cannot be reached (up to `wait` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            paired = asyncio.run(rt.pair(code))
        except Refused as exc:
            _die(f"pairing refused: {exc}")
        except CentralError as exc:
            if time.monotonic() >= deadline:
                _die(f"cannot reach {rt.settings.server_url} to pair: {exc}")
            time.sleep(0.5)
            continue
        return f"paired with counter {paired.counter} ({paired.counter_name}) of unit {paired.unit}"


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    settings = build_settings(args)
    try:
        rt = Runtime.open(settings)
    except (OSError, RuntimeError) as exc:
        _die(f"cannot open the outbox at {settings.outbox_path}: {exc}")
    if args.pair:
        print(f"kiosk: {pair_now(rt, args.pair, args.pair_wait)}", file=sys.stderr)
        if args.pair_only:
            return
    elif rt.pairing is None:
        print(
            "kiosk: not paired yet; enter a pairing code on the staff screen (hold the top-left corner) "
            "or run `hailong kiosk --pair CODE`",
            file=sys.stderr,
        )
    import uvicorn

    from kiosk.app import create_kiosk_app

    print(f"kiosk: touch UI on http://{settings.host}:{settings.port} → {settings.server_url}", file=sys.stderr)
    uvicorn.run(
        create_kiosk_app(settings, rt),
        host=settings.host,
        port=settings.port,
        log_level=os.environ.get("HAILONG_KIOSK_LOG_LEVEL", "warning"),
        access_log=False,
    )


if __name__ == "__main__":
    main()

"""The server's sender loop: every `HAILONG_NOTIFY_INTERVAL_SECONDS` it queues what time brings and delivers the
outbox (server/petitions/notify.py); once a day it also erases expired petition contacts. With several workers each
runs it: claims and dedupe keys keep every message sent once.
"""

from __future__ import annotations

import functools
import logging
from datetime import date

import anyio
import sqlalchemy as sa

from server.config import Settings
from server.db import utcnow
from server.petitions.notify import run_cycle

log = logging.getLogger("hailong.notify")


async def run_sender(engine: sa.Engine, settings: Settings) -> None:
    """Run `run_cycle` forever (cancelled with the app); an error is logged and the loop goes on."""
    purged_on: date | None = None
    while True:
        today = utcnow().astimezone(settings.tz).date()
        purge = purged_on != today
        try:
            await anyio.to_thread.run_sync(functools.partial(run_cycle, engine=engine, settings=settings, purge=purge))
            if purge:
                purged_on = today
        except Exception:
            log.exception("notification round failed; trying again in %s s", settings.notify_interval_seconds)
        await anyio.sleep(settings.notify_interval_seconds)

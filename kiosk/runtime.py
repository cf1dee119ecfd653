"""The kiosk's live state and its background work: forwarding the outbox, heartbeats, watching for visits.

Forwarding retries forever with exponential back-off and jitter. A rating leaves `pending` only when the server's
answer, checked against the contract and the ids sent, acknowledges it. Taps never wait for any of this: they
commit to the outbox and wake the forwarder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk import __version__
from kiosk.central import Central, CentralError, Refused, Revoked, TooLarge
from kiosk.config import KioskSettings
from kiosk.outbox import Outbox
from server.contracts import ChoiceInfo, KioskConfig, LevelInfo, PairResponse, VisitInfo

log = logging.getLogger("hailong.kiosk")

#: Staff sessions (after the PIN) last this long; this many wrong PINs lock the keypad (`pin_lock_seconds`).
STAFF_SESSION_SECONDS = 600
PIN_ATTEMPTS = 5


@dataclass
class SyncState:
    """What the corner indicator and the staff screen show about the link to the central server."""

    online: bool | None = None
    offline_since: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    revoked: bool = False

    def succeeded(self) -> None:
        """The server answered as the contract says."""
        self.online = True
        self.offline_since = None
        self.last_success_at = datetime.now(UTC)
        self.last_error = None

    def failed(self, error: Exception) -> None:
        """The server could not be reached or gave an unusable answer."""
        if self.online is not False:
            self.offline_since = datetime.now(UTC)
        self.online = False
        self.last_error = str(error) or type(error).__name__


@dataclass
class Pairing:
    """The counter this kiosk is paired with and its device token."""

    token: str
    counter: str
    unit: str
    counter_name: str
    unit_name: str


@dataclass
class Choices:
    """What the screens offer: fields, reasons and the scale (most positive first); `here` are the fields this
    counter serves, most rated here first (every field until the server says otherwise)."""

    fields: list[ChoiceInfo]
    reasons: list[ChoiceInfo]
    levels: list[LevelInfo]
    here: list[ChoiceInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.here:
            self.here = list(self.fields)

    @property
    def only_field(self) -> ChoiceInfo | None:
        """The counter's one field, when it serves only one (the citizen is never asked)."""
        return self.here[0] if len(self.here) == 1 else None

    def level(self, value: int) -> LevelInfo | None:
        """The scale level `value`, if the scale has it."""
        return next((lv for lv in self.levels if lv.level == value), None)

    def field(self, code: str) -> ChoiceInfo | None:
        """The field `code`, if offered."""
        return next((f for f in self.fields if f.code == code), None)


class TapRefused(Exception):
    """A tap that cannot become a rating (kiosk not paired, or nonsense from a tampered form)."""


@dataclass
class Runtime:
    """Everything the kiosk app shares between requests and background tasks."""

    settings: KioskSettings
    outbox: Outbox
    sync: SyncState = field(default_factory=SyncState)
    offered_visit: VisitInfo | None = None
    ui_idle_at: float = 0.0
    #: The visit whose faces (or reasons) the screen shows, and when the screen last said so.
    shown_visit: str | None = None
    shown_visit_at: float = 0.0
    #: Visits the server said can no longer be rated here (rated by phone, cancelled, declined, expired).
    closed_visits: dict[str, str] = field(default_factory=dict)
    #: Visits declined on the screen, still to report to the server.
    declined_visits: list[str] = field(default_factory=list)
    batch_size: int = 500
    staff_sessions: dict[str, float] = field(default_factory=dict)
    pin_failures: list[float] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    wake: asyncio.Event | None = None
    heartbeat_now: asyncio.Event | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    central: Central | None = None
    poller: Central | None = None

    @classmethod
    def open(cls, settings: KioskSettings) -> Runtime:
        """The runtime over the kiosk's outbox database (created on first use)."""
        rt = cls(settings=settings, outbox=Outbox(settings.outbox_path), batch_size=settings.batch_size)
        rt.sync.revoked = rt.outbox.get("revoked") == "1"
        return rt

    # --- pairing and configuration ------------------------------------------------------------------------------

    @property
    def pairing(self) -> Pairing | None:
        """The current pairing, if any."""
        token = self.outbox.get("token")
        if not token:
            return None
        return Pairing(
            token=token,
            counter=self.outbox.get("counter") or "",
            unit=self.outbox.get("unit") or "",
            counter_name=self.outbox.get("counter_name") or "",
            unit_name=self.outbox.get("unit_name") or "",
        )

    @property
    def in_service(self) -> bool:
        """Whether citizens can rate (paired and not revoked)."""
        return self.pairing is not None and not self.sync.revoked

    def choices(self) -> Choices | None:
        """The central store's lists as last received (with the pairing or a heartbeat); None before the first
        (a kiosk has no lists of its own: it shows "connecting" until they come)."""
        raw = self.outbox.get("config")
        if raw:
            try:
                cfg = KioskConfig.model_validate_json(raw)
                if cfg.fields and cfg.levels:
                    by_code = {f.code: f for f in cfg.fields}
                    here = [by_code[c] for c in cfg.counter_fields or [] if c in by_code]
                    return Choices(cfg.fields, cfg.reasons, sorted(cfg.levels, key=lambda lv: -lv.level), here)
            except ValueError:
                log.warning("ignoring an unreadable cached configuration")
        return None

    def _config_values(self, cfg: KioskConfig) -> dict[str, str | None]:
        return {
            "config": cfg.model_dump_json(),
            "counter_name": cfg.counter.name,
            "unit_name": cfg.unit.name,
            "counter": cfg.counter.code,
            "unit": cfg.unit.code,
            "server_offset_seconds": str((cfg.server_time - self.settings.now()).total_seconds()),
        }

    def store_config(self, cfg: KioskConfig) -> None:
        """Keep the configuration the server sent (used offline too)."""
        self.outbox.put(self._config_values(cfg))

    def store_pairing(self, paired: PairResponse) -> None:
        """Keep a new device token and the configuration that came with it (an older server sends none: the first
        heartbeat brings it); the kiosk is in service again."""
        self.outbox.put(
            {
                "token": paired.token,
                "counter": paired.counter,
                "unit": paired.unit,
                "counter_name": paired.counter_name or paired.counter,
                "unit_name": paired.unit_name or paired.unit,
                "revoked": None,
                "config": None,
                "paired_at": datetime.now(UTC).isoformat(),
            }
            | (self._config_values(paired.config) if paired.config is not None else {})
        )
        self.sync.revoked = False
        for client in (self.central, self.poller):
            if client is not None:
                client.token = paired.token
        self._signal(self.wake)
        self._signal(self.heartbeat_now)

    async def pair(self, code: str) -> PairResponse:
        """Exchange a pairing code with the central server (Refused/CentralError when it does not work)."""
        client = Central(self.settings.server_url, timeout=self.settings.request_timeout_seconds)
        try:
            paired = await client.pair(code)
        finally:
            await client.aclose()
        self.store_pairing(paired)
        return paired

    def mark_revoked(self) -> None:
        """The server refused the device token: out of service, ratings kept."""
        if not self.sync.revoked:
            log.warning("the central server refused this kiosk's token: out of service until paired again")
        self.sync.revoked = True
        self.outbox.put({"revoked": "1"})

    # --- taps ---------------------------------------------------------------------------------------------------

    def record_rating(
        self,
        *,
        rating_id: str,
        level: int,
        field_code: str,
        visit_token: str | None,
        reasons: list[str],
        rated_at: datetime | None,
    ) -> None:
        """Commit one rating to the outbox (durably) and wake the forwarder; never touches the network."""
        pairing = self.pairing
        if pairing is None or self.sync.revoked:
            raise TapRefused("the kiosk is out of service")
        choices = self.choices()
        if choices is None:
            raise TapRefused("no lists from the central server yet")
        scale = choices.level(level)
        if scale is None:
            raise TapRefused(f"unknown level {level}")
        if visit_token is None and choices.field(field_code) is None:
            raise TapRefused(f"unknown field {field_code!r}")
        known = {r.code for r in choices.reasons}
        chosen = [] if scale.satisfied else sorted({r for r in reasons if r in known})
        try:
            rid = str(uuid.UUID(rating_id))
        except ValueError as exc:
            raise TapRefused("bad rating id") from exc
        now = self.settings.now()
        if rated_at is None or not (now - timedelta(minutes=15) <= rated_at <= now):
            rated_at = now
        item: dict[str, Any] = {
            "id": rid,
            "level": level,
            "field": field_code,
            "visit_token": visit_token,
            "reasons": chosen,
            "comment": None,
            "rated_at": rated_at.astimezone(self.settings.tz).isoformat(),
        }
        self.outbox.add(item, counter=pairing.counter)
        self._signal(self.wake)

    def wake_forwarder(self) -> None:
        """Deliver now (new ratings, or refused ones queued again)."""
        self._signal(self.wake)

    def _signal(self, event: asyncio.Event | None) -> None:
        if event is None or self.loop is None or self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(event.set)

    # --- visits -------------------------------------------------------------------------------------------------

    def take_offered_visit(self) -> VisitInfo | None:
        """The visit to show now, once: it is remembered so that an abandoned visit does not come back."""
        self.ui_idle_at = time.monotonic()
        visit = self.offered_visit
        if visit is None or not self.in_service:
            return None
        self.offered_visit = None
        if not self.outbox.mark_visit_seen(visit.token):
            return None
        return visit

    def watch_shown(self, token: str) -> str | None:
        """The screen shows this visit: report it and watch whether it closes. Answers its state once closed."""
        now = time.monotonic()
        self.shown_visit, self.shown_visit_at, self.ui_idle_at = token, now, now
        return self.closed_visits.get(token)

    def visit_closed(self, token: str) -> str | None:
        """How the visit closed (`rated`, `cancelled`, …) if the server said so; None while it is open."""
        return self.closed_visits.get(token)

    def decline_visit(self, token: str) -> None:
        """The citizen skipped the visit's faces: never offer it again, and tell the console."""
        self.outbox.mark_visit_seen(token)
        if self.shown_visit == token:
            self.shown_visit = None
        if token not in self.declined_visits:
            self.declined_visits.append(token)
        self.ui_idle_at = time.monotonic()

    def _visit_answer(self, token: str, state: str) -> None:
        if state == "open":
            self.closed_visits.pop(token, None)
            return
        if len(self.closed_visits) > 1000:
            self.closed_visits.clear()
        self.closed_visits[token] = state

    # --- staff --------------------------------------------------------------------------------------------------

    def check_pin(self, pin: str) -> str | None:
        """A staff session id for the right PIN; None for a wrong one. Raises TapRefused while locked."""
        now = time.monotonic()
        lock = self.settings.pin_lock_seconds
        self.pin_failures = [t for t in self.pin_failures if now - t < lock]
        if len(self.pin_failures) >= PIN_ATTEMPTS:
            raise TapRefused("locked")
        if not secrets.compare_digest(pin.encode(), self.settings.pin.encode()):
            self.pin_failures.append(now)
            if len(self.pin_failures) >= PIN_ATTEMPTS:  # the fifth wrong PIN locks the keypad at once
                log.warning("%d wrong staff PINs: the keypad is locked for %d s", PIN_ATTEMPTS, lock)
                raise TapRefused("locked")
            return None
        self.pin_failures.clear()
        session = secrets.token_urlsafe(24)
        self.staff_sessions = {k: v for k, v in self.staff_sessions.items() if v > now}
        self.staff_sessions[session] = now + STAFF_SESSION_SECONDS
        return session

    def is_staff(self, session: str | None) -> bool:
        """Whether this cookie belongs to a live staff session."""
        return bool(session) and self.staff_sessions.get(session or "", 0) > time.monotonic()

    # --- background work ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start forwarding, heartbeats and the visit watch (in the app's event loop)."""
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.heartbeat_now = asyncio.Event()
        token = self.pairing.token if self.pairing else None
        timeout = self.settings.request_timeout_seconds
        clock = self.settings.now
        self.central = Central(self.settings.server_url, token=token, timeout=timeout, clock=clock)
        self.poller = Central(self.settings.server_url, token=token, timeout=min(2.0, timeout), clock=clock)
        for work in (self._forward_forever, self._heartbeat_forever, self._watch_visits_forever):
            self.tasks.append(asyncio.create_task(work(), name=work.__name__))

    async def stop(self) -> None:
        """Stop the background work and close the database."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        for client in (self.central, self.poller):
            if client is not None:
                await client.aclose()
        self.outbox.close()

    def backoff(self, failures: int) -> float:
        """Exponential back-off with jitter: half the capped delay plus a random half."""
        delay = min(self.settings.retry_max_seconds, self.settings.retry_base_seconds * 2 ** min(failures - 1, 30))
        return delay / 2 + random.uniform(0, delay / 2)

    async def _forward_forever(self) -> None:
        assert self.wake is not None
        failures = 0
        while True:
            self.wake.clear()
            try:
                if self.pairing is not None:
                    await self.deliver_pending()
            except Revoked as exc:
                self.mark_revoked()
                self.sync.failed(exc)
                failures += 1
            except CentralError as exc:
                self.sync.failed(exc)
                failures += 1
                log.info("delivery failed (%s); retrying", exc)
            except Exception:  # never let the forwarder die: log, back off, go on
                log.exception("unexpected error while forwarding")
                failures += 1
            else:
                failures = 0
            if failures:
                if self.sync.revoked:  # only a new pairing helps: wake up for it
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), timeout=self.backoff(failures))
                else:  # offline: new taps do not shorten the back-off
                    await asyncio.sleep(self.backoff(failures))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.settings.heartbeat_seconds)

    async def deliver_pending(self) -> int:
        """Send pending ratings batch by batch until none is left; returns how many were settled."""
        assert self.central is not None
        settled = 0
        while (pairing := self.pairing) is not None:
            self.central.token = pairing.token
            items = await asyncio.to_thread(self.outbox.pending, counter=pairing.counter, limit=self.batch_size)
            if not items:
                return settled
            try:
                results = await self.central.send_ratings(items)
            except TooLarge:
                if len(items) > 1:
                    self.batch_size = max(1, len(items) // 2)
                    continue
                results = None
            outcomes: list[tuple[str, str, str | None]]
            if results is None:
                outcomes = [(items[0]["id"], "invalid", "too large for the server")]
            else:
                outcomes = [(sent["id"], r.status, r.detail) for sent, r in zip(items, results, strict=True)]
            await asyncio.to_thread(self.outbox.settle, outcomes)
            self.sync.succeeded()
            if self.sync.revoked:
                self.sync.revoked = False
                self.outbox.put({"revoked": None})
            settled += len(outcomes)
        return settled

    async def _heartbeat_forever(self) -> None:
        assert self.heartbeat_now is not None
        last_prune = 0.0
        while True:
            self.heartbeat_now.clear()
            await self.heartbeat()
            if time.monotonic() - last_prune > 3600:
                last_prune = time.monotonic()
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.outbox.prune_sent, timedelta(days=self.settings.keep_sent_days))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.heartbeat_now.wait(), timeout=self.settings.heartbeat_seconds)

    async def heartbeat(self) -> None:
        """Report the outbox and refresh the configuration (errors only change the indicator)."""
        pairing = self.pairing
        if pairing is None or self.central is None:
            return
        self.central.token = pairing.token
        counts = await asyncio.to_thread(self.outbox.counts, counter=pairing.counter)
        try:
            cfg = await self.central.heartbeat(
                backlog=counts.pending + counts.stranded, dead_letters=counts.dead, app_version=__version__
            )
        except Revoked as exc:
            self.mark_revoked()
            self.sync.failed(exc)
            return
        except CentralError as exc:
            self.sync.failed(exc)
            return
        await asyncio.to_thread(self.store_config, cfg)
        if self.sync.revoked:
            self.sync.revoked = False
            self.outbox.put({"revoked": None})
        self.sync.succeeded()

    async def _watch_visits_forever(self) -> None:
        idle_grace = max(3.0, 3 * self.settings.ui_poll_ms / 1000)
        while True:
            if self.poller is not None and self.in_service and time.monotonic() - self.ui_idle_at < idle_grace:
                pairing = self.pairing
                if pairing is not None:
                    self.poller.token = pairing.token
                    try:
                        answer = await self.poller.current_visit()
                    except Revoked:
                        self.mark_revoked()
                    except CentralError:
                        pass  # offline: the citizen simply picks the field
                    else:
                        visit = answer.visit
                        if visit is None or await asyncio.to_thread(self.outbox.visit_seen, visit.token):
                            self.offered_visit = None
                        else:
                            self.offered_visit = visit
                    await self._report_visits(idle_grace)
            await asyncio.sleep(self.settings.visit_poll_seconds)

    async def _report_visits(self, grace: float) -> None:
        """Tell the server which visit the screen shows (and which were declined); learn which closed meanwhile."""
        assert self.poller is not None
        reports = [(token, "declined") for token in self.declined_visits]
        shown = self.shown_visit
        if shown is not None and time.monotonic() - self.shown_visit_at < grace and shown not in self.declined_visits:
            reports.append((shown, "shown"))
        for token, event in reports:
            try:
                answer = await self.poller.visit_status(token, event)
            except Revoked:
                self.mark_revoked()
                return
            except CentralError:
                return  # offline, or a server without this endpoint: the citizen simply goes on
            if event == "declined":
                self.declined_visits.remove(token)
            self._visit_answer(token, answer.state)

    def status(self) -> dict[str, Any]:
        """Everything the staff screen shows."""
        pairing = self.pairing
        counts = self.outbox.counts(counter=pairing.counter if pairing else None)
        offset = self.outbox.get("server_offset_seconds")
        return {
            "pairing": pairing,
            "counts": counts,
            "sync": self.sync,
            "server_url": self.settings.server_url,
            "version": __version__,
            "dead_letters": self.outbox.dead_letters(20),
            "retryable_dead": self.outbox.retryable_dead(),
            "clock_offset": None if offset is None else round(float(offset)),
            "outbox_path": str(self.outbox.path),
            "batch_size": self.batch_size,
        }


def dumps(value: Any) -> str:
    """JSON for `hx-vals` attributes."""
    return json.dumps(value, ensure_ascii=False)


__all__ = ["Refused", "Runtime", "TapRefused"]

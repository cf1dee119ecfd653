"""A small in-process limiter of *failures* per client address (unknown or expired rating links, bad logins).

Only failures count: a centre's guest Wi-Fi or a carrier NAT puts dozens of honest phones behind one address, and
every valid submission already needs its own unused visit token, so successes never use up anyone's allowance.
Each worker process counts on its own (with N workers an address gets up to N × the limit before every worker
refuses it); that is enough to make guessing 72-bit tokens pointless noise, and costs no database write.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast


def address_key(host: str | None) -> str:
    """The bucket of a client address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole /64)."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True)
class Verdict:
    """Whether an address may go on, and when to come back if not."""

    allowed: bool
    retry_after: int = 0


class FailureLimiter:
    """At most `limit` failures per address within a sliding `window` of seconds; then refuse until one expires."""

    def __init__(
        self, *, limit: int, window: float, max_addresses: int = 20_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, host: str | None) -> Verdict:
        """Whether `host` is still allowed (it has fewer than `limit` recent failures)."""
        key, now = address_key(host), self.clock()
        with self._lock:
            times = self._recent(key, now)
            if times is None or len(times) < self.limit:
                return Verdict(True)
            return Verdict(False, retry_after=max(1, int(times[0] + self.window - now + 0.999)))

    def fail(self, host: str | None) -> None:
        """Count one failure for `host` (the oldest tracked addresses are forgotten beyond `max_addresses`)."""
        key, now = address_key(host), self.clock()
        with self._lock:
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = deque(maxlen=self.limit)
                while len(self._failures) > self.max_addresses:
                    self._failures.popitem(last=False)
            else:
                self._failures.move_to_end(key)
            times.append(now)

    def tracked(self) -> int:
        """How many addresses currently have failures on record."""
        with self._lock:
            return len(self._failures)


_create_lock = threading.Lock()
T = TypeVar("T")


def on_app_state(app_state: object, attribute: str, make: Callable[[], T]) -> T:
    """The app's object kept as `attribute` of its state, made by `make` on first use (each app, so each test app,
    has its own)."""
    found = getattr(app_state, attribute, None)
    if found is None:
        with _create_lock:
            found = getattr(app_state, attribute, None)
            if found is None:
                found = make()
                setattr(app_state, attribute, found)
    return cast(T, found)


def app_limiter(app_state: object, name: str, *, limit: int, window: float) -> FailureLimiter:
    """The app's limiter called `name`, made on first use."""
    return on_app_state(app_state, f"failure_limiter_{name}", lambda: FailureLimiter(limit=limit, window=window))

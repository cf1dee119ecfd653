"""Values reused for a few seconds, per worker process: a small thread-safe time-to-live cache.

Used for figures and reference data that many requests need and that may be a few seconds old:
- the dashboard's figures (`HAILONG_DASHBOARD_CACHE_SECONDS`, default 5; 0 turns it off): a unit's dashboard runs
  four index reports and reads its kiosks, ~90 ms of CPU here (server and database together, `python -m
  bench.soak`); managers refresh the same few pages. Only derived, non-personal figures are kept, keyed by unit and
  period; who may see a unit is checked on every request before the cache is asked. Exports always compute afresh.
- the phone form's choices (`HAILONG_REFERENCE_CACHE_SECONDS`, default 60): the scale and the follow-up reasons,
  read by every step of every phone rating and changed only by migrations. (Kiosk batches keep their codes in
  `server.ingest.service.ReferenceCache`, with the same setting: it also reloads at once for a code it lacks.)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class TimedCache:
    """A small thread-safe time-to-live cache (least recently used entries go first when full)."""

    def __init__(self, seconds: float, *, max_entries: int = 512, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept for `key` if younger than `seconds`, else `compute()` (kept for next time)."""
        if self.seconds <= 0:
            return compute()
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry[0] < self.seconds:
                self._entries.move_to_end(key)
                value: T = entry[1]
                return value
        value = compute()  # outside the lock: two misses at once both compute, neither waits for the other
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

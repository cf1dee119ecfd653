"""Values reused for a few seconds, per worker process: a small thread-safe time-to-live cache.

Used for figures and reference data that many requests need and that may be a few seconds old:
- the dashboard's figures (`HAILONG_DASHBOARD_CACHE_SECONDS`, default 5; 0 turns it off): a unit's dashboard runs
  four index reports and reads its kiosks, ~90 ms of CPU here (server and database together, `python -m
  bench.soak`); managers refresh the same few pages. Once expired, the figures (and the comment filter's lists) are
  served for up to as long again while one background refresh (with its own database session) replaces them, so no
  read waits for the work.
  Only derived, non-personal figures are kept, keyed by unit and period; who may see a unit is checked on every
  request before the cache is asked. Exports always compute afresh.
- the phone form's choices (`HAILONG_REFERENCE_CACHE_SECONDS`, default 60): the scale and the follow-up reasons,
  read by every step of every phone rating and changed only by migrations. (Kiosk batches keep their codes in
  `server.ingest.references.ReferenceCache`, with the same setting: it also reloads at once for a code it lacks.)
- a counter's field order for its kiosks (`HAILONG_FIELD_ORDER_CACHE_SECONDS`, default an hour): the 90-day count of
  the counter's ratings per field, keyed by counter and the first day counted (a new day counts afresh). Every kiosk
  heartbeats every few seconds; the order it feeds changes slowly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("hailong")


def _in_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="hailong-cache-refresh", daemon=True).start()


class TimedCache:
    """A small thread-safe time-to-live cache (least recently used entries go first when full)."""

    def __init__(
        self,
        seconds: float,
        *,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
        spawn: Callable[[Callable[[], None]], None] = _in_thread,
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self.spawn = spawn  # runs a background refresh (a daemon thread; tests pass their own)
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T], refresh: Callable[[], T] | None = None) -> T:
        """The value kept for `key` if younger than `seconds`, else `compute()` (kept for next time).

        With `refresh` (a computation that needs nothing of the caller's request, e.g. its own database session), an
        expired value younger than twice `seconds` is returned as it is while `refresh()` replaces it in the
        background, one refresh per key at a time: the read that finds it expired does not wait for the work, and
        reads meanwhile do not repeat it. A failed refresh is logged; the next read past the expiry tries again.
        """
        if self.seconds <= 0:
            return compute()
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                age, kept = now - entry[0], entry[1]
                if age < self.seconds:
                    self._entries.move_to_end(key)
                    return kept
                if refresh is not None and age < 2 * self.seconds:
                    if key not in self._refreshing:
                        self._refreshing.add(key)
                        self.spawn(lambda: self._refresh(key, refresh))
                    return kept
        value = compute()  # outside the lock: two misses at once both compute, neither waits for the other
        self._keep(key, now, value)
        return value

    def _refresh(self, key: Hashable, refresh: Callable[[], Any]) -> None:
        try:
            started = self.clock()
            self._keep(key, started, refresh())
        except Exception:
            log.exception("refreshing a cached value failed; the next read will compute it")
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _keep(self, key: Hashable, at: float, value: Any) -> None:
        with self._lock:
            self._entries[key] = (at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

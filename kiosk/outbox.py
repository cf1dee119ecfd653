"""The kiosk's own SQLite database: the outbox of ratings, the pairing, the cached configuration.

Every rating is committed here (WAL, `synchronous=FULL`: on disk when the commit returns) before the citizen
sees "thank you"; the forwarder then delivers it. A rating is `pending` until the central server acknowledges its
id (`created` or `duplicate`), then `sent`; a `conflict` or `invalid` answer makes it `dead`: kept and shown on the
staff screen, never dropped. The schema is versioned with `PRAGMA user_version`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE rating (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        counter TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        status TEXT,
        detail TEXT,
        done_at TEXT
    );
    CREATE INDEX ix_rating_state_seq ON rating (state, seq);
    CREATE TABLE setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE seen_visit (token TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
    """,
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Counts:
    """How many ratings are waiting, delivered, refused, and waiting from an earlier pairing."""

    pending: int
    sent: int
    dead: int
    stranded: int


@dataclass(frozen=True)
class DeadLetter:
    """A rating the central server refused (conflict or invalid), kept for the administrator."""

    id: str
    status: str
    detail: str
    rated_at: str
    level: int
    visit_token: str | None = None

    @property
    def retryable(self) -> bool:
        """Whether sending it again can help once an administrator changed something (an unknown field or reason
        added back). Never for a `conflict` (the server keeps a different rating under this id, or the visit was
        rated already, e.g. by phone), nor for a visit the server refused (unknown, of another counter, expired or
        cancelled): no action makes those ratings acceptable."""
        if self.status == "conflict":
            return False
        return not (self.visit_token and "visit" in self.detail)


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (0600) before SQLite does (it would make it 0644): it
    holds the device token and citizens' comments. SQLite gives the -wal and -shm files the same mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Outbox:
    """Thread-safe access to the kiosk database (one connection; every operation is short)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_private(path)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    def _migrate(self) -> None:
        with self._tx() as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} was written by a newer kiosk (schema {version}); update the kiosk")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute(f"PRAGMA user_version={target}")

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                # Inside the try: on a full disk it is the COMMIT (writing the WAL) that fails, and a
                # transaction left open would make every later BEGIN fail even after space is freed.
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # SQLite may have rolled back on its own (SQLITE_FULL, SQLITE_IOERR)
                    self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # --- ratings ------------------------------------------------------------------------------------------------

    def add(self, item: dict[str, Any], *, counter: str) -> bool:
        """Store a rating durably; False when its id is stored already (a double tap)."""
        payload = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO rating (id, payload, counter, created_at) VALUES (?, ?, ?, ?)",
                (item["id"], payload, counter, _now()),
            )
            return bool(cur.rowcount)

    def pending(self, *, counter: str, limit: int) -> list[dict[str, Any]]:
        """The oldest pending ratings of the current pairing, as the items to send."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT payload FROM rating WHERE state = 'pending' AND counter = ? ORDER BY seq LIMIT ?",
                (counter, limit),
            ).fetchall()
        return [json.loads(p) for (p,) in rows]

    def settle(self, outcomes: Iterable[tuple[str, str, str | None]]) -> None:
        """Record the server's answers: acknowledged ids become `sent`, refused ones `dead` with the detail."""
        now = _now()
        acked, dead = [], []
        for rating_id, status, detail in outcomes:
            if status in ("created", "duplicate"):
                acked.append((status, now, rating_id))
            else:
                dead.append((status, detail or "", now, rating_id))
        with self._tx() as c:
            c.executemany(
                "UPDATE rating SET state = 'sent', status = ?, done_at = ?, attempts = attempts + 1 "
                "WHERE id = ? AND state = 'pending'",
                acked,
            )
            c.executemany(
                "UPDATE rating SET state = 'dead', status = ?, detail = ?, done_at = ?, attempts = attempts + 1 "
                "WHERE id = ? AND state = 'pending'",
                dead,
            )

    def counts(self, *, counter: str | None) -> Counts:
        """Ratings per state (pending ones of another pairing are `stranded`)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, counter = ?, count(*) FROM rating GROUP BY state, counter = ?", (counter, counter)
            ).fetchall()
        tally = {"pending": 0, "sent": 0, "dead": 0, "stranded": 0}
        for state, current, n in rows:
            key = "stranded" if state == "pending" and not current else state
            tally[key] += n
        return Counts(**tally)

    def dead_letters(self, limit: int = 50) -> list[DeadLetter]:
        """The newest refused ratings."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, status, detail, payload FROM rating WHERE state = 'dead' ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        out = []
        for rating_id, status, detail, payload in rows:
            item = json.loads(payload)
            out.append(
                DeadLetter(
                    rating_id,
                    status or "",
                    detail or "",
                    item.get("rated_at", ""),
                    item.get("level", 0),
                    item.get("visit_token"),
                )
            )
        return out

    def retryable_dead(self) -> int:
        """How many refused ratings sending again could help (see `DeadLetter.retryable`)."""
        return sum(1 for d in self.dead_letters(limit=-1) if d.retryable)

    def requeue_dead(self) -> int:
        """Send refused ratings again (after the administrator fixed what the server refused); ratings that no
        change can make acceptable stay where they are."""
        ids = [(d.id,) for d in self.dead_letters(limit=-1) if d.retryable]
        with self._tx() as c:
            c.executemany("UPDATE rating SET state = 'pending', status = NULL WHERE id = ? AND state = 'dead'", ids)
        return len(ids)

    def adopt_stranded(self, counter: str) -> int:
        """Attribute pending ratings of an earlier pairing to the current counter (the staff decides)."""
        with self._tx() as c:
            return int(
                c.execute(
                    "UPDATE rating SET counter = ? WHERE state = 'pending' AND counter != ?", (counter, counter)
                ).rowcount
            )

    def prune_sent(self, older_than: timedelta) -> int:
        """Forget delivered ratings after a while (the central store has them)."""
        cutoff = (datetime.now(UTC) - older_than).isoformat()
        with self._tx() as c:
            removed = c.execute("DELETE FROM rating WHERE state = 'sent' AND done_at < ?", (cutoff,)).rowcount
            c.execute("DELETE FROM seen_visit WHERE seen_at < ?", (cutoff,))
            return int(removed)

    def states(self, ids: Iterable[str]) -> dict[str, str]:
        """The state of each of these ids (tests and the status screen)."""
        ids = list(ids)
        out: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                out.update(self._conn.execute(f"SELECT id, state FROM rating WHERE id IN ({marks})", chunk).fetchall())
        return out

    # --- settings and visits ------------------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        """A stored setting."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM setting WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, values: dict[str, str | None]) -> None:
        """Store settings at once (None deletes)."""
        with self._tx() as c:
            for key, value in values.items():
                if value is None:
                    c.execute("DELETE FROM setting WHERE key = ?", (key,))
                else:
                    c.execute(
                        "INSERT INTO setting (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, value),
                    )

    def mark_visit_seen(self, token: str) -> bool:
        """Remember a visit the kiosk has shown; False when it was shown before."""
        with self._tx() as c:
            cur = c.execute("INSERT OR IGNORE INTO seen_visit (token, seen_at) VALUES (?, ?)", (token, _now()))
            return bool(cur.rowcount)

    def visit_seen(self, token: str) -> bool:
        """Whether the kiosk has shown this visit already."""
        with self._lock:
            return self._conn.execute("SELECT 1 FROM seen_visit WHERE token = ?", (token,)).fetchone() is not None

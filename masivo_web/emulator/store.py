"""The emulator's memory: events in SQLite (a file or ``:memory:``), keys, faults, request log.

Only the emulator's own event-loop thread touches it (every handler runs there), so one SQLite
connection is enough; ``check_same_thread=False`` only lets the thread that built it hand it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import sqlite3
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from .faults import Chaos, Fault, Route
from .validation import encode_event

KeyKind = Literal["client", "server"]
ROUTES: tuple[Route, ...] = ("authorize", "analytics", "behavior")

DEFAULT_CLIENT_KEY = "test-client-key"
#: The CLIENT key the README's examples are written with: the ``emulator`` command accepts it
#: too, so an example runs against it as printed.
README_CLIENT_KEY = "your-client-api-key"
DEFAULT_SERVER_KEY = "test-server-key"
#: The keys an emulator knows from the start.
DEFAULT_KEYS: dict[str, KeyKind] = {DEFAULT_CLIENT_KEY: "client", DEFAULT_SERVER_KEY: "server"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    brand_id TEXT,
    issued_at TEXT,
    received_at REAL NOT NULL,
    route TEXT NOT NULL,
    key_kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_id ON events (event_id);
CREATE INDEX IF NOT EXISTS events_type ON events (type);
CREATE INDEX IF NOT EXISTS events_customer ON events (customer_id);
"""


def key_fingerprint(api_key: str) -> str:
    """A short stable id for a key: tokens and logs carry this, never the key itself."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass
class Settings:
    """What a test may change at run time (``PUT /_emulator/settings``)."""

    token_ttl_s: float = 3600.0
    rate_limit: int = 1000
    rate_window_s: float = 60.0
    #: Seconds the emulator's clock is off the machine's: its tokens' ``iat``/``exp``, its
    #: ``Date`` header and its ``issued_at`` window follow it (a service whose clock is off).
    clock_offset_s: float = 0.0
    #: Store an ``event_id`` once (answering 200 to a repeat). Off by default, as the documented
    #: service: Masivo's API names no idempotency key, so every copy received is stored, and a
    #: re-sent event is counted twice.
    dedupe: bool = False


@dataclass
class EmulatorState:
    """Everything the emulator remembers; ``reset()`` returns it to a clean start."""

    db_path: str = ":memory:"
    #: Start with the events a ``db_path`` file holds (False: delete them first, ``--reset``).
    keep_events: bool = True
    defaults: Settings = field(default_factory=Settings)
    initial_keys: dict[str, KeyKind] = field(default_factory=lambda: dict(DEFAULT_KEYS))

    def __post_init__(self) -> None:
        self.db = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self._migrate()
        self.db.executescript(_SCHEMA)
        self.secret = secrets.token_bytes(32)
        self._stored_signal: asyncio.Event | None = None
        self.reset(events=not self.keep_events)

    def _migrate(self) -> None:
        """A ``--db`` file of an earlier version kept one row per ``event_id`` (UNIQUE): copy
        its rows into the table that can hold every copy received."""
        row = self.db.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()
        if row is None or "UNIQUE" not in row[0]:
            return
        self.db.execute("ALTER TABLE events RENAME TO events_unique")
        self.db.executescript(_SCHEMA)
        self.db.execute("INSERT INTO events SELECT * FROM events_unique")
        self.db.execute("DROP TABLE events_unique")  # and its indexes: made again below
        self.db.executescript(_SCHEMA)

    def reset(self, *, events: bool = True) -> None:
        """Forget events (unless ``events`` is False), requests, faults and rate counters;
        restore keys and settings."""
        # Requests that started before a reset must not land in the log after it.
        self.generation = getattr(self, "generation", 0) + 1
        if events:
            self.db.execute("DELETE FROM events")
        self.keys: dict[str, KeyKind] = dict(self.initial_keys)
        self.settings = Settings(**vars(self.defaults))
        self.faults: list[Fault] = []
        self.chaos: Chaos | None = None
        self.requests: deque[dict[str, Any]] = deque(maxlen=100_000)
        self.rate_windows: dict[str, tuple[float, int]] = {}
        # Tokens issued before this (epoch seconds) are rejected: "revoke every token".
        self.tokens_valid_after = 0.0
        self.duplicates = 0

    def now(self) -> float:
        """The emulator's clock: epoch seconds, ``clock_offset_s`` off the machine's."""
        return time.time() + self.settings.clock_offset_s

    # -- faults ----------------------------------------------------------------------------

    def take_fault(self, route: Route) -> Fault | None:
        """The fault the next request to ``route`` must suffer, if any: a queued one first
        (consuming one use), else one drawn by chaos. Chaos ``revoke`` takes effect here."""
        for fault in self.faults:
            if fault.route in (route, "*") and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        kind = self.chaos.pick(route) if self.chaos is not None else None
        if kind is None:
            return None
        if kind == "revoke":
            self.tokens_valid_after = self.now()  # the token this request carries just expired
            return None
        assert self.chaos is not None
        return self.chaos.fault(kind)

    # -- rate limiting ---------------------------------------------------------------------

    def rate_check(self, subject: str, now: float) -> tuple[bool, dict[str, str]]:
        """Count one request for ``subject`` in a fixed window; returns (allowed, headers)."""
        limit, window = self.settings.rate_limit, self.settings.rate_window_s
        started, used = self.rate_windows.get(subject, (now, 0))
        if now - started >= window:
            started, used = now, 0
        used += 1
        self.rate_windows[subject] = (started, used)
        reset_at = started + window
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(int(reset_at)),
        }
        if used > limit:
            headers["Retry-After"] = str(max(1, int(reset_at - now + 0.999)))
            return False, headers
        return True, headers

    # -- events ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction around several writes (a batch): one commit, not one each."""
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def store_event(self, event: dict[str, Any], *, route: str, key_kind: str) -> bool:
        """Store one valid event; False when its ``event_id`` was already received."""
        return self.store_events([(event, None)], route=route, key_kind=key_kind)[0]

    def store_events(
        self, checked: list[tuple[dict[str, Any], str | None]], *, route: str, key_kind: str
    ) -> list[bool]:
        """Store valid events (each with its JSON text, or None to encode it here) in one
        transaction; for each, False when its ``event_id`` was received already (by an earlier
        request or earlier in this one). A repeat is stored again (a copy) unless the
        ``dedupe`` setting is on; either way it is counted in :attr:`duplicates`."""
        ids = [event["event_id"] for event, _ in checked]
        with self.transaction():
            query = f"SELECT event_id FROM events WHERE event_id IN ({','.join('?' * len(ids))})"
            seen = {row[0] for row in self.db.execute(query, ids)}
            rows = self._rows(checked, seen, route, key_kind)
            self.db.executemany(
                "INSERT INTO events (event_id, type, customer_id, brand_id, issued_at,"
                " received_at, route, key_kind, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [row for row, new in rows if new or not self.settings.dedupe],
            )
        fresh = [new for _, new in rows]
        self.duplicates += fresh.count(False)
        if self._stored_signal is not None and (any(fresh) or not self.settings.dedupe):
            self._stored_signal.set()
            self._stored_signal = None
        return fresh

    @staticmethod
    def _rows(
        checked: list[tuple[dict[str, Any], str | None]], seen: set[str], route: str, kind: str
    ) -> list[tuple[tuple[Any, ...], bool]]:
        """The row of each event, and whether its ``event_id`` is new: not in ``seen`` (which
        grows with each row: the same id twice in one request is a repeat, too)."""
        received_at = time.time()
        rows: list[tuple[tuple[Any, ...], bool]] = []
        for event, text in checked:
            event_id = event["event_id"]
            new = event_id not in seen
            seen.add(event_id)
            rows.append(
                (
                    (
                        event_id,
                        event["type"],
                        event["customer_id"],
                        event.get("brand_id"),
                        event.get("issued_at"),
                        received_at,
                        route,
                        kind,
                        encode_event(event) if text is None else text,
                    ),
                    new,
                )
            )
        return rows

    async def wait_for_new_event(self) -> None:
        """Return when another event is stored (long-poll support; the caller bounds the wait)."""
        if self._stored_signal is None:
            self._stored_signal = asyncio.Event()
        await self._stored_signal.wait()

    def events(
        self, *, type: str | None = None, customer_id: str | None = None, since_seq: int = 0
    ) -> list[dict[str, Any]]:
        """Stored events, oldest first, each with ``_seq``, ``_received_at`` and ``_route``."""
        query = "SELECT seq, received_at, route, body FROM events WHERE seq > ?"
        args: list[Any] = [since_seq]
        if type is not None:
            query += " AND type = ?"
            args.append(type)
        if customer_id is not None:
            query += " AND customer_id = ?"
            args.append(customer_id)
        rows = self.db.execute(query + " ORDER BY seq", args).fetchall()
        return [
            # NaN/Infinity stored by an earlier version are shown as text: no view answers 500.
            {
                **json.loads(body, parse_constant=str),
                "_seq": seq,
                "_received_at": received_at,
                "_route": route,
            }
            for seq, received_at, route, body in rows
        ]

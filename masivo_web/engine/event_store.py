"""Write-ahead persistence of queued events, so a closed tab loses nothing.

Queued events are written to storage in the same turn of the event loop as the tracking call
(never inside it: a ``localStorage.setItem`` through the JS bridge costs more than the rest of
the call), before anything is sent, and at once when the page is hidden; they are removed only
once acknowledged, finally rejected, or dropped. Events queued in one turn share one storage key,
a *segment* of up to :data:`SEGMENT_EVENTS` events: a burst costs one ``setItem``, not one per
event, and the queue is never rewritten as a whole. Keys hold no secret:
``masivo_web:<namespace>:ev:<first event_id>``, where the namespace is a hash of the API key and
API base; the value is the owner on the first line, then ``queued_at|sequence|event-json`` per
event. API keys and tokens are never written.

Every client is an *owner* that stays alive as long as its page. Events of owners that are gone
(a closed tab, a reloaded page) are *orphans*: the next page of the site adopts them and sends
them, under their original ``event_id``. What a page handed to a keepalive request as it went,
while the service answered normally, is not among them (:meth:`EventStore.without`, and the
outbox's hand-off): the next page would send it again. Two tabs never adopt the same orphans:
with the Web Locks API, owners hold a lock for their life and adoption runs under an exclusive
lock; without it, owners renew a lease in storage and an adoption claims, waits, and keeps only
the segments still claimed by itself.
"""

from __future__ import annotations

import binascii
import json
import logging
from collections.abc import Callable, Iterable

from .._record import Record
from ..rules.events import PreparedEvent
from ..rules.ports import Storage
from ..runtime.host import ordered_dict
from ..runtime.scheduling import next_turn

logger = logging.getLogger("masivo_web")


def namespace_for(api_key: str, api_base: str) -> str:
    """A storage namespace per key and API base that reveals neither."""
    try:  # hashlib would load every algorithm (md5, sha1, sha3, blake2): ~10 ms in Pyodide
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # CPython 3.11 names it _sha256; hashlib finds it
        from hashlib import sha256
    # hexlify, not hexdigest(): MicroPython's hashes have only digest().
    return binascii.hexlify(sha256(f"{api_key}|{api_base}".encode()).digest()).decode()[:16]


class StoredEvent(Record):
    """An event read back from storage."""

    __slots__ = ("event", "queued_epoch")

    def __init__(self, event: PreparedEvent, queued_epoch: float) -> None:
        self.event = event
        self.queued_epoch = queued_epoch


#: Most events in one storage key; about one batch, so an acknowledged batch frees whole keys.
SEGMENT_EVENTS = 100


class EventStore:
    """The stored copies of queued events, in segments (one storage key per loop turn's events).

    ``save`` only notes the event; :meth:`write` puts what changed into storage, and runs on the
    next turn of the loop by itself, or earlier when called (page hide, before a send). At most
    ``max_events`` events (``max_bytes`` of them) are stored at once; the others wait, in order,
    for acknowledgements to make room.
    """

    def __init__(
        self,
        storage: Storage,
        namespace: str,
        owner: str,
        schedule: Callable[[Callable[[], None]], object] | None = None,
        bounds: tuple[int, int] = (1000, 1_000_000),
    ) -> None:
        self.storage = storage
        self.max_events, self.max_bytes = bounds
        #: Events (and their JSON bytes) of this owner in storage now.
        self.stored_events = 0
        self.stored_bytes = 0
        self.owner = owner
        self.prefix = f"masivo_web:{namespace}:ev:"
        self._schedule = schedule or next_turn
        # Orders events queued within one millisecond: storage keys come back in any order.
        self._sequence = 0
        # Saved, not written yet (or waiting for room): event_id -> (event, epoch, sequence).
        self._pending: dict[str, tuple[PreparedEvent, float, int]] = ordered_dict()
        # Written segments of this owner: key -> {event_id: line}, and each event's key.
        self._segments: dict[str, dict[str, str]] = {}
        self._segment_of: dict[str, str] = {}
        self._dirty: dict[str, None] = ordered_dict()  # keys to rewrite, oldest first
        self._write_scheduled = False

    def save(self, event: PreparedEvent, queued_epoch: float) -> None:
        """Note ``event`` for the next write (before it is sent)."""
        self._sequence += 1
        self._pending[event.event_id] = (event, queued_epoch, self._sequence)
        if not self._write_scheduled:
            self._write_soon()

    def forget(self, event_id: str) -> None:
        """Remove ``event_id`` (acknowledged, rejected or dropped) at the next write."""
        if self._pending.pop(event_id, None) is not None:
            return
        key = self._segment_of.pop(event_id, None)
        if key is not None:
            line = self._segments[key].pop(event_id, None)
            if line is not None:
                self.stored_events -= 1
                self.stored_bytes -= len(line)
            self._dirty[key] = None
            self._write_soon()

    def write(self) -> None:
        """Put every saved event into storage and take the forgotten ones out, now."""
        self._write_scheduled = False
        pending = self._pending
        chunk: dict[str, str] = ordered_dict()
        taken = 0
        for event_id, entry in pending.items():
            line = _line(*entry)
            full = self.stored_bytes + len(line) > self.max_bytes and self.stored_events > 0
            if full or self.stored_events >= self.max_events:
                break  # no room: the rest wait in memory, in order, for a later write
            chunk[event_id] = line
            taken += 1
            self.stored_events += 1
            self.stored_bytes += len(line)
            if len(chunk) == SEGMENT_EVENTS:
                self._new_segment(chunk)
                chunk = ordered_dict()
        if chunk:
            self._new_segment(chunk)
        if taken:  # rebuilt, not emptied one by one from the front (quadratic for a dict)
            self._pending = ordered_dict()
            if taken < len(pending):
                for index, (event_id, entry) in enumerate(pending.items()):
                    if index >= taken:
                        self._pending[event_id] = entry
        dirty, self._dirty = self._dirty, ordered_dict()
        for key in dirty:
            lines = self._segments.get(key)
            if lines:
                self.storage.set(key, _segment_record(self.owner, lines.values()))
            else:
                self._segments.pop(key, None)
                self.storage.remove(key)

    def without(self, event_ids: list[str]) -> dict[str, str | None]:
        """The storage writes that would take ``event_ids`` out (each changed key: its record
        without them, or None to remove it), for someone else to apply; nothing changes here."""
        drop = set(event_ids)
        writes: dict[str, str | None] = {}
        for event_id in event_ids:
            key = self._segment_of.get(event_id)
            if key is None or key in writes:
                continue
            kept = [line for other, line in self._segments[key].items() if other not in drop]
            writes[key] = _segment_record(self.owner, kept) if kept else None
        return writes

    def _new_segment(self, lines: dict[str, str]) -> None:
        key = self.prefix + next(iter(lines))
        self._segments[key] = lines
        for event_id in lines:
            self._segment_of[event_id] = key
        self._dirty[key] = None

    def _write_soon(self) -> None:
        if not self._write_scheduled:
            self._write_scheduled = True
            self._schedule(self._write_if_due)

    def _write_if_due(self) -> None:
        if self._write_scheduled:  # not written meanwhile
            self.write()

    def claim_orphans(self, alive: set[str]) -> list[StoredEvent]:
        """Take over the events of owners not in ``alive``; unreadable records are removed."""
        self.write()
        claimed: list[tuple[float, str, int, StoredEvent]] = []
        for key in self.storage.keys(self.prefix):
            if key in self._segments:
                continue  # our own
            record = self.storage.get(key)
            parsed = _parse_segment(record) if record is not None else None
            if parsed is None:
                self.storage.remove(key)
                continue
            owner, events = parsed
            if owner in alive:
                continue
            lines = {stored.event.event_id: line for line, _, stored in events}
            self.storage.set(key, _segment_record(self.owner, lines.values()))
            self._segments[key] = lines
            self.stored_events += len(lines)
            self.stored_bytes += sum(len(line) for line in lines.values())
            for event_id in lines:
                self._segment_of[event_id] = key
            claimed += [(stored.queued_epoch, owner, seq, stored) for _, seq, stored in events]
        claimed.sort(key=lambda entry: entry[:3])  # the order they were queued in
        return [entry[3] for entry in claimed]

    def keep_claims(self, claimed: list[StoredEvent]) -> list[StoredEvent]:
        """Of ``claimed``, those whose segment still names this owner (another tab may have
        claimed the same segment since: the last writer wins); the others are let go."""
        owners: dict[str, str | None] = {}
        kept = []
        for stored in claimed:
            key = self._segment_of.get(stored.event.event_id)
            if key is not None and key not in owners:
                record = self.storage.get(key)
                owners[key] = None if record is None else record.split("\n", 1)[0]
            if key is not None and owners[key] == self.owner:
                kept.append(stored)
            elif key is not None:
                self._segment_of.pop(stored.event.event_id, None)
                lost = self._segments.pop(key, None)
                if lost is not None:  # the other tab's now: not counted as ours
                    self.stored_events -= len(lost)
                    self.stored_bytes -= sum(len(line) for line in lost.values())
        return kept

    def let_go_of_taken(self) -> list[str]:
        """The ids of this owner's written events whose segment names another owner now, or
        is gone (adopted by another tab, and maybe sent, while this page was away); they leave
        this store, which never writes those segments again."""
        taken = []
        for key in list(self._segments):
            record = self.storage.get(key)
            if record is not None and record.split("\n", 1)[0] == self.owner:
                continue
            lines = self._segments.pop(key)
            self._dirty.pop(key, None)
            self.stored_events -= len(lines)
            self.stored_bytes -= sum(len(line) for line in lines.values())
            for event_id in lines:
                self._segment_of.pop(event_id, None)
                taken.append(event_id)
        return taken


def _line(event: PreparedEvent, queued_epoch: float, sequence: int) -> str:
    return f"{queued_epoch:.3f}|{sequence}|{event.json}"


def _segment_record(owner: str, lines: Iterable[str]) -> str:
    return owner + "\n" + "\n".join(lines)


def _parse_segment(record: str) -> tuple[str, list[tuple[str, int, StoredEvent]]] | None:
    """The owner and the events of a stored segment; None when it is unreadable or empty."""
    owner, _, body = record.partition("\n")
    events = []
    try:
        for line in body.split("\n"):  # JSON text never holds a raw newline
            queued, sequence, text = line.split("|", 2)
            fields = json.loads(text)
            event = PreparedEvent(
                str(fields["event_id"]), str(fields["type"]), text, len(text.encode("utf-8"))
            )
            events.append((line, int(sequence), StoredEvent(event, float(queued))))
    except (ValueError, KeyError, TypeError):
        return None
    return (owner, events) if owner and events else None

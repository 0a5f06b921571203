"""Who the events are about, and whether they may be sent: the visitor of a *site*.

An anonymous id minted once, the customer once the page calls ``identify``, and the visitor's
consent (``opt_out``). They belong to the site (the page's origin, whose storage holds them),
not to an API key: a routine key rotation must neither track an opted-out visitor again nor
make a logged-in one anonymous. The clients of one page share one :class:`Identity`. Kept in
the page's ``localStorage`` (memory under CPython); the ids are identifiers, not secrets.

Earlier versions kept both per key and API base (``masivo_web:<namespace>:identity`` and
``...:opted_out``); the first client of a key that finds such records moves them to the site.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..rules.ids import new_id
from ..rules.ports import MemoryStorage, Storage

IDENTITY_KEY = "masivo_web:identity"
OPTED_OUT_KEY = "masivo_web:opted_out"


class Identity:
    """The anonymous id, the identified customer and the consent of one site's visitor."""

    def __init__(
        self,
        storage: Storage | None,
        legacy_namespace: str | None = None,
        *,
        readable: bool = True,
    ) -> None:
        self._storage = storage or MemoryStorage()
        self.opted_out = False
        #: Called at ``opt_out()``: each client sharing this visitor drops its queue.
        self.opt_out_listeners: list[Callable[[], object]] = []
        self.anonymous_id: str = new_id()
        self.customer_id: str | None = None
        # Not readable yet (a worker's page has not answered): what this page decides meanwhile
        # ("ids", "customer", "consent") wins over what is stored, once :meth:`load` reads it.
        self._decided: set[str] | None = set()
        if readable:
            self.load(legacy_namespace)

    @property
    def loaded(self) -> bool:
        """Whether the stored visitor was read (always, except in a worker's first moments)."""
        return self._decided is None

    def load(self, legacy_namespace: str | None = None) -> None:
        """Read the stored visitor (once its storage is readable), keep what this page decided
        meanwhile, and store the result."""
        decided, self._decided = self._decided, None
        if decided is None:
            return
        if legacy_namespace is not None:
            self.migrate(legacy_namespace)
        stored = self._load()
        if "ids" not in decided:
            self.anonymous_id = stored.get("anonymous_id") or self.anonymous_id
        if not decided & {"ids", "customer"}:
            self.customer_id = stored.get("customer_id")
        # Read once: a storage read per event costs ~30 µs through the JS bridge.
        if "consent" in decided:
            self._store_consent()
        elif self._storage.get(OPTED_OUT_KEY) == "1":
            self.opted_out = True
            self._tell_opt_out()
        self._save()

    def identify(self, customer_id: str) -> None:
        """Remember ``customer_id`` for later events."""
        self.customer_id = customer_id
        self._decide("customer")

    def reset(self) -> None:
        """Forget the customer and start over as a new anonymous visitor (logout)."""
        self.customer_id = None
        self.anonymous_id = new_id()
        self._decide("ids")

    def opt_out(self) -> None:
        """The visitor refuses tracking: remembered for the site until :meth:`opt_in`."""
        self.opted_out = True
        if self._decided is not None:
            self._decided.add("consent")
        else:
            self._store_consent()
        self._tell_opt_out()

    def opt_in(self) -> None:
        """The visitor accepts tracking again."""
        self.opted_out = False
        if self._decided is not None:
            self._decided.add("consent")
        else:
            self._store_consent()

    def _decide(self, what: str) -> None:
        if self._decided is not None:
            self._decided.add(what)
        else:
            self._save()

    def _store_consent(self) -> None:
        if self.opted_out:
            self._storage.set(OPTED_OUT_KEY, "1")
        else:
            self._storage.remove(OPTED_OUT_KEY)

    def _tell_opt_out(self) -> None:
        for listener in list(self.opt_out_listeners):
            listener()

    def migrate(self, namespace: str) -> None:
        """Move a key's records of an earlier version to the site's (once)."""
        storage = self._storage
        old_identity = f"masivo_web:{namespace}:identity"
        old_opt_out = f"masivo_web:{namespace}:opted_out"
        record = storage.get(old_identity)
        if record is not None:
            if storage.get(IDENTITY_KEY) is None:
                storage.set(IDENTITY_KEY, record)
            storage.remove(old_identity)
        consent = storage.get(old_opt_out)
        if consent is not None:
            if consent == "1":
                storage.set(OPTED_OUT_KEY, "1")  # a refusal is never lost in the move
                self.opted_out = True
            storage.remove(old_opt_out)

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self._storage.get(IDENTITY_KEY) or "{}")
        except ValueError:
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )

    def _save(self) -> None:
        record = {"anonymous_id": self.anonymous_id}
        if self.customer_id is not None:
            record["customer_id"] = self.customer_id
        self._storage.set(IDENTITY_KEY, json.dumps(record))

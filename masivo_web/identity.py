"""Who the events are about: an anonymous id minted once and kept, and the customer once the
page calls ``identify``. Kept in the page's storage (memory under CPython) so a returning
visitor keeps their anonymous id; it is an identifier, not a secret.
"""

from __future__ import annotations

import json

from .events import new_event_id
from .storage import MemoryStorage, Storage


class Identity:
    """The anonymous id and the identified customer of one client namespace."""

    def __init__(self, storage: Storage | None, namespace: str) -> None:
        self._storage = storage or MemoryStorage()
        #: The storage namespace of this site and key (shared by the client's other records).
        self.namespace = namespace
        self._key = f"masivo_web:{namespace}:identity"
        stored = self._load()
        self.anonymous_id: str = stored.get("anonymous_id") or new_event_id()
        self.customer_id: str | None = stored.get("customer_id")
        self._save()

    def identify(self, customer_id: str) -> None:
        """Remember ``customer_id`` for later events."""
        self.customer_id = customer_id
        self._save()

    def reset(self) -> None:
        """Forget the customer and start over as a new anonymous visitor (logout)."""
        self.customer_id = None
        self.anonymous_id = new_event_id()
        self._save()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self._storage.get(self._key) or "{}")
        except ValueError:
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )

    def _save(self) -> None:
        record = {"anonymous_id": self.anonymous_id}
        if self.customer_id is not None:
            record["customer_id"] = self.customer_id
        self._storage.set(self._key, json.dumps(record))

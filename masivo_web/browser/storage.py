"""The page's key-value storage for the write-ahead event store (the
:class:`~masivo_web.rules.ports.Storage` port): ``localStorage`` through the JS bridge, and a
wrapper that falls back to memory (with one warning) when the browser's storage fails: quota
exceeded, or storage disabled (the peers' lesson: never let storage break the page)."""

from __future__ import annotations

import logging
from typing import Any

from ..rules.ports import MemoryStorage, Storage
from ..runtime.jsbridge import js_call

logger = logging.getLogger("masivo_web")


class LocalStorage:
    """A page's Web Storage object (``window.localStorage``, or ``sessionStorage`` for the tab's
    token) reached through the JS bridge. Every call that can throw (quota, storage disabled
    meanwhile) goes through :func:`~masivo_web.runtime.jsbridge.js_call`, and raises
    ``JsCallError``."""

    def __init__(self, js_storage: Any) -> None:
        self._storage = js_storage

    def get(self, key: str) -> str | None:
        value = js_call(self._storage, "getItem", key)
        return None if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        js_call(self._storage, "setItem", key, value)

    def remove(self, key: str) -> None:
        js_call(self._storage, "removeItem", key)

    def keys(self, prefix: str) -> list[str]:
        found = []
        for index in range(int(self._storage.length)):
            key = js_call(self._storage, "key", index)
            if key is not None and str(key).startswith(prefix):
                found.append(str(key))
        return found


class FallbackStorage:
    """Uses ``primary`` until a write fails, then memory for good, warning once."""

    def __init__(self, primary: Storage) -> None:
        self._primary = primary
        self._memory = MemoryStorage()
        #: True once the primary store failed and memory took over.
        self.degraded = False

    def get(self, key: str) -> str | None:
        value = self._memory.get(key)
        if value is None and not self.degraded:
            value = self._safely(self._primary.get, key)
        return value

    def set(self, key: str, value: str) -> None:
        if not self.degraded:
            try:
                self._primary.set(key, value)
                return
            except Exception as exc:  # QuotaExceededError, SecurityError: any JsException
                self.degraded = True
                logger.warning(
                    "masivo_web: browser storage failed (%s); queued events are kept in memory "
                    "only from now on, and a closed tab may lose them.",
                    exc,
                )
        self._memory.set(key, value)

    def remove(self, key: str) -> None:
        self._memory.remove(key)
        self._safely(self._primary.remove, key)  # entries written before degrading

    def keys(self, prefix: str) -> list[str]:
        primary = [] if self.degraded else (self._safely(self._primary.keys, prefix) or [])
        return sorted(set(primary) | set(self._memory.keys(prefix)))

    @staticmethod
    def _safely(operation: Any, *args: Any) -> Any:
        try:
            return operation(*args)
        except Exception:
            return None

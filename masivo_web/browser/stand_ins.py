"""What a PyScript worker's link holds in place of the page's objects: a ``window``, a
``document`` and a ``navigator`` holding what the SDK reads (kept up to date by the page
module's messages) and dispatching the page's events to the SDK's listeners, and the page's
storage areas as a copy whose writes go to the page (:mod:`masivo_web.browser.worker`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..runtime.scheduling import report_exception


class Fired:
    """A page event as a worker's listeners get it."""

    def __init__(self, persisted: bool) -> None:
        self.persisted = persisted


class Listeners:
    """What a page's ``window`` or ``document`` offers the SDK's listeners: add, remove, and
    (the link) dispatch."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Any]] = {}

    def addEventListener(self, name: str, listener: Any) -> None:
        self._listeners.setdefault(name, []).append(listener)

    def removeEventListener(self, name: str, listener: Any) -> None:
        listeners = self._listeners.get(name, [])
        if listener in listeners:
            listeners.remove(listener)

    def dispatch(self, name: str, persisted: bool = False) -> None:
        """Call the listeners of ``name`` with an event whose ``persisted`` is the page's
        (``pagehide``/``pageshow``: entering or leaving the back-forward cache)."""
        event = Fired(persisted)
        for listener in list(self._listeners.get(name, [])):
            try:
                listener(event)
            except Exception as exc:  # one listener must not stop the others
                report_exception(exc, f"masivo_web: a {name} listener failed")


class Location:
    """``window.location`` as last heard from the page."""

    def __init__(self, href: str) -> None:
        self.href = href


class WorkerWindow(Listeners):
    """The page's ``window`` as the SDK reads it from a worker."""

    def __init__(self, js: Any, href: str) -> None:
        super().__init__()
        self.location = Location(href)
        self.Intl = getattr(js, "Intl", None)
        self.Promise = js.Promise
        self.Object = js.Object
        self.navigation = None  # the page's changes arrive as messages: read per event
        self.MutationObserver = None


class WorkerDocument(Listeners):
    """The page's ``document`` as the SDK reads it from a worker."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.referrer = ""
        self.visibilityState = "visible"
        self.head = None


class WorkerNavigator:
    """The worker's ``navigator`` (user agent, language and Web Locks are the page's too), with
    the page's connectivity: offline until the page answered (nothing is sent before)."""

    def __init__(self, js_navigator: Any) -> None:
        self.userAgent = getattr(js_navigator, "userAgent", None)
        self.language = getattr(js_navigator, "language", None)
        self.locks = getattr(js_navigator, "locks", None)
        self.onLine = False


class RelayStorage:
    """A page storage area seen from a worker: reads from the link's copy, writes to the copy and
    to the page at the end of the task."""

    def __init__(self, write: Callable[[str, str, str | None], None], area: str) -> None:
        self._write = write  # the link's: (area, key, value or None to remove)
        self._area = area
        #: The area's ``masivo_web:`` keys, as the page last said and this worker changed them.
        self.items: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.items.get(key)

    def set(self, key: str, value: str) -> None:
        self.items[key] = value
        self._write(self._area, key, value)

    def remove(self, key: str) -> None:
        if self.items.pop(key, None) is not None:
            self._write(self._area, key, None)

    def keys(self, prefix: str) -> list[str]:
        return [key for key in self.items if key.startswith(prefix)]

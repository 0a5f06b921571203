"""Page lifecycle: flush when the page is hidden or left (``visibilitychange``, ``pagehide``).

Registered only where ``window`` and ``document`` exist (a Pyodide/PyScript main thread); under
CPython, in a worker, or server-side rendering, :meth:`PageLifecycle.install` does nothing and
returns False. The handler runs once per hide (leaving a page fires ``pagehide`` and then
``visibilitychange``) and is re-armed when the page is visible again or restored from the
back/forward cache. ``unload``/``beforeunload`` are never used: they break the bfcache
(peers.md §5.14).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .runtime import IS_BROWSER

logger = logging.getLogger("masivo_web")


class PageLifecycle:
    """Calls ``on_hide()`` synchronously, once per hide of the page."""

    def __init__(self, on_hide: Callable[[], None]) -> None:
        self._on_hide = on_hide
        self._hidden = False
        self._document: Any = None
        self._listeners: list[tuple[Any, str, Any]] = []

    @property
    def installed(self) -> bool:
        """Whether listeners are registered on a real page."""
        return bool(self._listeners)

    def install(
        self,
        *,
        window: Any = None,
        document: Any = None,
        create_proxy: Callable[[Callable[[Any], None]], Any] | None = None,
    ) -> bool:
        """Register the listeners; returns False (and does nothing) where there is no page.

        The keyword arguments stand in for the browser in tests; by default they come from
        ``js`` and ``pyodide.ffi`` inside Pyodide.
        """
        if self._listeners:
            return True
        if window is None or document is None:
            if not IS_BROWSER:
                return False
            import js
            from pyodide.ffi import create_proxy as pyodide_create_proxy

            window = getattr(js, "window", None)
            document = getattr(js, "document", None)
            create_proxy = pyodide_create_proxy
            if window is None or document is None:  # a web worker: no page to watch
                return False
        wrap = create_proxy or (lambda function: function)
        self._document = document
        # The proxies are kept referenced here: a collected proxy would make the listener dead.
        self._listeners = [
            (window, "pagehide", wrap(self._page_hidden)),
            (window, "pageshow", wrap(self._page_shown)),
            (document, "visibilitychange", wrap(self._visibility_changed)),
        ]
        for target, name, listener in self._listeners:
            target.addEventListener(name, listener)
        return True

    def remove(self) -> None:
        """Unregister the listeners and free their proxies."""
        for target, name, listener in self._listeners:
            target.removeEventListener(name, listener)
            destroy = getattr(listener, "destroy", None)
            if destroy is not None:
                destroy()
        self._listeners = []

    def _page_hidden(self, event: Any = None) -> None:
        self._hide()

    def _page_shown(self, event: Any = None) -> None:
        self._hidden = False

    def _visibility_changed(self, event: Any = None) -> None:
        if str(self._document.visibilityState) == "hidden":
            self._hide()
        else:
            self._hidden = False

    def _hide(self) -> None:
        if self._hidden:
            return
        self._hidden = True
        try:
            self._on_hide()
        except Exception:  # a listener must never throw into the page
            logger.exception("masivo_web: flushing on page hide failed")

"""Page lifecycle: flush when the page is hidden or left (``visibilitychange``, ``pagehide``),
and follow connectivity (``online``/``offline``).

Registered only on a real page (:func:`masivo_web.browser.current.current_page`: a PyScript main
thread, or a PyScript worker's linked page, whose stand-ins relay the main thread's events); under
CPython, in a worker outside PyScript, or server-side rendering there is no page and
:meth:`PageLifecycle.install` does nothing and returns False. The hide handler runs at every
``pagehide`` and every ``visibilitychange`` to hidden (leaving a page fires both; the second call
finds nothing left to start): events queued while the page was already hidden still go out when it
is closed. The show handler runs when a hidden page is visible again or restored
from the back/forward cache. ``unload``/``beforeunload`` are never used: they break the bfcache
(as the peer SDKs found). At ``pagehide`` the page may enter the back-forward cache, which takes
no page holding a Web Lock: ``on_leave()`` lets go of what the client holds, and ``on_restore()``
takes it back when ``pageshow`` says the page came back from the cache (``persisted``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .page import Page

logger = logging.getLogger("masivo_web")


class PageLifecycle:
    """Calls ``on_hide()`` synchronously whenever the page is hidden or left, and
    ``on_show()`` when a hidden page is shown again."""

    def __init__(
        self,
        on_hide: Callable[[], None],
        on_connectivity: Callable[[bool], None] = lambda online: None,
        on_show: Callable[[], None] = lambda: None,
        on_leave: Callable[[], None] = lambda: None,
        on_restore: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_hide = on_hide
        self._on_show = on_show
        self._on_leave, self._on_restore = on_leave, on_restore
        self._on_connectivity = on_connectivity
        self._hidden = False
        self._page: Page | None = None
        self._listeners: list[tuple[Any, str, Any]] = []

    @property
    def installed(self) -> bool:
        """Whether listeners are registered on a real page."""
        return bool(self._listeners)

    def install(self, page: Page | None) -> bool:
        """Register the listeners on ``page``; returns False (doing nothing) when there is none."""
        if self._listeners or page is None:
            return bool(self._listeners)
        self._page = page
        wrap = page.create_proxy
        # The proxies are kept referenced here: a collected proxy would make the listener dead.
        self._listeners = [
            (page.window, "pagehide", wrap(self._page_hidden)),
            (page.window, "pageshow", wrap(self._page_shown)),
            (page.document, "visibilitychange", wrap(self._visibility_changed)),
            (page.window, "online", wrap(self._connectivity_changed)),
            (page.window, "offline", wrap(self._connectivity_changed)),
        ]
        for target, name, listener in self._listeners:
            target.addEventListener(name, listener)
        if str(page.document.visibilityState) == "hidden":
            self._hide()  # created in a background tab, or prerendered
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
        self._call(self._on_leave, "letting go at page hide")

    def _page_shown(self, event: Any = None) -> None:
        if event is not None and bool(getattr(event, "persisted", False)):
            self._call(self._on_restore, "taking back what it held after a restore")
        self._show()

    def _call(self, hook: Callable[[], None], what: str) -> None:
        try:
            hook()
        except Exception:  # a listener must never throw into the page
            logger.exception("masivo_web: %s failed", what)

    def _connectivity_changed(self, event: Any = None) -> None:
        assert self._page is not None
        self._on_connectivity(self._page.online())

    def _visibility_changed(self, event: Any = None) -> None:
        assert self._page is not None
        if str(self._page.document.visibilityState) == "hidden":
            self._hide()
        else:
            self._show()

    def _hide(self) -> None:
        # Every signal flushes: a page already hidden may have queued events since, and
        # ``pagehide`` is the last chance to start their requests.
        self._hidden = True
        try:
            self._on_hide()
        except Exception:  # a listener must never throw into the page
            logger.exception("masivo_web: flushing on page hide failed")

    def _show(self) -> None:
        if not self._hidden:
            return
        self._hidden = False
        try:
            self._on_show()
        except Exception:
            logger.exception("masivo_web: resuming after the page was shown failed")

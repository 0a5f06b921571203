"""The browser page as the SDK uses it (:class:`Page`): its window, document and storage, or a
PyScript worker's stand-ins for them (:mod:`masivo_web.browser.worker`). Which page this
interpreter serves is :func:`masivo_web.browser.current.current_page`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._record import Record
from ..rules.keepalive import KeepaliveBudget
from ..runtime.scheduling import next_turn


class Page(Record):
    """The browser page as the SDK uses it: the only door to ``js`` besides the fetch transport.

    Built by :func:`current_page` on a window's main thread, or for a worker by its link; tests
    build one from fakes. ``local_storage`` is None where storage is disabled (a browser
    setting, or a sandboxed iframe throws on access).

    In a worker, ``window``, ``document`` and ``navigator`` are the link's stand-ins (what the SDK
    reads of the page, kept current by the main thread's messages) and ``link`` is the
    :class:`~masivo_web.browser.worker.PageLink`: storage goes through it, and nothing that depends
    on what earlier pages stored runs before it is ready (:meth:`when_ready`)."""

    __slots__ = (
        "create_proxy",
        "document",
        "keepalive_budget",
        "link",
        "local_storage",
        "navigator",
        "session_storage",
        "shared",
        "window",
    )

    def __init__(
        self,
        window: Any,
        document: Any,
        navigator: Any,
        local_storage: Any,
        create_proxy: Callable[[Callable[..., Any]], Any],
        session_storage: Any = None,
        link: Any = None,
    ) -> None:
        self.window = window
        self.document = document
        self.navigator = navigator
        self.local_storage = local_storage
        #: ``window.sessionStorage`` (the tab's), or None where storage is disabled.
        self.session_storage = session_storage
        self.create_proxy = create_proxy
        #: The page's keepalive bytes in flight: one budget per page, shared by its clients.
        self.keepalive_budget = KeepaliveBudget()
        #: What the page's clients share besides (the site's visitor: identity and consent).
        self.shared: dict[str, Any] = {}
        #: A worker's link to its page (None on the main thread).
        self.link = link

    def storage(self, area: str) -> Any:
        """The page's ``"local"`` or ``"session"`` storage as a
        :class:`~masivo_web.browser.storage.Storage` (falling back to memory if the browser's
        fails), or None where the browser's storage is disabled."""
        if self.link is not None:
            return self.link.storage(area)
        js_storage = self.local_storage if area == "local" else self.session_storage
        if js_storage is None:
            return None
        from .storage import FallbackStorage, LocalStorage

        return FallbackStorage(LocalStorage(js_storage))

    def soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` before the page could miss what it does: on the next turn of the loop on
        the main thread (:func:`~masivo_web.runtime.scheduling.next_turn`); in a worker, at the end
        of this task, so the main thread has it before the page can go."""
        if self.link is not None:
            self.link.soon(callback)
        else:
            next_turn(callback)

    def when_ready(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the page's storage can be read: now on the main thread; in a
        worker, when the main thread has answered (a few milliseconds after the first client)."""
        if self.link is not None:
            self.link.when_ready(callback)
        else:
            callback()

    def online(self) -> bool:
        """``navigator.onLine`` (True when unknown)."""
        return bool(getattr(self.navigator, "onLine", True))

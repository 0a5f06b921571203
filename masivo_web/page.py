"""The browser page as the SDK uses it (:class:`Page`), and :func:`current_page`, which finds
the page this interpreter serves: its window on the main thread, or, in a PyScript worker, the
page behind the worker's link (:mod:`masivo_web.worker`). Under CPython there is none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._record import Record
from .keepalive import KeepaliveBudget
from .runtime import IS_BROWSER, in_worker, next_turn


class Page(Record):
    """The browser page as the SDK uses it: the only door to ``js`` besides the fetch transport.

    Built by :func:`current_page` on a window's main thread, or for a worker by its link; tests
    build one from fakes. ``local_storage`` is None where storage is disabled (a browser
    setting, or a sandboxed iframe throws on access).

    In a worker, ``window``, ``document`` and ``navigator`` are the link's stand-ins (what the
    SDK reads of the page, kept current by the main thread's messages) and ``link`` is the
    :class:`~masivo_web.worker.PageLink`: storage goes through it, and nothing that depends on
    what earlier pages stored runs before it is ready (:meth:`when_ready`).
    """

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
        :class:`~masivo_web.storage.Storage` (falling back to memory if the browser's fails), or
        None where the browser's storage is disabled."""
        if self.link is not None:
            return self.link.storage(area)
        js_storage = self.local_storage if area == "local" else self.session_storage
        if js_storage is None:
            return None
        from .storage import FallbackStorage, LocalStorage

        return FallbackStorage(LocalStorage(js_storage))

    def soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` before the page could miss what it does: on the next turn of the
        loop on the main thread (:func:`~masivo_web.runtime.next_turn`); in a worker, at the end
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


_page: Page | None = None


def current_page() -> Page | None:
    """The page this interpreter serves, or None (CPython, server-side rendering, a worker
    outside PyScript). The same :class:`Page` every time: its clients share its keepalive
    budget and its visitor."""
    global _page
    if not IS_BROWSER:
        return None
    if _page is None:
        if in_worker():
            from .worker import connect_page

            _page = connect_page()
        else:
            _page = _read_page()
    return _page


def _read_page() -> Page | None:
    import js

    from .jsbridge import JsCallError, js_bridge, js_call

    window = getattr(js, "window", None)
    document = getattr(js, "document", None)
    if window is None or document is None:
        return None
    storages = []
    for name in ("localStorage", "sessionStorage"):
        try:
            storages.append(js_call(js.Reflect, "get", window, name))
        except JsCallError:  # SecurityError when the user or an iframe sandbox disabled storage
            storages.append(None)
    local, session = storages
    create_proxy = js_bridge().create_proxy
    return Page(window, document, window.navigator, local, create_proxy, session)

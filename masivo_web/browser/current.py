"""The page this interpreter serves: its window on the main thread, or, in a PyScript worker,
the page behind the worker's link (:mod:`masivo_web.browser.worker`). Under CPython there is
none."""

from __future__ import annotations

from ..runtime.interpreter import IS_BROWSER, in_worker
from ..runtime.jsbridge import JsCallError, js_bridge, js_call, js_globals, pyscript_xworker
from .page import Page

_page: Page | None = None


def current_page() -> Page | None:
    """The page this interpreter serves, or None (CPython, server-side rendering, a worker
    outside PyScript). The same :class:`Page` every time: its clients share its keepalive
    budget and its visitor."""
    global _page
    if not IS_BROWSER:
        return None
    if _page is None:
        _page = _connect_page() if in_worker() else _read_page()
    return _page


def _read_page() -> Page | None:
    js = js_globals()
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


def _connect_page() -> Page | None:
    """The page behind this PyScript worker, linked (None outside PyScript: a bare worker)."""
    xworker = pyscript_xworker()
    if xworker is None:
        return None
    create_proxy = js_bridge().create_proxy
    from .worker import PageLink  # only a worker pays for importing it

    link = PageLink(js_globals(), xworker, create_proxy)
    return Page(
        link.window,
        link.document,
        link.navigator,
        None,
        create_proxy,
        None,
        link=link,
    )

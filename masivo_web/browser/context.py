"""The ``context`` attached to each event (unless ``create_client(context=False)``).

| field | value | where |
|---|---|---|
| ``library`` | ``{"name": "masivo_web", "version": ...}`` | always |
| ``user_agent`` | ``navigator.userAgent`` | page |
| ``locale`` | ``navigator.language``; under CPython the process locale, if set | page, CPython |
| ``timezone`` | IANA name (``Intl...resolvedOptions().timeZone``); CPython: the UTC offset | both |
| ``page`` | ``{url, path, referrer, title, search}`` at the moment of the call | page |
| ``campaign`` | ``utm_*`` of the URL as ``source, medium, name, term, content`` | page |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .._version import VERSION
from ..rules.encoding import encode
from ..runtime.host import host_context
from ..runtime.scheduling import next_turn
from .page import Page

LIBRARY = {"name": "masivo_web", "version": VERSION}
_UTM = {
    "utm_source": "source",
    "utm_medium": "medium",
    "utm_campaign": "name",
    "utm_term": "term",
    "utm_content": "content",
}


def static_context(page: Page | None) -> dict[str, Any]:
    """The parts that do not change while the page lives: read once per client."""
    context: dict[str, Any] = {"library": LIBRARY}
    if page is None:
        context.update(host_context())
        return context
    for name, value in (
        ("user_agent", page.navigator.userAgent),
        ("locale", page.navigator.language),
    ):
        if value:  # no empty parts (a locked-down browser may hide them)
            context[name] = str(value)
    return context  # the timezone comes later: see EventContext


def page_timezone(page: Page) -> str | None:
    """The IANA timezone of the browser, or None. The first ``Intl`` call of a page loads its
    locale data (~30 ms), so it is not made while ``create_client`` runs."""
    try:
        return str(page.window.Intl.DateTimeFormat.new().resolvedOptions().timeZone)
    except Exception:  # a very old or locked-down browser has no Intl
        return None


def page_fields(page: Page, *, query_strings: bool = True) -> dict[str, str]:
    """Where the page is, read now: url, path, referrer, title, search (without the query
    strings of url and referrer, and no search, when ``query_strings`` is False)."""
    # One read of location.href, parsed here: each JS property read costs ~15 µs in Pyodide.
    document = page.document
    where = _where(str(page.window.location.href), str(document.referrer), str(document.title))
    return where if query_strings else _without_queries(where)


def _without_queries(where: dict[str, str]) -> dict[str, str]:
    """``where`` with no query string anywhere (they may hold tokens or e-mail addresses)."""
    kept = {name: value.split("?", 1)[0] for name, value in where.items() if name != "search"}
    kept["search"] = ""
    return kept


def _where(url: str, referrer: str, title: str) -> dict[str, str]:
    path, query = split_url(url)
    search = f"?{query}" if query else ""
    return {"url": url, "path": path, "referrer": referrer, "title": title, "search": search}


def split_url(url: str) -> tuple[str, str]:
    """The path and the query string of an absolute URL (by hand: ``urllib.parse`` costs more to
    import in Pyodide than the whole SDK)."""
    base, _, query = url.split("#", 1)[0].partition("?")
    after_scheme = base.partition("://")[2]
    slash = after_scheme.find("/")
    return (after_scheme[slash:] if slash >= 0 else "") or "/", query


def campaign(search: str) -> dict[str, str]:
    """``utm_*`` parameters of a query string, under Segment-style names."""
    if "utm_" not in search:
        return {}
    query: dict[str, str] = {}
    for pair in search.lstrip("?").split("&"):
        key, _, value = pair.partition("=")
        key = _unquote(key)
        if key in _UTM and key not in query and value:  # the first non-empty one, as parse_qs
            query[key] = _unquote(value)
    return {name: query[key] for key, name in _UTM.items() if query.get(key)}


_HEX = "0123456789abcdefABCDEF"


def _unquote(text: str) -> str:
    """``text`` from a query string decoded: ``+`` is a space, ``%XX`` a UTF-8 byte (a bad
    escape stays as it is, and bad UTF-8 becomes U+FFFD, as ``urllib.parse`` does)."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    out = bytearray()
    pieces = text.split("%")
    out += pieces[0].encode()
    for piece in pieces[1:]:
        code = piece[:2]
        if len(code) == 2 and code[0] in _HEX and code[1] in _HEX:
            out.append(int(code, 16))
            out += piece[2:].encode()
        else:  # not an escape: the % stays
            out += b"%" + piece.encode()
    return _decode(bytes(out))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except ValueError:  # UnicodeDecodeError (MicroPython: UnicodeError)
        return "".join(chr(byte) if byte < 0x80 else "\ufffd" for byte in data)


class EventContext:
    """The context of events sent now, kept ready as JSON text for the tracking call.

    The page is not read per event where the browser can say when it changes: the Navigation
    API's ``currententrychange`` (links, ``pushState``, ``replaceState``, back and forward) and
    a ``MutationObserver`` on ``<head>`` (the title) mark the context stale, and the next event
    reads ``location.href`` and ``document.title`` again. (A title set in the same task as the
    event is seen by the next one: observers report after the task.) Without those APIs both are
    read per event, which costs microseconds each through the JS bridge. The referrer is fixed
    for a document's life. Under CPython the context never changes.
    """

    __slots__ = (
        "_document",
        "_json",
        "_key",
        "_location",
        "_needs_timezone",
        "_page",
        "_query_strings",
        "_referrer",
        "_stale",
        "_static",
        "_unwatch",
    )

    def __init__(
        self, page: Page | None, static: dict[str, Any], *, query_strings: bool = True
    ) -> None:
        self._page = page
        self._query_strings = query_strings
        self._static = static
        # In a page the timezone is read on the loop's next turn, or by the first event if
        # that comes first (see page_timezone).
        self._needs_timezone = page is not None
        self._location: Any = page.window.location if page is not None else None
        self._document: Any = page.document if page is not None else None
        self._referrer = str(page.document.referrer) if page is not None else ""
        self._key: tuple[str, str] | None = None
        self._json = encode(static)
        self._stale = True
        #: Stops watching the page; None while the page is read per event.
        self._unwatch: Callable[[], None] | None = None
        if page is not None:
            next_turn(self._add_timezone)
            self._unwatch = _watch(page, self._mark_stale)

    def json(self) -> str:
        """The context now, as compact JSON text (an object)."""
        if self._needs_timezone:
            self._add_timezone()
        if self._location is not None and (self._stale or self._unwatch is None):
            self._stale = False
            key = (str(self._location.href), str(self._document.title))
            if key != self._key:
                self._rebuild(key)
        return self._json

    def fresh(self) -> dict[str, Any]:
        """The context now, as a new dict the caller may change."""
        loaded: dict[str, Any] = json.loads(self.json())
        return loaded

    def close(self) -> None:
        """Stop watching the page (the client is destroyed)."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    def _mark_stale(self, *_: Any) -> None:
        self._stale = True

    def _add_timezone(self) -> None:
        if self._needs_timezone and self._page is not None:
            self._needs_timezone = False
            timezone = page_timezone(self._page)
            if timezone is not None:
                self._static["timezone"] = timezone
                self._key, self._stale = None, True  # rebuilt with it at the next read

    def _rebuild(self, key: tuple[str, str]) -> None:
        url, title = key
        full = _where(url, self._referrer, title)
        utm = campaign(full["search"])  # campaign names are kept without the query string
        if not self._query_strings:
            full = _without_queries(full)
        # No empty parts: every byte counts at page hide (64 KiB of keepalive bodies per page).
        context = dict(self._static)
        context["page"] = {name: value for name, value in full.items() if value}
        if utm:
            context["campaign"] = utm
        self._key, self._json = key, encode(context)


def _watch(page: Page, changed: Callable[..., None]) -> Callable[[], None] | None:
    """Call ``changed`` when the page's URL or title changes; returns how to stop, or None
    where the browser cannot tell (no Navigation API, no MutationObserver)."""
    window = page.window
    navigation = getattr(window, "navigation", None)
    observer_class = getattr(window, "MutationObserver", None)
    head = getattr(page.document, "head", None)
    if navigation is None or observer_class is None or head is None:
        return None
    handler = page.create_proxy(changed)
    observer = None
    try:
        options = window.Object.new()
        options.subtree = options.childList = options.characterData = True
        observer = observer_class.new(handler)
        observer.observe(head, options)
        navigation.addEventListener("currententrychange", handler)
    except Exception:  # an unusual browser: read per event instead
        try:
            if observer is not None:
                observer.disconnect()
            getattr(handler, "destroy", lambda: None)()
        except Exception:
            pass
        return None

    def unwatch() -> None:
        navigation.removeEventListener("currententrychange", handler)
        observer.disconnect()
        destroy = getattr(handler, "destroy", None)
        if destroy is not None:
            destroy()

    return unwatch

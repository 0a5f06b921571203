"""Every error masivo_web raises, under one root.

```
MasivoError                      an API or SDK failure: message, status, details
├── MasivoConfigError            a bad argument to create_client(), or no event loop to send from
├── MasivoValidationError        bad event input; raised at the call, nothing was queued
├── MasivoNetworkError           no HTTP answer came (offline, DNS, refused, timeout)
├── MasivoDroppedError           the SDK gave up on a queued event: over the queue's bounds, too old
└── MasivoAuthError              authorization failed (unknown key, token rejected twice)
    └── MasivoServerKeyError     a SERVER key was used where only a CLIENT key is allowed
```

Every message says what to do next. Exceptions from urllib, asyncio streams or the browser's
``fetch`` are translated into these in the transports, always with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MasivoAuthError",
    "MasivoConfigError",
    "MasivoDroppedError",
    "MasivoError",
    "MasivoNetworkError",
    "MasivoServerKeyError",
    "MasivoValidationError",
]


class MasivoError(Exception):
    """The root of every masivo_web error.

    ``status`` is the HTTP status when the server answered (``None`` otherwise), ``details`` the
    server's ``details`` text, ``code`` its ``error`` field and ``request_id`` its
    ``X-Request-Id`` header.

    >>> try:
    ...     raise MasivoError("Masivo rejected the event", status=422, details="issued_at too old")
    ... except MasivoError as error:
    ...     (error.status, error.details)
    (422, 'issued_at too old')
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        details: Any = None,
        *,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details
        #: The server's ``error`` field (e.g. "Invalid event"), when it answered.
        self.code = code
        #: The ``X-Request-Id`` the server sent, to quote to Masivo support.
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class MasivoConfigError(MasivoError):
    """A setting passed to :func:`masivo_web.create_client` is invalid, or there is no event
    loop to send from. Raised at once, before anything is sent."""


class MasivoValidationError(MasivoError):
    """The event given to ``send_analytics_event`` is invalid. Raised synchronously at the call;
    the event was not queued and events queued earlier are untouched."""


class MasivoNetworkError(MasivoError):
    """The request got no HTTP answer: no connectivity, DNS failure, refused connection, a
    dropped connection or a timeout. Events are retried before this is reported.
    ``timed_out`` is True when no answer came within ``timeout_s`` (the request may have
    arrived)."""

    #: No answer within ``timeout_s`` (rather than a failure to reach the service).
    timed_out = False


class MasivoDroppedError(MasivoError):
    """A queued event was dropped before delivery: the queue was over its bounds (count or
    bytes) and it was the oldest, or it waited longer than the SDK retries (24 hours)."""


class MasivoAuthError(MasivoError):
    """Masivo refused to authorize the API key (400/401 from authorize), or refused a token.

    A refused key fails the events that needed it at once (no retry of theirs can help); the
    key itself is asked for again at the next use after a backoff (60 s by default,
    ``DeliveryPolicy.refused_key_backoff_s``), so a re-enabled key works again. A 401 on
    sending gets one re-authorization and one more try; a second 401 for a fresh token is
    retried later like a server error, and this error ends the event only once its attempts
    run out."""


class MasivoServerKeyError(MasivoAuthError):
    """A SERVER API key was given to the browser SDK. Server keys must never reach a web page."""


#: Longest text of one value in :func:`short_repr`, and most items shown of a collection.
_MAX_TEXT, _MAX_ITEMS = 40, 4
_BRACKETS = ((list, "[", "]"), (tuple, "(", ")"), (set, "{", "}"), (frozenset, "frozenset({", "})"))


def short_repr(value: object, _levels: int = 2) -> str:
    """A repr for error messages, bounded in depth and length (as ``reprlib`` does, which
    MicroPython lacks): a huge or deeply nested value must not blow the stack (fatal in
    Pyodide) or flood a log line."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        if _levels <= 0:
            return "{...}"
        try:  # sorted where the keys allow it, as reprlib shows them
            keys = sorted(value)
        except TypeError:
            keys = list(value)
        pieces = [
            short_repr(key, _levels - 1) + ": " + short_repr(value[key], _levels - 1)
            for key in keys[:_MAX_ITEMS]
        ]
        return "{" + ", ".join(pieces + ["..."] * (len(keys) > _MAX_ITEMS)) + "}"
    for kind, opening, closing in _BRACKETS:
        if isinstance(value, kind):
            if not value:
                return repr(value)
            if _levels <= 0:
                return opening + "..." + closing
            members = list(value)
            pieces = [short_repr(member, _levels - 1) for member in members[:_MAX_ITEMS]]
            if len(members) > _MAX_ITEMS:
                pieces.append("...")
            comma = "," if kind is tuple and len(members) == 1 else ""
            return opening + ", ".join(pieces) + comma + closing
    text = repr(value)
    if len(text) <= _MAX_TEXT:
        return text
    if isinstance(value, str):  # keep it a valid-looking string literal
        head, tail = (_MAX_TEXT - 3) // 2, _MAX_TEXT - 3 - (_MAX_TEXT - 3) // 2
        text = repr(value[:head] + value[len(value) - tail :])
        return text[:head] + "..." + text[len(text) - tail :]
    return text[: (_MAX_TEXT - 3) // 2] + "..." + text[len(text) - (_MAX_TEXT - 2) // 2 :]

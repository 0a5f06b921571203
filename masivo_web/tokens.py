"""A token and what is known of it, without I/O: its expiry (the JWT's ``exp``), when to
refresh it (:class:`TokenState`, tested with a fake clock), and where a tab keeps it for its
later pages (:class:`TabToken`). :mod:`masivo_web.auth` does the authorizing."""

from __future__ import annotations

import binascii
import json
from typing import Protocol

from ._record import Record
from .storage import Storage

#: @masivo/core refreshes every 5 minutes...
REFRESH_INTERVAL_S = 300.0
#: ...and at the latest this long before ``exp``.
REFRESH_BEFORE_EXPIRY_S = 300.0
#: A token this close to ``exp`` is not used for a new request.
EXPIRY_MARGIN_S = 10.0


def read_token_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch) of a JWT, or None when it has none.

    Only ``exp`` is documented, so the token is otherwise opaque; the signature is the server's
    business, not the client's.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    # base64url to base64 by hand: MicroPython's base64.urlsafe_b64decode is not implemented.
    payload = parts[1].replace("-", "+").replace("_", "/") + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(binascii.a2b_base64(payload.encode()))
    except ValueError:  # binascii.Error is a ValueError; so is bad UTF-8 or JSON
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class TokenState(Record):
    """A token and the monotonic times that govern it; ``expires_at`` is the monotonic time of
    ``exp``, None when the token does not say."""

    __slots__ = ("expires_at", "obtained_at", "token")
    _hidden = frozenset({"token"})  # a token never reaches a log

    def __init__(self, token: str, obtained_at: float, expires_at: float | None) -> None:
        self.token = token
        self.obtained_at = obtained_at
        self.expires_at = expires_at

    @classmethod
    def issued(cls, token: str, *, now: float, now_epoch: float) -> TokenState:
        """State for a token just received (``exp`` converted to the monotonic clock)."""
        exp = read_token_expiry(token)
        return cls(token, now, None if exp is None else now + (exp - now_epoch))

    def usable(self, now: float) -> bool:
        """Whether a new request may carry this token."""
        return self.expires_at is None or now < self.expires_at - EXPIRY_MARGIN_S

    def refresh_due_at(self) -> float:
        """When to fetch the next token: every 5 minutes, and 5 minutes before expiry at the
        latest. A token too short-lived for that margin is refreshed at half its life (the
        margin would otherwise mean refreshing in a tight loop)."""
        due = self.obtained_at + REFRESH_INTERVAL_S
        if self.expires_at is not None:
            lifetime = self.expires_at - self.obtained_at
            before_expiry = self.expires_at - REFRESH_BEFORE_EXPIRY_S
            if before_expiry - self.obtained_at < lifetime / 10:
                before_expiry = self.obtained_at + lifetime / 2
            due = min(due, before_expiry)
        return due


class TokenCache(Protocol):
    """Where a token outlives its page: the tab's ``sessionStorage`` (see :class:`TabToken`)."""

    def load(self) -> tuple[str, float] | None:
        """The token kept and the epoch second it was issued, if any."""
        ...

    def save(self, token: str, issued_epoch: float) -> None: ...

    def forget(self) -> None: ...


class TabToken:
    """A token kept in the tab's ``sessionStorage`` under a name that reveals neither the key
    nor the auth URL, so the next page of the tab can send from its first millisecond (its
    page-hide flush needs a token at once). Never ``localStorage`` (it would outlive the tab and
    be shared with every tab), never logged; the API key itself is never stored."""

    def __init__(self, storage: Storage, name: str) -> None:
        self._storage = storage
        self._name = name

    def load(self) -> tuple[str, float] | None:
        record = self._storage.get(self._name)
        issued, _, token = (record or "").partition("|")
        try:
            return (token, float(issued)) if token else None
        except ValueError:
            return None

    def save(self, token: str, issued_epoch: float) -> None:
        self._storage.set(self._name, f"{issued_epoch:.3f}|{token}")

    def forget(self) -> None:
        self._storage.remove(self._name)

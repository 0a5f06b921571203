"""A token and what is known of it, without I/O: how long it lives, when to refresh it
(:class:`TokenState`, tested with a fake clock), and where a tab keeps it for its later pages
(:class:`TabToken`). :mod:`masivo_web.engine.auth` does the authorizing.

A token's ``exp`` is the service's time, and the device's clock may be hours off: a token's
life is ``exp`` minus the service's time when it was issued (its ``iat``, else what the service
said its time was), counted on the monotonic clock from its arrival. ``exp`` is never compared
with the device's clock, so a wrong clock can neither expire a fresh token nor keep a dead one.
"""

from __future__ import annotations

import binascii
import json
from typing import Protocol

from .._record import Record
from .ports import Storage

#: @masivo/core refreshes every 5 minutes...
REFRESH_INTERVAL_S = 300.0
#: ...and at the latest this long before ``exp``.
REFRESH_BEFORE_EXPIRY_S = 300.0
#: A token this close to ``exp`` is not used for a new request.
EXPIRY_MARGIN_S = 10.0


def read_token_times(token: str) -> tuple[float | None, float | None]:
    """The ``exp`` and ``iat`` claims (seconds since the epoch) of a JWT, each None when absent.

    Only ``exp`` is documented (``iat`` is read where the service sends it), so the token is
    otherwise opaque; the signature is the server's business, not the client's.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None, None
    # base64url to base64 by hand: MicroPython's base64.urlsafe_b64decode is not implemented.
    payload = parts[1].replace("-", "+").replace("_", "/") + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(binascii.a2b_base64(payload.encode()))
    except ValueError:  # binascii.Error is a ValueError; so is bad UTF-8 or JSON
        return None, None
    if not isinstance(claims, dict):
        return None, None
    return _seconds(claims.get("exp")), _seconds(claims.get("iat"))


def read_token_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch) of a JWT, or None when it has none."""
    return read_token_times(token)[0]


def _seconds(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return float(value)
    return None


class TokenState(Record):
    """A token and the monotonic times that govern it; ``expires_at`` is the monotonic time of
    ``exp``, None when it cannot be known (no ``exp``, or no idea of the service's time)."""

    __slots__ = ("expires_at", "obtained_at", "token")
    _hidden = frozenset({"token"})  # a token never reaches a log

    def __init__(self, token: str, obtained_at: float, expires_at: float | None) -> None:
        self.token = token
        self.obtained_at = obtained_at
        self.expires_at = expires_at

    @classmethod
    def issued(
        cls, token: str, *, now: float, service_now: float | None, age: float = 0.0
    ) -> TokenState:
        """State for a token that arrived ``age`` seconds before monotonic ``now``.

        Its life is ``exp - iat``; without ``iat``, ``exp`` minus ``service_now``, the
        service's time at its arrival (None: not known, and the expiry is not either).
        """
        exp, iat = read_token_times(token)
        issued_at = iat if iat is not None else service_now
        obtained = now - age
        if exp is None or issued_at is None:
            return cls(token, obtained, None)
        return cls(token, obtained, obtained + (exp - issued_at))

    @property
    def lifetime(self) -> float | None:
        """Seconds from arrival to expiry (None: not known)."""
        return None if self.expires_at is None else self.expires_at - self.obtained_at

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

    def load(self) -> KeptToken | None:
        """The token kept, if any."""
        ...

    def save(self, kept: KeptToken) -> None: ...

    def forget(self) -> None: ...


class KeptToken(Record):
    """A token as a tab keeps it: when it arrived by the device's clock (the only clock two
    pages share) and the service's time minus the device's then (None: not known)."""

    __slots__ = ("device_offset", "received_epoch", "token")
    _hidden = frozenset({"token"})

    def __init__(self, token: str, received_epoch: float, device_offset: float | None) -> None:
        self.token = token
        self.received_epoch = received_epoch
        self.device_offset = device_offset


class TabToken:
    """A token kept in the tab's ``sessionStorage`` under a name that reveals neither the key
    nor the auth URL, so the next page of the tab can send from its first millisecond (its
    page-hide flush needs a token at once). Never ``localStorage`` (it would outlive the tab and
    be shared with every tab), never logged; the API key itself is never stored."""

    def __init__(self, storage: Storage, name: str) -> None:
        self._storage = storage
        self._name = name

    def load(self) -> KeptToken | None:
        # "received|offset|token"; an earlier version kept "received|token".
        parts = (self._storage.get(self._name) or "").split("|")
        try:
            if len(parts) == 3 and parts[2]:
                offset = float(parts[1]) if parts[1] else None
                return KeptToken(parts[2], float(parts[0]), offset)
            if len(parts) == 2 and parts[1]:
                return KeptToken(parts[1], float(parts[0]), None)
        except ValueError:
            pass
        return None

    def save(self, kept: KeptToken) -> None:
        offset = "" if kept.device_offset is None else f"{kept.device_offset:.3f}"
        self._storage.set(self._name, f"{kept.received_epoch:.3f}|{offset}|{kept.token}")

    def forget(self) -> None:
        self._storage.remove(self._name)

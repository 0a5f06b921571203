"""A small blocking client for the emulator's ``/_emulator`` routes (standard library only), for
tests and scripts: what arrived, which requests were made, and faults to inject."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class EmulatorClient:
    """Talks to a running emulator at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_emulator{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())["data"]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"emulator {method} {path}: {exc.code} {exc.read()!r}") from None

    def received_events(
        self, *, type: str | None = None, customer_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored events, oldest first (each also has ``_seq``, ``_received_at``, ``_route``)."""
        query = {k: v for k, v in (("type", type), ("customer_id", customer_id)) if v is not None}
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        events: list[dict[str, Any]] = self._call("GET", f"/events{suffix}")
        return events

    def customer_events(self, customer_id: str) -> list[dict[str, Any]]:
        """A customer's events, including the anonymous ones sent before ``identify``."""
        path = f"/customers/{urllib.parse.quote(customer_id, safe='')}/events"
        events: list[dict[str, Any]] = self._call("GET", path)
        return events

    def wait_for_events(
        self, count: int, *, type: str | None = None, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Block until at least ``count`` events (of ``type``) are stored, then return every
        matching event stored by then (``count`` or more: unpacking asserts the exact number).

        The emulator holds the request open until they arrive (no polling sleeps); raises
        ``TimeoutError`` listing what did arrive when ``timeout`` passes first.
        """
        query: dict[str, str | float] = {"min_count": count, "timeout": timeout}
        if type is not None:
            query["type"] = type
        events: list[dict[str, Any]] = self._call(
            "GET", f"/events?{urllib.parse.urlencode(query)}", timeout=timeout + 10
        )
        if len(events) < count:
            kinds = sorted({event["type"] for event in events})
            raise TimeoutError(
                f"waited {timeout:g} s for {count} event(s) of type {type or 'any'}; "
                f"{len(events)} arrived ({', '.join(kinds) or 'none'})"
            )
        return events

    def requests(self, *, route: str | None = None) -> list[dict[str, Any]]:
        """API requests received (method, path, route, status, events, origin), oldest first;
        ``route`` is ``authorize``, ``analytics`` or ``behavior``."""
        log: list[dict[str, Any]] = self._call("GET", "/requests")
        return [entry for entry in log if route is None or entry["route"] == route]

    def stats(self) -> dict[str, Any]:
        """``stored`` (every copy), ``distinct`` (event ids), ``repeats`` (events received
        again), ``duplicates_suppressed`` (repeats not stored: the ``dedupe`` setting) and
        ``by_type`` counts."""
        stats: dict[str, Any] = self._call("GET", "/stats")
        return stats

    def inject_fault(
        self,
        route: str = "*",
        *,
        count: int = 1,
        status: int | None = None,
        delay_s: float = 0.0,
        drop: bool = False,
        retry_after: float | None = None,
        after_processing: bool = False,
    ) -> None:
        """Make the next ``count`` requests to ``route`` answer ``status``, wait ``delay_s``
        first, or drop the connection; ``after_processing`` stores the events first."""
        self._call(
            "POST",
            "/faults",
            {
                "route": route,
                "count": count,
                "status": status,
                "delay_s": delay_s,
                "drop": drop,
                "retry_after": retry_after,
                "after_processing": after_processing,
            },
        )

    def clear_faults(self) -> None:
        """Drop every fault still waiting (the service answers normally again)."""
        self._call("DELETE", "/faults")

    def set_chaos(
        self,
        route: str = "analytics",
        *,
        probability: float = 0.2,
        kinds: list[str] | None = None,
        seed: int = 0,
        slow_s: float = 1.0,
        retry_after: float = 0.2,
    ) -> None:
        """Seeded random faults on every request to ``route`` (see ``CHAOS_KINDS``)."""
        body: dict[str, object] = {
            "route": route,
            "probability": probability,
            "seed": seed,
            "slow_s": slow_s,
            "retry_after": retry_after,
        }
        if kinds is not None:
            body["kinds"] = kinds
        self._call("POST", "/chaos", body)

    def chaos(self) -> dict[str, Any] | None:
        """The chaos settings and what was injected so far, or None."""
        result: dict[str, Any] | None = self._call("GET", "/chaos")
        return result

    def add_key(self, key: str, kind: str = "client") -> None:
        """Register an API key of ``kind`` ``client`` or ``server``."""
        self._call("POST", "/keys", {"key": key, "kind": kind})

    def update_settings(self, **settings: float | bool) -> dict[str, Any]:
        """Change ``token_ttl_s``, ``rate_limit``, ``rate_window_s``, ``clock_offset_s`` or
        ``dedupe`` until the next reset."""
        result: dict[str, Any] = self._call("PUT", "/settings", settings)
        return result

    def revoke_tokens(self) -> None:
        """Make every token issued so far answer 401 (a token that expires mid-flush)."""
        self._call("POST", "/revoke-tokens", {})

    def reset(self) -> None:
        """Forget events, requests, faults and rate counters; restore keys and settings."""
        self._call("POST", "/reset", {})

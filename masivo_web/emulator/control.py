"""``/_emulator/*``: inspect what arrived and steer the emulator (keys, faults, settings).

Used by the pytest plugin, the demo dashboard and anyone scripting the emulator with curl.
Bad input gets a 400 with the usual ``{"error", "details"}`` body.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .faults import CHAOS_KINDS, Chaos, Fault
from .store import ROUTES, EmulatorState


def _bad(details: str) -> JSONResponse:
    return JSONResponse({"error": "Bad control request", "details": details}, status_code=400)


class _Invalid(Exception):
    """A control request the emulator cannot take; its message says what to send."""


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or :class:`_Invalid` saying what is wrong with it."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise _Invalid(f"The body is not JSON ({exc}); send a JSON object.") from None
    if not isinstance(body, dict):
        raise _Invalid(f"The body must be a JSON object, not {type(body).__name__}.")
    return body


def _number(
    body: dict[str, Any], name: str, default: float | None, low: float, high: float
) -> float | None:
    """``body[name]`` as a finite number within [low, high] (``default`` when absent)."""
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _Invalid(f"{name!r} must be a number from {low:g} to {high:g}; got {value!r}.")
    return float(value)


#: What each control body may hold: any other key is refused (a typo must not be ignored).
FAULT_FIELDS = ("route", "count", "status", "retry_after", "delay_s", "drop", "after_processing")
CHAOS_FIELDS = ("route", "kinds", "probability", "seed", "slow_s", "retry_after")


def _known(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise _Invalid(f"Unknown field(s) {unknown}; known: {list(fields)}.")
    return body


def _whole(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if isinstance(value, float) and value - value == 0 and value != int(value):
        raise _Invalid(f"{name!r} must be a whole number; got {value!r}.")


def _checked(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """``handler``, answering 400 with the reason for a control request it cannot take."""

    async def checked(request: Request) -> Response:
        try:
            return await handler(request)
        except _Invalid as exc:
            return _bad(str(exc))

    return checked


def control_routes(state: EmulatorState) -> list[Route]:
    """The control routes bound to ``state``."""

    async def list_events(request: Request) -> Response:
        query = request.query_params
        try:
            since = int(query.get("since", "0"))
            min_count = int(query.get("min_count", "0"))
            timeout = float(query.get("timeout", "10"))
        except ValueError:
            since = min_count = -1
            timeout = 0.0
        in_range = 0 <= since < 2**63 and 0 <= min_count < 2**63  # SQLite's integers
        if not (in_range and 0 <= timeout <= 300):  # NaN is in no range
            return _bad(
                "'since' and 'min_count' must be integers from 0 to 2**63 - 1, 'timeout' a "
                "number of seconds (at most 300)"
            )

        def matching() -> list[dict[str, Any]]:
            return state.events(
                type=query.get("type"), customer_id=query.get("customer_id"), since_seq=since
            )

        # Long poll: hold the answer until min_count events match or the timeout passes.
        deadline = time.monotonic() + timeout
        events = matching()
        while len(events) < min_count and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await state.wait_for_new_event()
            events = matching()
        return JSONResponse({"data": events})

    async def customer_events(request: Request) -> Response:
        # A customer's events, and the anonymous ones that preceded identify: an event that
        # carries both the customer_id and an anonymous_id ties that anonymous id to them. An
        # event of that anonymous id is theirs only while it was anonymous (its customer_id
        # was the anonymous id): two customers on one browser share the anonymous id.
        customer = request.path_params["customer_id"]
        events = state.events()
        linked = {
            event["anonymous_id"]
            for event in events
            if event.get("customer_id") == customer and event.get("anonymous_id")
        }
        mine = [
            event
            for event in events
            if event.get("customer_id") == customer
            or (event.get("anonymous_id") in linked and event.get("customer_id") in linked)
        ]
        return JSONResponse({"data": mine})

    async def clear_events(request: Request) -> Response:
        state.db.execute("DELETE FROM events")
        return JSONResponse({"data": {"cleared": True}})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"data": {"reset": True}})

    async def list_requests(request: Request) -> Response:
        return JSONResponse({"data": list(state.requests)})

    async def stats(request: Request) -> Response:
        events = state.events()
        return JSONResponse(
            {
                "data": {
                    "stored": len(events),
                    # Repeats: events received with an event_id received before (re-sends);
                    # stored again, unless the dedupe setting suppressed them.
                    "distinct": len({event["event_id"] for event in events}),
                    "repeats": state.duplicates,
                    "duplicates_suppressed": state.duplicates if state.settings.dedupe else 0,
                    "by_type": dict(Counter(event["type"] for event in events)),
                }
            }
        )

    async def add_key(request: Request) -> Response:
        body = await _body(request)
        key, kind = body.get("key"), body.get("kind")
        if not isinstance(key, str) or not key or kind not in ("client", "server"):
            return _bad('Send {"key": "<api key>", "kind": "client" | "server"}')
        state.keys[key] = kind
        return JSONResponse({"data": {"kind": kind}}, status_code=201)

    async def add_fault(request: Request) -> Response:
        body = _known(await _body(request), FAULT_FIELDS)
        for name in ("count", "status"):
            _whole(body, name)
        route = body.get("route", "*")
        if route not in (*ROUTES, "*"):
            return _bad(f"'route' must be one of {[*ROUTES, '*']}")
        count = _number(body, "count", 1, 1, 1_000_000)
        status = _number(body, "status", None, 200, 599)
        retry_after = _number(body, "retry_after", None, 0, 3600)
        for name in ("drop", "after_processing"):
            if not isinstance(body.get(name, False), bool):
                raise _Invalid(f"{name!r} must be true or false.")
        fault = Fault(
            route=route,
            remaining=int(count or 1),
            status=None if status is None else int(status),
            delay_s=_number(body, "delay_s", 0.0, 0, 60) or 0.0,
            drop=body.get("drop", False),
            retry_after=retry_after,
            after_processing=body.get("after_processing", False),
        )
        if fault.remaining < 1 or (fault.status is None and not fault.drop and not fault.delay_s):
            return _bad("A fault needs count >= 1 and at least one of status, drop, delay_s")
        state.faults.append(fault)
        return JSONResponse({"data": fault.public()}, status_code=201)

    async def set_chaos(request: Request) -> Response:
        body = _known(await _body(request), CHAOS_FIELDS)
        route = body.get("route", "analytics")
        kinds = body.get("kinds", list(CHAOS_KINDS))
        if route not in (*ROUTES, "*") or not isinstance(kinds, list) or not kinds:
            return _bad(f"Send route (one of {[*ROUTES, '*']}) and a non-empty list of kinds")
        if not all(isinstance(kind, str) for kind in kinds):
            return _bad(f"'kinds' must be a list of names from {list(CHAOS_KINDS)}")
        unknown = set(kinds) - set(CHAOS_KINDS)
        if unknown:
            return _bad(f"Unknown chaos kinds {sorted(unknown)}; known: {list(CHAOS_KINDS)}")
        seed = body.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            return _bad(f"'seed' must be an integer; got {seed!r}")
        chaos = Chaos(
            route=route,
            probability=_number(body, "probability", 0.2, 0, 1) or 0.0,
            kinds=tuple(kinds),
            seed=seed,
            slow_s=_number(body, "slow_s", 1.0, 0, 60) or 0.0,
            retry_after=_number(body, "retry_after", 0.2, 0, 3600) or 0.0,
        )
        state.chaos = chaos
        return JSONResponse({"data": chaos.public()}, status_code=201)

    async def get_chaos(request: Request) -> Response:
        return JSONResponse({"data": state.chaos.public() if state.chaos else None})

    async def stop_chaos(request: Request) -> Response:
        state.chaos = None
        return JSONResponse({"data": {"stopped": True}})

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"data": [fault.public() for fault in state.faults]})

    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return JSONResponse({"data": {"cleared": True}})

    async def update_settings(request: Request) -> Response:
        body = await _body(request)
        known = set(vars(state.settings))
        unknown = set(body) - known
        if unknown:
            return _bad(f"Unknown settings {sorted(unknown)}; known: {sorted(known)}")
        checked: dict[str, float | int | bool] = {}
        for name in body:  # every value checked before any is applied
            if isinstance(getattr(state.settings, name), bool):
                if not isinstance(body[name], bool):
                    raise _Invalid(f"{name!r} must be true or false; got {body[name]!r}.")
                checked[name] = body[name]
                continue
            low = -1e9 if name == "clock_offset_s" else 1e-3
            value = _number(body, name, None, low, 1e9)
            if value is None:
                raise _Invalid(f"{name!r} must be a number from {low:g} to 1e+09; got null.")
            if isinstance(getattr(state.settings, name), int):
                if value != int(value) or value < 1:
                    raise _Invalid(f"{name!r} must be a whole number of at least 1; got {value!r}.")
                checked[name] = int(value)
            else:
                checked[name] = value
        for name, value in checked.items():
            setattr(state.settings, name, value)
        return JSONResponse({"data": vars(state.settings)})

    async def revoke_tokens(request: Request) -> Response:
        # iat is a float of the issuing moment: every token issued up to now becomes invalid.
        state.tokens_valid_after = state.now()
        return JSONResponse({"data": {"revoked_before": state.tokens_valid_after}})

    return [
        Route("/events", list_events, methods=["GET"]),
        Route("/events", clear_events, methods=["DELETE"]),
        Route("/customers/{customer_id}/events", customer_events, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/requests", list_requests, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/keys", _checked(add_key), methods=["POST"]),
        Route("/faults", _checked(add_fault), methods=["POST"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/settings", _checked(update_settings), methods=["PUT"]),
        Route("/chaos", _checked(set_chaos), methods=["POST"]),
        Route("/chaos", get_chaos, methods=["GET"]),
        Route("/chaos", stop_chaos, methods=["DELETE"]),
        Route("/revoke-tokens", revoke_tokens, methods=["POST"]),
    ]

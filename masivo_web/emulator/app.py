"""The emulated Masivo service as a Starlette app: the contract of ``docs/masivo-api.md`` plus
``/_emulator/*`` routes to inspect and steer it from tests and the demo.

Not emulated (said plainly, as stripe-mock does): accounts and their registered custom types
(any non-reserved type is accepted), the single route's later PENDING → processed transition,
loyalty rules, and any real rate-limit numbers (ours are settings).
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from .checks import apply_fault, error, gunzip, read_json, token_claims
from .control import control_routes
from .openapi import openapi_document
from .request_log import ASGIApp, RequestLog
from .store import EmulatorState, key_fingerprint
from .validation import check_event, encode_event

logger = logging.getLogger("masivo_web.emulator")

API_PREFIX = "/api/storefront/v1"
MAX_BODY_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 100
ALLOWED_HEADERS = [
    "authorization",
    "content-encoding",
    "content-type",
    "x-api-key",
    "x-masivo-sdk",
]
EXPOSED_HEADERS = [
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-Id",
]


def create_app(state: EmulatorState) -> ASGIApp:
    """The ASGI app serving ``state``. Every API route answers at ``/`` and under ``API_PREFIX``."""
    api = EventApi(state)
    api_routes = [
        Route("/auth/authorize", api.authorize, methods=["GET"]),
        Route("/analytics/events", api.analytics_events, methods=["POST"]),
        Route("/behavior/events", api.behavior_events, methods=["POST"]),
    ]
    control = control_routes(state)
    starlette = Starlette(
        routes=[
            _index(api_routes, control),
            Route("/openapi.json", _openapi, methods=["GET"]),
            *api_routes,
            Mount(API_PREFIX, routes=api_routes),
            Mount("/_emulator", routes=control),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                allow_headers=ALLOWED_HEADERS,
                expose_headers=EXPOSED_HEADERS,
                max_age=600,
            )
        ],
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    return RequestLog(starlette, state)


def _index(api: list[Route], control: list[Route]) -> Route:
    """``GET /``, the URL ``demo`` and ``emulator`` print: what is served here, by route."""

    def listed(prefix: str, routes: list[Route]) -> list[str]:
        return [
            f"{method} {prefix}{route.path}"
            for route in routes
            for method in sorted(route.methods or ())
            if method != "HEAD"
        ]

    async def index(request: Request) -> Response:
        return JSONResponse(
            {
                "emulator": "masivo_web's local Masivo (README: The local Masivo emulator)",
                "openapi": "GET /openapi.json",
                "api": listed(API_PREFIX, api),
                "control": listed("/_emulator", control),
            }
        )

    return Route("/", index, methods=["GET"])


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(API_PREFIX))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, "Request failed", str(exc.detail))


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.exception("emulator error on %s %s", request.method, request.url.path)
    return error(500, "Internal error", "The emulator failed on this request; see its log.")


class EventApi:
    """Handlers of the three Masivo routes."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def authorize(self, request: Request) -> Response:
        notes = _notes(request, "authorize")
        early = await apply_fault(self.state, notes, before=True)
        if early is not None:
            return early
        api_key = request.headers.get("x-api-key")
        if not api_key:
            return error(401, "Unauthorized", "Send your API key in the x-api-key header.")
        kind = self.state.keys.get(api_key)
        if kind is None:
            return error(401, "Unauthorized", "Unknown API key.")
        if kind == "server" and request.headers.get("x-masivo-sdk") == "client":
            return error(
                403,
                "Forbidden",
                "SERVER keys cannot be used by client SDKs; create a CLIENT key.",
            )
        now = self.state.now()
        claims = {
            "sub": key_fingerprint(api_key),
            "kind": kind,
            "iat": now,
            "exp": now + self.state.settings.token_ttl_s,
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self.state.secret, algorithm="HS256")
        late = await apply_fault(self.state, notes, before=False)
        return late or JSONResponse({"data": token})

    async def analytics_events(self, request: Request) -> Response:
        return await self._events(request, "analytics")

    async def behavior_events(self, request: Request) -> Response:
        return await self._events(request, "behavior")

    async def _events(self, request: Request, route: str) -> Response:
        notes = _notes(request, route)
        early = await apply_fault(self.state, notes, before=True)
        if early is not None:
            return early
        claims = token_claims(self.state, request)
        if isinstance(claims, Response):
            return claims
        allowed, limits = self.state.rate_check(claims["sub"], time.time())
        if not allowed:
            return error(429, "Too many requests", "Rate limit reached; retry later.", limits)
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client gave up (e.g. timed out during a delay fault)
            notes["dropped"] = True
            return Response(status_code=499)
        if len(raw) > MAX_BODY_BYTES:
            return error(
                413, "Payload too large", f"{len(raw)} bytes; the limit is 500 KB.", limits
            )
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            return error(
                415,
                "Unsupported Content-Type",
                f"{content_type or 'none'!r}: send Content-Type: application/json.",
                limits,
            )
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding == "gzip":
            try:
                raw = gunzip(raw, MAX_BODY_BYTES)
            except OverflowError:
                return error(413, "Payload too large", "Over 500 KB once decompressed.", limits)
            except ValueError as exc:
                return error(400, "Malformed body", f"Content-Encoding is gzip: {exc}", limits)
        elif encoding != "identity":
            return error(
                415, "Unsupported Content-Encoding", f"{encoding!r}: send gzip or none.", limits
            )
        try:
            body = read_json(raw)
        except ValueError as exc:
            return error(400, "Malformed JSON", str(exc), limits)
        if route == "behavior":
            answer = self._store_single(body, claims["kind"], notes, limits)
        else:
            answer = self._store_batch(body, claims["kind"], notes, limits)
        late = await apply_fault(self.state, notes, before=False)
        return late or answer

    def _store_batch(
        self, body: Any, kind: str, notes: dict[str, Any], limits: dict[str, str]
    ) -> Response:
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_BATCH_EVENTS:
            return error(
                422, "Invalid body", 'Send {"events": [...]} with 1 to 100 events.', limits
            )
        notes["events"] = len(events)
        return JSONResponse({"data": self._store_each(events, kind)}, headers=limits)

    def _store_each(self, events: list[Any], kind: str) -> list[dict[str, Any]]:
        """Check each event and store the valid ones in one transaction; per-item results."""
        now = datetime.fromtimestamp(self.state.now(), UTC)
        results: list[dict[str, Any]] = []
        accepted: list[dict[str, Any]] = []  # the results of the valid events, in order
        valid: list[tuple[dict[str, Any], str | None]] = []
        for index, event in enumerate(events):
            text = encode_event(event) if isinstance(event, dict) else None
            problem = check_event(event, key_kind=kind, now=now, text=text)
            if problem is not None:
                status, title, details = problem
                results.append(
                    {"index": index, "status": status, "error": title, "details": details}
                )
                continue
            if event.get("event_id") is None:  # the SDK always sends one; others may not
                event["event_id"] = _new_id()
                text = None  # encoded again, with the id, when stored
            results.append({"index": index, "status": 201, "id": event["event_id"]})
            accepted.append(results[-1])
            valid.append((event, text))
        if valid:
            stored = self.state.store_events(valid, route="analytics", key_kind=kind)
            dedupe = self.state.settings.dedupe  # a repeat was not stored again: 200
            for result, is_new in zip(accepted, stored, strict=True):
                result["status"] = 200 if dedupe and not is_new else 201
        return results

    def _store_single(
        self, event: Any, kind: str, notes: dict[str, Any], limits: dict[str, str]
    ) -> Response:
        notes["events"] = 1
        now = datetime.fromtimestamp(self.state.now(), UTC)
        problem = check_event(event, key_kind=kind, now=now)
        if problem is not None:
            return error(*problem, headers=limits)
        if event.get("event_id") is None:
            event["event_id"] = _new_id()
        stored = self.state.store_event(event, route="behavior", key_kind=kind)
        stored = stored or not self.state.settings.dedupe  # a repeat stored again: 201
        data = {
            "id": event["event_id"],
            "status": "PENDING",
            "type": event["type"],
            "customer_id": event["customer_id"],
        }
        return JSONResponse({"data": data}, status_code=201 if stored else 200, headers=limits)


def _notes(request: Request, route: str) -> dict[str, Any]:
    notes: dict[str, Any] = request.scope.setdefault("state", {}).setdefault("masivo", {})
    notes["route"] = route
    return notes


def _new_id() -> str:
    return str(uuid.uuid4())

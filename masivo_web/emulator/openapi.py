"""The emulator's API as an OpenAPI 3.1 document, served at ``GET /openapi.json``.

It describes what the emulator accepts (the Masivo contract of docs/masivo-api.md, and the
control routes under ``/_emulator``), and is what the suite fuzzes every route from
(``tests/integration/test_emulator_fuzz.py``: no answer may be a server error). Answers are
described by status only: the fuzzing checks that none is a 5xx the emulator did not inject.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "details": {"type": "string"}},
}


def _answers(*statuses: int) -> dict[str, Any]:
    described = {
        200: "OK",
        201: "Created",
        204: "No content",
        400: "Malformed request",
        401: "Missing or unknown key or token",
        403: "Not allowed for this key",
        404: "No such thing",
        413: "Body too large",
        415: "Not application/json",
        422: "Invalid field",
        429: "Rate limited (Retry-After)",
    }
    return {
        str(status): {
            "description": described[status],
            **({"content": {JSON: {"schema": ERROR}}} if status >= 400 else {}),
        }
        for status in statuses
    }


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


EVENT = {
    "type": "object",
    "required": ["type", "customer_id", "brand_id"],
    "properties": {
        "type": {"type": "string"},
        "customer_id": {"type": "string"},
        "brand_id": {"type": ["string", "null"]},
        "event_id": {"type": "string"},
        "issued_at": {"type": "string"},
        "platform": {"type": "string"},
        "product": {"type": "object"},
        "order": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "metadata": {"type": "object"},
        "referral_code": {"type": "string"},
    },
}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
ROUTE = {"type": "string", "enum": ["authorize", "analytics", "behavior", "*"]}


def _api_paths(prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}/auth/authorize": {
            "get": {
                "operationId": f"authorize{prefix.replace('/', '_')}",
                "summary": "A token for an API key (x-api-key; x-masivo-sdk: client).",
                "parameters": [
                    {"name": "x-api-key", "in": "header", "schema": {"type": "string"}},
                    {"name": "x-masivo-sdk", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": _answers(200, 401, 403, 429),
            }
        },
        f"{prefix}/analytics/events": {
            "post": {
                "operationId": f"analytics{prefix.replace('/', '_')}",
                "summary": "A batch of up to 100 events; one result per event.",
                "security": BEARER,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["events"],
                        "properties": {"events": {"type": "array", "items": EVENT}},
                    }
                ),
                "responses": _answers(200, 400, 401, 403, 413, 415, 422, 429),
            }
        },
        f"{prefix}/behavior/events": {
            "post": {
                "operationId": f"behavior{prefix.replace('/', '_')}",
                "summary": "One event.",
                "security": BEARER,
                "requestBody": _body(EVENT),
                "responses": _answers(201, 400, 401, 403, 413, 415, 422, 429),
            }
        },
    }


def _control_paths() -> dict[str, Any]:
    number = {"type": "number"}
    query = [
        {"name": "type", "in": "query", "schema": {"type": "string"}},
        {"name": "customer_id", "in": "query", "schema": {"type": "string"}},
        {"name": "since", "in": "query", "schema": {"type": "integer"}},
        # Long poll: answer once min_count events match, or after timeout (at most 300) s.
        {"name": "min_count", "in": "query", "schema": {"type": "integer"}},
        {"name": "timeout", "in": "query", "schema": {"type": "number", "maximum": 300}},
    ]
    return {
        "/": {"get": {"operationId": "index", "responses": _answers(200)}},
        "/_emulator/events": {
            "get": {
                "operationId": "list_events",
                "parameters": query,
                "responses": _answers(200, 400),
            },
            "delete": {"operationId": "clear_events", "responses": _answers(200, 204)},
        },
        "/_emulator/customers/{customer_id}/events": {
            "get": {
                "operationId": "customer_events",
                "parameters": [
                    {
                        "name": "customer_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                "responses": _answers(200),
            }
        },
        "/_emulator/reset": {"post": {"operationId": "reset", "responses": _answers(200, 204)}},
        "/_emulator/requests": {
            "get": {"operationId": "list_requests", "responses": _answers(200)}
        },
        "/_emulator/stats": {"get": {"operationId": "stats", "responses": _answers(200)}},
        "/_emulator/keys": {
            "post": {
                "operationId": "add_key",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "kind": {"type": "string", "enum": ["client", "server"]},
                        },
                    }
                ),
                "responses": _answers(201, 400),
            }
        },
        "/_emulator/faults": {
            "post": {
                "operationId": "add_fault",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "route": ROUTE,
                            "count": number,
                            "status": number,
                            "retry_after": number,
                            "delay_s": number,
                            "drop": {"type": "boolean"},
                            "after_processing": {"type": "boolean"},
                        },
                    }
                ),
                "responses": _answers(201, 400),
            },
            "get": {"operationId": "list_faults", "responses": _answers(200)},
            "delete": {"operationId": "clear_faults", "responses": _answers(200, 204)},
        },
        "/_emulator/settings": {
            "put": {
                "operationId": "update_settings",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "token_ttl_s": number,
                            "rate_limit": number,
                            "rate_window_s": number,
                            "clock_offset_s": number,
                            "dedupe": {"type": "boolean"},
                        },
                    }
                ),
                "responses": _answers(200, 400),
            }
        },
        "/_emulator/chaos": {
            "post": {
                "operationId": "set_chaos",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "route": ROUTE,
                            "kinds": {"type": "array", "items": {"type": "string"}},
                            "seed": {"type": "integer"},
                            "probability": number,
                            "slow_s": number,
                            "retry_after": number,
                        },
                    }
                ),
                "responses": _answers(200, 201, 400),
            },
            "get": {"operationId": "get_chaos", "responses": _answers(200)},
            "delete": {"operationId": "stop_chaos", "responses": _answers(200, 204)},
        },
        "/_emulator/revoke-tokens": {
            "post": {"operationId": "revoke_tokens", "responses": _answers(200, 204)}
        },
    }


def openapi_document(api_prefix: str) -> dict[str, Any]:
    """The whole document (every API route at ``/`` and under ``api_prefix``)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "masivo_web emulator",
            "version": "1",
            "description": "A local Masivo for tests: the storefront API, and /_emulator to "
            "inspect and steer it.",
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {**_api_paths(""), **_api_paths(api_prefix), **_control_paths()},
    }

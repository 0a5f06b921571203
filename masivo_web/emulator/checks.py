"""What the emulated service checks before a route does its work, apart from the routes: the
bearer token, the body (gzip within its limit, JSON the real service would parse), the faults
a test injected, and the error body every refusal carries."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import Fault
from .store import EmulatorState


def error(
    status: int, title: str, details: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Masivo's error body: ``{"error": str, "details": str}``."""
    return JSONResponse({"error": title, "details": details}, status_code=status, headers=headers)


def gunzip(body: bytes, limit: int) -> bytes:
    """The gzip ``body`` decompressed; OverflowError past ``limit`` bytes (a zip bomb stops
    there), ValueError when it is not one complete gzip stream."""
    unpacker = zlib.decompressobj(31)
    try:
        data = unpacker.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"not gzip ({exc})") from None
    if len(data) > limit or unpacker.unconsumed_tail:
        raise OverflowError(limit)
    if not unpacker.eof or unpacker.unused_data:
        raise ValueError("the gzip stream is truncated or followed by other data")
    return data


def token_claims(state: EmulatorState, request: Request) -> dict[str, Any] | Response:
    """The claims of the request's bearer token, or the 401 the real service answers."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return error(
            401, "Unauthorized", "Send 'Authorization: Bearer <token>' from /auth/authorize."
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            header[7:],
            state.secret,
            algorithms=["HS256"],
            # exp is judged by the emulator's own clock (clock_offset_s), below; iat is its own.
            options={
                "require": ["exp", "iat", "sub"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError:
        return error(401, "Unauthorized", "The token is not valid; authorize again.")
    if not isinstance(claims["exp"], (int, float)) or claims["exp"] <= state.now():
        return error(401, "Unauthorized", "The token has expired; authorize again.")
    if claims["iat"] < state.tokens_valid_after:
        return error(401, "Unauthorized", "The token was revoked; authorize again.")
    return claims


async def apply_fault(
    state: EmulatorState, notes: dict[str, Any], *, before: bool
) -> Response | None:
    """Apply an injected fault at this point of the request, if one is due."""
    fault: Fault | None = notes.get("fault")
    if before:
        fault = notes["fault"] = state.take_fault(notes["route"])
    if fault is None or fault.after_processing == before:
        return None
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.drop:
        notes["dropped"] = True
        abort = notes.get("abort")
        if abort is not None:
            abort()
            await asyncio.sleep(0)  # let the transport close before anything is written
            return Response(status_code=500)
        return error(500, "Injected fault", "connection drop (not supported by this server)")
    if fault.status is not None:
        headers = (
            {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
        )
        return error(
            fault.status, "Injected fault", f"emulator fault: HTTP {fault.status}", headers
        )
    return None


def read_json(raw: bytes) -> Any:
    """The body as JSON, refusing what the real service would (a ValueError saying what):
    NaN and Infinity (not JSON), a lone surrogate (not UTF-8, it could not be stored) and
    nesting deeper than the parser goes."""
    text = raw.decode("utf-8")
    try:
        value = json.loads(text, parse_constant=_not_a_json_number, parse_float=_finite)
    except RecursionError:
        raise ValueError("the body nests deeper than the emulator parses") from None
    if "\\ud" in text.lower():  # an escaped surrogate: fine in a pair, not alone
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the body holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
    return value


def _finite(text: str) -> float:
    """A JSON number as a float, refusing one that overflows (``1e999`` reads as infinity,
    which no JSON answer could carry back)."""
    value = float(text)
    if value - value != 0:
        raise ValueError(f"{text} overflows a double; send a finite number")
    return value


def _not_a_json_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value; send a finite number or null")

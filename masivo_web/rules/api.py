"""The Masivo HTTP contract (``docs/masivo-api.md``): requests built, answers read. No I/O.

The client sends what these functions build and hands the answers back to them, so every rule of
the contract (headers, body shapes, per-item results, error bodies) lives in one readable place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import MasivoAuthError, MasivoConfigError, MasivoError, MasivoServerKeyError
from ..runtime.host import gzip
from .http import Request, Response
from .retry import Outcome, is_retryable_status, parse_retry_after

DEFAULT_AUTH_URL = "https://api.masivo.ai/auth/authorize"
DEFAULT_API_BASE = "https://app.masivo.ai/api/storefront/v1"
BATCH_PATH = "/analytics/events"
SINGLE_PATH = "/behavior/events"
#: Sent with every authorize call so the server refuses SERVER keys (@masivo/core).
SDK_HEADER = ("x-masivo-sdk", "client")


def authorize_request(auth_url: str, api_key: str, timeout_s: float) -> Request:
    """The request that exchanges an API key for a bearer token."""
    return Request(
        "GET",
        auth_url,
        headers={"x-api-key": api_key, SDK_HEADER[0]: SDK_HEADER[1]},
        timeout_s=timeout_s,
    )


def read_authorize_response(response: Response, auth_url: str) -> str:
    """The token from an authorize answer, or the error that explains the refusal."""
    body = response.json()
    token = body.get("data") if isinstance(body, dict) else None
    if response.status == 200 and isinstance(token, str) and token:
        return token
    error, details = _error_fields(response)
    if response.status == 403:
        raise MasivoServerKeyError(
            "This is a SERVER API key: the browser SDK accepts CLIENT keys only, and a server key "
            "in a web page exposes your account. Revoke it in the Masivo dashboard and create a "
            "CLIENT key for create_client().",
            status=403,
            details=details,
        )
    if response.status in (404, 405):
        # Not Masivo's authorize route: no retry will find it there.
        raise MasivoConfigError(
            f"{auth_url} answered HTTP {response.status}: it is not Masivo's authorize route. "
            "Check create_client(auth_url=...) (or MASIVO_AUTH_URL); the default is "
            f"{DEFAULT_AUTH_URL}.",
            status=response.status,
            details=details,
        )
    if response.status in (400, 401):
        raise MasivoAuthError(
            f"Masivo refused the API key ({error}). Check that create_client() gets a valid CLIENT "
            "key from the Masivo dashboard.",
            status=response.status,
            details=details,
        )
    raise MasivoError(
        f"Authorization failed with HTTP {response.status} ({error}).",
        status=response.status,
        details=details,
    )


def batch_request(
    api_base: str, token: str, events_json: Sequence[str], timeout_s: float
) -> Request:
    """``POST {api_base}/analytics/events`` carrying already-serialised events."""
    body = ('{"events":[' + ",".join(events_json) + "]}").encode("utf-8")
    return _post(api_base + BATCH_PATH, token, body, timeout_s)


def single_request(api_base: str, token: str, event_json: str, timeout_s: float) -> Request:
    """``POST {api_base}/behavior/events`` with one event as the body."""
    return _post(api_base + SINGLE_PATH, token, event_json.encode("utf-8"), timeout_s)


def events_request(
    api_base: str,
    token: str,
    events_json: Sequence[str],
    timeout_s: float,
    *,
    single: bool,
    gzip: bool,
) -> Request:
    """The request for already-serialised events: one batch, or (``single``) the one event on
    the single-event route; gzipped when asked."""
    if single:
        request = single_request(api_base, token, events_json[0], timeout_s)
    else:
        request = batch_request(api_base, token, events_json, timeout_s)
    return gzipped(request) if gzip and request.body else request


def gzipped(request: Request) -> Request:
    """``request`` with its body gzipped and ``Content-Encoding: gzip``."""
    headers = dict(request.headers)
    headers["content-encoding"] = "gzip"
    return request.replace(body=gzip(request.body or b""), headers=headers)


def _post(url: str, token: str, body: bytes, timeout_s: float) -> Request:
    # Without keepalive: whether a request may outlive the page is the page's keepalive
    # budget's to say, when it starts (engine/wire.py).
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return Request("POST", url, headers=headers, body=body, timeout_s=timeout_s)


def read_events_response(
    response: Response, count: int, *, single: bool, now_epoch: float
) -> list[Outcome]:
    """One :class:`Outcome` per event sent, in order, from a batch or single-event answer.

    401 is not handled here: the client re-authorizes and retries once before calling this. A
    413 for more than one event splits the batch (each half goes on its own); for one event it
    is final (the event alone is too large).
    """
    if response.status == 413 and count > 1:
        return [Outcome("split", 413)] * count
    body = response.json()
    if 200 <= response.status < 300:
        if single and isinstance(body, dict):
            return [Outcome("delivered", response.status, body.get("data"))]
        items = body.get("data") if isinstance(body, dict) else None
        if isinstance(items, list) and len(items) == count:
            request_id = response.headers.get("x-request-id")
            return [_item_outcome(item, response.status, request_id) for item in items]
        # A 2xx we cannot read: the events may be stored; retried all the same (a copy may be
        # counted twice, which is better than losing them).
        error = MasivoError(
            f"Masivo answered HTTP {response.status} with a body the SDK cannot read.",
            status=response.status,
        )
        return [Outcome("retry", response.status, error=error)] * count
    error = api_error(response)
    if is_retryable_status(response.status):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now_epoch=now_epoch)
        return [Outcome("retry", response.status, error=error, retry_after_s=retry_after)] * count
    return [Outcome("rejected", response.status, error=error)] * count


def _item_outcome(item: Any, batch_status: int, request_id: str | None) -> Outcome:
    if not isinstance(item, dict) or not isinstance(item.get("status"), int):
        error = MasivoError("Masivo's answer for this event has no status.")
        return Outcome("retry", batch_status, error=error)
    status: int = item["status"]
    if 200 <= status < 300:
        return Outcome("delivered", status, item)
    reason = f"{item.get('error') or 'no reason given'}{_in_brackets(item.get('details'))}"
    error = MasivoError(
        f"Masivo rejected the event with {status}: {reason}.",
        status=status,
        details=item.get("details"),
        code=item.get("error"),
        request_id=request_id,
    )
    return Outcome("retry" if is_retryable_status(status) else "rejected", status, error=error)


def api_error(response: Response) -> MasivoError:
    """A :class:`MasivoError` for an error answer, JSON or not."""
    error, details = _error_fields(response)
    request_id = response.headers.get("x-request-id")
    hints = {
        403: " A CLIENT key cannot send this event type; send it from your backend.",
        413: " The request is too large; the SDK keeps batches under 500 KB.",
        422: " An event field is missing or ill-typed.",
    }
    return MasivoError(
        f"Masivo answered HTTP {response.status}: {error}{_in_brackets(details)}."
        f"{hints.get(response.status, '')}",
        status=response.status,
        details=details,
        code=error,
        request_id=request_id,
    )


def _in_brackets(details: Any) -> str:
    """The server's ``details``, to follow its ``error`` in a message: a page's console shows
    the message, not the error's attributes."""
    if details is None or details == "":
        return ""
    text = details if isinstance(details, str) else json.dumps(details)
    return f" ({text[:200]}{'…' if len(text) > 200 else ''})"


def _error_fields(response: Response) -> tuple[str, Any]:
    body = response.json()
    if isinstance(body, dict):
        return str(body.get("error") or "no reason given"), body.get("details")
    text = response.body[:200].decode("utf-8", "replace").strip()
    return "no reason given", text or None

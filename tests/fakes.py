"""Test doubles shared by the unit tests: a fake clock and a scripted Masivo."""

from __future__ import annotations

import asyncio
import base64
import gzip
import heapq
import inspect
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from masivo_web import MasivoClient, create_client
from masivo_web.browser.page import Page
from masivo_web.rules.http import Request, Response
from masivo_web.transports import MockTransport

START_EPOCH = 1_795_000_000.0
AUTH_URL = "https://auth.test/auth/authorize"
API_BASE = "https://api.test/api/storefront/v1"
#: A scripted answer: a response, or a function (plain or async) of the request.
Answer = Callable[[Request], Response | Awaitable[Response]] | Response


class FakeClock:
    """A clock that moves only when a test calls ``advance``; ``sleep`` waits for it.

    ``skew_s`` is how far the device's wall clock (``time()``) is from the true time
    (``true_time()``, the service's): set it, or change it mid-test, to model a wrong clock.
    """

    def __init__(self, start_epoch: float = START_EPOCH, *, skew_s: float = 0.0) -> None:
        self.now = 0.0
        self.start_epoch = start_epoch
        self.skew_s = skew_s
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.start_epoch + self.now + self.skew_s

    def true_time(self) -> float:
        """The right time (the service's clock)."""
        return self.start_epoch + self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    def next_wake(self) -> float | None:
        """When the earliest sleeper still waiting wakes (None: nobody sleeps)."""
        waiting = [deadline for deadline, _, future in self._sleepers if not future.done()]
        return min(waiting, default=None)

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order and letting tasks run."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
                await settle()
        self.now = target
        await settle()


async def settle(rounds: int = 50) -> None:
    """Let every ready task run until nothing is left to do without I/O or time passing (at
    most ``rounds`` loop turns): until no task can step and no callback waits, three turns in
    a row (Pyodide's WebLoop shows no queue of waiting callbacks, and its turns are slow)."""
    quiet = 0
    for _ in range(rounds):
        await asyncio.sleep(0)
        quiet = quiet + 1 if _nothing_ready() else 0
        if quiet == 3:
            return


#: Tasks running when the current test began (in Pyodide, the one running pytest itself, which
#: looks ready while the test runs): not the test's. Set by tests/conftest.py.
OUTSIDE_TASKS: set[asyncio.Task[Any]] = set()


def _nothing_ready() -> bool:
    """No task of the test but this one can take a step, and no callback is queued (where the
    loop says)."""
    loop = asyncio.get_running_loop()
    if getattr(loop, "_ready", None):  # CPython's loop: callbacks (and task steps) queued
        return False
    current = asyncio.current_task()
    for task in asyncio.all_tasks() - OUTSIDE_TASKS:
        if task is not current:
            waiter = getattr(task, "_fut_waiter", None)  # what the task awaits (None: ready)
            if waiter is None or waiter.done():
                return False
    return True


def make_token(exp: float | None, *, name: str = "t", iat: float | None = None) -> str:
    """An unsigned JWT-shaped token carrying ``exp`` (and ``iat`` when given)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims: dict[str, Any] = {"name": name}
    if exp is not None:
        claims["exp"] = exp
    if iat is not None:
        claims["iat"] = iat
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, headers or {}, json.dumps(body).encode())


class FakeMasivo:
    """A scripted Masivo for the mock transport: issues tokens, accepts batches, and answers
    with queued overrides first (``script(route, response)``). Its time is the clock's true
    time: tokens carry ``iat`` and ``exp`` by it (``with_iat=False``: ``exp`` only, as
    documented) and answers a ``Date`` header when ``send_date``."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        token_ttl_s: float = 3600.0,
        with_iat: bool = True,
        send_date: bool = False,
    ) -> None:
        self.clock = clock
        self.token_ttl_s = token_ttl_s
        self.with_iat = with_iat
        self.send_date = send_date
        self.tokens_issued: list[str] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.overrides: dict[str, list[Answer]] = {}
        self.transport = MockTransport(self.handle)
        self.authorize_delay: asyncio.Event | None = None

    def script(self, route: str, *answers: Answer) -> None:
        self.overrides.setdefault(route, []).extend(answers)

    @property
    def authorize_requests(self) -> list[Request]:
        return [r for r in self.transport.requests if r.url.endswith("/auth/authorize")]

    @property
    def event_requests(self) -> list[Request]:
        return [r for r in self.transport.requests if not r.url.endswith("/auth/authorize")]

    async def handle(self, request: Request) -> Response:
        response = await self._handle(request)
        if self.send_date:
            from email.utils import formatdate

            headers = dict(response.headers)
            headers["date"] = formatdate(self.clock.true_time(), usegmt=True)
            response = response.replace(headers=headers)
        return response

    async def _handle(self, request: Request) -> Response:
        route = "authorize" if request.url.endswith("/auth/authorize") else "events"
        if route == "authorize" and self.authorize_delay is not None:
            await self.authorize_delay.wait()
        pending = self.overrides.get(route)
        if pending:
            answer = pending.pop(0)
            if not callable(answer):
                return answer
            result = answer(request)
            return await result if inspect.isawaitable(result) else result
        if route == "authorize":
            now = self.clock.true_time()
            token = make_token(
                now + self.token_ttl_s,
                name=f"t{len(self.tokens_issued)}",
                iat=now if self.with_iat else None,
            )
            self.tokens_issued.append(token)
            return json_response(200, {"data": token})
        raw = request.body or b"{}"
        if request.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        if request.url.endswith("/behavior/events"):
            self.batches.append([body])
            return json_response(201, {"data": {"id": body["event_id"], "status": "PENDING"}})
        events = body["events"]
        self.batches.append(events)
        return json_response(
            200,
            {
                "data": [
                    {"index": i, "status": 201, "id": e["event_id"]} for i, e in enumerate(events)
                ]
            },
        )


def client_for(masivo: FakeMasivo, key: str = "client-key", **options: Any) -> MasivoClient:
    """A client of ``masivo`` (its transport and clock), with no jitter."""
    return create_client(
        key,
        auth_url=AUTH_URL,
        api_base=API_BASE,
        transport=masivo.transport,
        clock=masivo.clock,
        random=lambda: 0.0,
        **options,
    )


async def flush_while_time_passes(client: Any, clock: FakeClock, limit_s: float = 3600.0) -> None:
    """``await client.flush()`` while the fake clock ticks, so backoffs can elapse."""
    flushing = asyncio.get_running_loop().create_task(client.flush())
    deadline = clock.now + limit_s
    while not flushing.done() and clock.now < deadline:
        # Half a second at a time, or straight to the next wake-up when that is later: nothing
        # can happen in between (what is ready runs in each step), and each step costs loop
        # turns (many: Pyodide's WebLoop is slow at them).
        wake = clock.next_wake()
        step = 0.5 if wake is None else max(0.5, wake - clock.now)
        await clock.advance(min(step, deadline - clock.now))
    await flushing


# -- a fake browser page (for the page-only code paths under CPython) --------------------------


class FakeTarget:
    """Stands in for ``window`` or ``document``: listeners, and the fields the SDK reads."""

    def __init__(self) -> None:
        self.listeners: dict[str, list[Callable[[Any], None]]] = {}
        self.visibilityState = "visible"
        self.referrer = "https://search.test/?q=coffee"
        self.title = "Shop"
        self.location = FakeLocation()
        self.Intl = FakeIntl()

    def addEventListener(self, name: str, listener: Callable[[Any], None]) -> None:
        self.listeners.setdefault(name, []).append(listener)

    def removeEventListener(self, name: str, listener: Callable[[Any], None]) -> None:
        self.listeners[name].remove(listener)

    def fire(self, name: str, **fields: Any) -> None:
        """Dispatch event ``name`` (``fields``: its attributes, e.g. ``persisted=True``)."""
        event = type("Event", (), fields)()
        for listener in list(self.listeners.get(name, [])):
            listener(event)


class FakeLocation:
    href = "https://shop.test/cart?utm_source=newsletter&utm_campaign=winter"


class FakeIntl:
    class DateTimeFormat:
        @staticmethod
        def new() -> Any:
            options = type("Options", (), {"timeZone": "Europe/Madrid"})()
            return type("Format", (), {"resolvedOptions": lambda self: options})()


class FakeNavigator:
    onLine = True
    userAgent = "FakeBrowser/1.0"
    language = "es-ES"
    # no `locks`: the lease fallback


class FakeLocalStorage:
    """The Web Storage API over a dict, shared by the "tabs" of one site."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.full = False

    def getItem(self, key: str) -> str | None:
        return self.data.get(key)

    def setItem(self, key: str, value: str) -> None:
        if self.full:
            raise RuntimeError("QuotaExceededError")
        self.data[key] = value

    def removeItem(self, key: str) -> None:
        self.data.pop(key, None)

    @property
    def length(self) -> int:
        return len(self.data)

    def key(self, index: int) -> str | None:
        keys = list(self.data)
        return keys[index] if index < len(keys) else None


def fake_page(
    storage: FakeLocalStorage | None = None,
    create_proxy: Any = None,
    session: FakeLocalStorage | None = None,
) -> Page:
    """A page of a site whose ``localStorage`` is ``storage``; ``session`` is its tab's
    ``sessionStorage`` (pages of one tab share it)."""
    return Page(
        FakeTarget(),
        FakeTarget(),
        FakeNavigator(),
        storage,
        create_proxy or (lambda f: f),
        session,
    )

"""The flusher: *when* batches leave.

One task per client sleeps until the queue's next deadline (no threads, no ``call_later``), takes
what is due from the :class:`~masivo_web.engine.outbox.Outbox` and gives each batch a task that
walks its path (:class:`~masivo_web.engine.batch_path.BatchPath`). Every state change goes through
the outbox, which owns the events; the flusher owns only timing: online or not, hidden or not,
its own wake-up, and the page-hide flush."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..rules.config import Settings
from ..rules.events import PreparedEvent
from ..rules.http import Request, Response
from ..rules.policy import DeliveryPolicy
from ..rules.results import Delivery
from ..runtime.aio import Wakeup, cancel, spawn
from ..runtime.clock import Clock
from ..runtime.interpreter import IS_BROWSER
from ..runtime.scheduling import loop_running, next_turn, running_loop
from .auth import AuthManager
from .batch_path import BatchPath
from .event_store import StoredEvent
from .outbox import Outbox
from .persistence import Persistence
from .wire import Batch

logger = logging.getLogger("masivo_web")


class Flusher:
    """Sends a client's outbox: batches when due, everything at page hide, nothing offline."""

    def __init__(
        self,
        outbox: Outbox,
        auth: AuthManager,
        settings: Settings,
        policy: DeliveryPolicy,
        clock: Clock,
        log: logging.Logger = logger,
    ) -> None:
        """``log``: where this client's debug lines go (``masivo_web.debug`` with
        ``debug=True``)."""
        self._log = log
        self._outbox = outbox
        self._auth = auth
        self._settings = settings
        self._policy = policy
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._loop: object = None  # the loop the task runs on: a new asyncio.run needs another
        self._wakeup: Wakeup | None = None
        self._wake_posted = False  # a wake-up is posted for the next turn
        self._online = True
        self._page_hidden = False  # a hidden page sends each event at once
        self._batch_tasks: set[asyncio.Task[None]] = set()
        self._maintenance: asyncio.Task[None] | None = None
        self._closed = False
        self._path = BatchPath(
            outbox,
            auth,
            settings,
            clock,
            hidden=lambda: self._page_hidden,
            started=self.wake,
            log=log,
        )

    # -- the tracking call's share (once per event: kept to what must happen now) ----------

    def enqueue(self, event: PreparedEvent) -> Delivery:
        """Queue ``event`` in the outbox and return its delivery."""
        outbox = self._outbox
        delivery = Delivery(event.event_id, outbox.report, self.expedite)
        size = outbox.add(event, delivery)
        if self._page_hidden:
            # A hidden page may be frozen or discarded with no further event: what it queues
            # goes out at once rather than at the idle timer.
            outbox.queue.request_flush()
            self._wake_soon()
        # The flusher needs waking only when the deadline moves earlier: the queue was empty
        # (it sleeps with no deadline) or the count trigger fired. Later deadlines it finds.
        elif size == 1 or size >= self._settings.batch_size:
            self._wake_soon()
            if size == 1 and self._auth.cached_token is None:
                # Authorize now rather than at the first batch: a page-hide flush can only
                # use a token that is already cached (a bounce would lose its events).
                self._auth.warm()
        return delivery

    def _wake_soon(self) -> None:
        """Wake the flusher on the next turn, starting it if needed: waking at once would
        schedule through the loop, which in a page costs more than the rest of the call."""
        if not self._wake_posted:
            self._wake_posted = True
            next_turn(self.wake)

    def wake(self) -> None:
        """Wake the flusher now (a batch ended: room for another, or retries to schedule)."""
        self._wake_posted = False
        if not self._closed and loop_running():  # else the next event or flush starts it
            self.ensure_running().set()

    # -- triggers ------------------------------------------------------------------------

    def expedite(self) -> None:
        """Someone awaits an event: send what is queued now instead of at the next timer."""
        self._outbox.queue.request_flush()
        self.wake()

    async def flush(self) -> None:
        """Send everything queued now; return once each event was answered or finally failed."""
        pending = self._outbox.unsettled()
        if self._closed or not pending:
            return
        self.expedite()
        for delivery in pending:
            await delivery.settled()

    def set_online(self, online: bool) -> None:
        """Follow ``navigator.onLine``: no sends while offline; resume shortly after coming
        back (at once fails with ERR_NETWORK_CHANGED)."""
        self._online = online
        queue = self._outbox.queue
        if online and len(queue) and not self._closed:
            queue.request_flush()
            queue.hold_until(self._clock.monotonic() + self._policy.resume_delay_s)
            self.wake()

    def page_hidden(self) -> None:
        """The page is hidden or left: put queued events on the wire *now*.

        Runs synchronously inside the ``pagehide``/``visibilitychange`` listener: the page may
        be gone before any ``await`` resumes. Requests start with the cached token and
        ``keepalive``, within the page's budget; without a cached token (an authorize round
        trip cannot finish in an unloading page) or budget, the events stay queued and stored,
        for the normal flush if the page lives on (a hidden tab), or for the next page.
        """
        self._page_hidden = True
        outbox = self._outbox
        if self._closed:
            return
        if outbox.persistence is not None:
            outbox.persistence.write()  # stored first: the requests may never be answered
        if not self._online:
            return  # offline: nothing could get out
        token = self._auth.cached_token
        if token is not None:
            started = outbox.start_for_page_hide(token)
            for batch in started:
                self._walk(batch)
            if started:
                self._log.debug("masivo_web: page hidden: %d request(s) started", len(started))
        elif len(outbox):
            self._log.debug("masivo_web: page hidden before a token came: the events stay stored")
        outbox.hand_off()  # what is on its way is not the next page's to send again
        if len(outbox):
            outbox.queue.request_flush()
            self.wake()

    def hide_plan(self) -> list[tuple[Request, list[str], str]]:
        """What :meth:`page_hidden` would start now, as (request, event ids, token), for a
        worker's page to start in its own page-hide listener (:mod:`masivo_web.browser.worker`)."""
        token = self._auth.cached_token
        if self._closed or token is None:
            return []
        return [(request, ids, token) for request, ids in self._outbox.hide_plan(token)]

    def hand_off_writes(self, event_ids: list[str]) -> dict[str, str | None] | None:
        """The storage writes the worker's page applies if it starts the requests of
        ``event_ids`` (from :meth:`hide_plan`): their stored copies go. None: they stay."""
        return None if self._closed else self._outbox.hand_off_writes(event_ids)

    def started_elsewhere(
        self,
        event_ids: list[str],
        token: str,
        answer: Callable[[], Awaitable[Response]],
        *,
        handed_off: bool = False,
    ) -> bool:
        """The page started the request of ``event_ids`` (from :meth:`hide_plan`), and applied
        :meth:`hand_off_writes` if ``handed_off``: they are sent, and ``answer()`` settles
        them. False when they are not all queued any more."""
        if self._closed:
            return False
        batch = self._outbox.take_started(event_ids, token, answer, handed_off=handed_off)
        if batch is None:
            return False
        self._walk(batch)
        return True

    def page_shown(self) -> None:
        """The page is visible again: events wait for the usual triggers again."""
        self._page_hidden = False

    def page_left(self) -> None:
        """``pagehide``: after :meth:`page_hidden`, the page declares itself gone."""
        if self._outbox.persistence is not None and not self._closed:
            self._outbox.persistence.left()

    def page_restored(self) -> None:
        """Back from the back-forward cache: alive again, without what another tab took."""
        if self._outbox.persistence is not None and not self._closed:
            spawn(self._restore(self._outbox.persistence))

    async def _restore(self, persistence: Persistence) -> None:
        taken = await persistence.restored()
        if taken and self._outbox.let_go(taken):
            self._log.info("masivo_web: %d event(s) are another tab's to send now", len(taken))
        self.wake()

    # -- the flusher task ----------------------------------------------------------------

    def ensure_running(self) -> Wakeup:
        """The flusher's wake-up, starting the task on the current loop if it is not running."""
        loop = running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._wakeup = Wakeup(self._clock)
            self._loop = loop
            self._task = spawn(self._run(self._wakeup))
        assert self._wakeup is not None
        return self._wakeup

    async def _run(self, wakeup: Wakeup) -> None:
        try:
            await self._follow_the_queue(wakeup)
        except asyncio.CancelledError:
            # Cancelled by destroy() (closed), or by the end of the event loop: asyncio.run and
            # servers (uvicorn) cancel every task and run the loop until they finish, so there
            # is still time to send what a client nobody closed holds. (Not in a page: its loop
            # never ends; the page-hide flush is its last chance.)
            if not self._closed and not IS_BROWSER and self._outbox.unsettled():
                from .last_chance import last_chance  # CPython only: not at a page's import

                await last_chance(self._outbox, self._path, self._clock, lambda: self._closed)
            raise

    async def _follow_the_queue(self, wakeup: Wakeup) -> None:
        outbox = self._outbox
        while True:
            now = self._clock.monotonic()
            outbox.drop_expired(now)
            if not self._online or outbox.batches >= self._policy.max_in_flight:
                await wakeup.sleep(None)  # coming online, or a batch ending, wakes it
                continue
            # A page may be gone at any moment: a request without keepalive dies with it,
            # perhaps after arriving, its events still stored for the next page to send again
            # (counted twice), or before, and nothing says which. So in a page a batch takes
            # what fits the keepalive room, and while this client's requests hold the room it
            # waits for one to end rather than send without (no page: no room to wait for).
            batches = outbox.take(now, keepalive_only=True)
            if not batches and not outbox.batches:
                batches = outbox.take(now)  # larger than all the room: without keepalive
            if batches:
                self._walk(*batches)
                continue
            due = outbox.queue.next_due(now)
            if outbox.batches and due is not None and due <= now:
                await wakeup.sleep(None)  # a batch's end frees room and wakes it
                continue
            await wakeup.sleep(None if due is None else due - now)

    def _walk(self, *batches: Batch) -> None:
        # Each batch its own task, so a slow answer does not hold up the next batch; on the
        # single-event route the requests of one take go one after another.
        task = spawn(self._send_in_turn(list(batches)))
        self._batch_tasks.add(task)

    async def _send_in_turn(self, batches: list[Batch]) -> None:
        try:
            for batch in batches:
                await self._path.walk(batch)
        finally:
            self._batch_tasks = {task for task in self._batch_tasks if not task.done()}

    def start_recovery(self, persistence: Persistence) -> None:
        """Begin adopting the unsent events of closed tabs (a page only)."""
        if self._maintenance is None:
            self._maintenance = spawn(persistence.maintain(self._adopt))

    def _adopt(self, stored: list[StoredEvent]) -> None:
        logger.info("masivo_web: sending %d event(s) left unsent by an earlier page", len(stored))
        self._outbox.adopt(stored)
        self.wake()

    def close(self) -> None:
        """Stop the flusher and every batch task (the outbox fails their events)."""
        self._closed = True
        cancel(self._task)
        cancel(self._maintenance)
        for task in self._batch_tasks:
            cancel(task)
        self._batch_tasks.clear()

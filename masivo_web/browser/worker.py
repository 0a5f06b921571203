"""A PyScript worker's link to its page: the :class:`~masivo_web.browser.page.Page` of Python that
runs in a worker (``<script type="py" worker>``, ``type="mpy" worker``).

A worker has no ``window`` and no ``localStorage``, and what it registers on the main thread runs in
the worker, too late at ``pagehide``. So the link installs a small module on the main thread
(:mod:`masivo_web.browser.main_thread`, through PyScript's ``xworker.sync.importJS``, which works
with or without SharedArrayBuffer) and talks to it over a ``BroadcastChannel``:

- **storage**: reads come from a copy of the page's ``masivo_web:`` keys, sent by the module
  when it starts and kept current (other tabs' changes arrive as ``storage`` messages); writes
  update the copy and go to the page at the end of the task (:meth:`PageLink.soon`);
- **page hide**: at the end of each task in which anything changed, the link also sends each
  client's *plan* (:meth:`~masivo_web.engine.flusher.Flusher.hide_plan`): the requests the page-hide
  flush would start now. The module starts them with ``keepalive`` in its own ``pagehide`` listener,
  and says so; the link hands those events to their client as sent
  (:meth:`~masivo_web.engine.flusher.Flusher.started_elsewhere`) and settles them from the answers
  the module forwards, while the worker lives (a hidden tab);
- **the page**: ``window``, ``document`` and ``navigator`` are stand-ins holding what the SDK
  reads (URL, title, referrer, visibility, connectivity), updated by the module's messages, and
  dispatching its page events (``pagehide``, ``visibilitychange``, ``online``...) to the
  listeners :class:`~masivo_web.browser.lifecycle.PageLifecycle` registers, unchanged.

Until the module's first message (a few milliseconds after the first client), the page's storage
is unknown: clients queue events as usual but neither send nor store them, and what depends on
storage waits (:meth:`PageLink.when_ready`): the visitor's identity and consent, the tab's token,
the adoption of closed pages' events. Outside PyScript (a bare worker) there is no page:
:func:`connect_page` returns None and the factory says once what will not survive.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..rules.ids import new_id
from ..runtime.host import ordered_dict
from ..runtime.scheduling import end_of_task, report_exception, run_each
from .hide_plans import HidePlans, Planner
from .main_thread import FILE_NAME, SOURCE, module_directory
from .stand_ins import RelayStorage, WorkerDocument, WorkerNavigator, WorkerWindow

logger = logging.getLogger("masivo_web")

#: The name PyScript registers the page module under (``polyscript.js_modules``).
MODULE_NAME = "masivo_web_page"


class PageLink:
    """The worker's side of the page module: storage, page state, plans and their answers."""

    def __init__(
        self,
        js: Any,
        xworker: Any,
        create_proxy: Callable[..., Any],
        *,
        at_task_end: Callable[[Callable[[], object]], None] = end_of_task,
    ) -> None:
        """``js``: the worker's global scope; ``xworker``: PyScript's link to the page;
        ``at_task_end``: runs a callback before the current JS task ends (tests run it)."""
        self.ready = False
        self._at_task_end = at_task_end
        self._js = js
        self.local = RelayStorage(self.write, "local")
        self.session = RelayStorage(self.write, "session")
        self.window = WorkerWindow(js, str(getattr(js.location, "origin", "")) + "/")
        self.document = WorkerDocument()
        self.navigator = WorkerNavigator(js.navigator)
        self._writes: dict[str, dict[str, str | None]] = {
            "local": ordered_dict(),
            "session": ordered_dict(),
        }
        self._waiting: list[Callable[[], object]] = []  # when_ready callbacks
        self._soon: list[Callable[[], object]] = []
        self._task_end_posted = False
        self._changed = False
        self._plans = HidePlans()
        #: The page could not load the module (a CSP without data: scripts): no page to link
        #: to, so this worker's clients work alone (memory storage, their own sends).
        self.alone = False
        name = f"masivo_web:link:{new_id()}"
        self._channel = js.BroadcastChannel.new(name)
        self._channel.onmessage = create_proxy(self._received)
        self._xworker = xworker
        self._create_proxy = create_proxy
        self._on_failure: Any = None
        # The module file beside the page wheel first (a CSP with script-src 'self' allows
        # it), then the same module as a data: URL (a page without the file), then alone.
        channel = str(js.encodeURIComponent(name))
        source = SOURCE.replace("__CHANNEL__", json.dumps(name))
        self._urls = [
            f"{module_directory()}{FILE_NAME}?channel={channel}",
            "data:text/javascript;charset=utf-8," + str(js.encodeURIComponent(source)),
        ]
        self._install(None)

    def _install(self, error: Any) -> None:
        """Import the next way of the page module; when none is left, work alone."""
        while self._urls and not self.ready:
            url = self._urls.pop(0)
            try:
                installed = self._xworker.sync.importJS(url, MODULE_NAME)
            except Exception as exc:  # with SharedArrayBuffer the call is synchronous
                error = exc
                continue
            catch = getattr(installed, "catch", None)  # a promise without SharedArrayBuffer
            if catch is not None:
                if self._on_failure is None:
                    self._on_failure = self._create_proxy(self._install)
                catch(self._on_failure)
            return
        self._install_failed(error)

    # -- what the page asks of the link -------------------------------------------------------

    def storage(self, area: str) -> RelayStorage:
        return self.local if area == "local" else self.session

    def when_ready(self, callback: Callable[[], object]) -> None:
        if self.ready:
            callback()
        else:
            self._waiting.append(callback)

    def soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` at the end of this task (after the page answered, if it has not)."""
        self._soon.append(callback)
        self._post_task_end()

    def write(self, area: str, key: str, value: str | None) -> None:
        if not self.alone:
            self._writes[area][key] = value
            self.changed()

    def changed(self) -> None:
        """Something the page must know changed: tell it at the end of this task."""
        if not self.alone:
            self._changed = True
            self._post_task_end()

    def add_planner(self, planner: Planner) -> None:
        """Send ``planner``'s page-hide plan with every update (a client's flusher)."""
        self._plans.add(planner)
        self.changed()

    def remove_planner(self, planner: Planner) -> None:
        if self._plans.remove(planner):
            self.changed()

    # -- end of task: what changed goes to the page -----------------------------------------

    def _post_task_end(self) -> None:
        if not self._task_end_posted:
            self._task_end_posted = True
            self._at_task_end(self._task_ends)

    def _task_ends(self) -> None:
        self._task_end_posted = False
        if not self.ready:
            return  # when_ready's turn comes first
        while self._soon:
            callbacks, self._soon = self._soon, []
            run_each(callbacks)
        if self._changed:
            self._changed = False
            self._sync()

    def _sync(self) -> None:
        writes = self._writes
        message: dict[str, Any] = {"t": "sync", "local": writes["local"]}
        if writes["session"]:
            message["session"] = writes["session"]
        self._writes = {"local": ordered_dict(), "session": ordered_dict()}
        message["plan"] = self._plans.next()
        self._channel.postMessage(json.dumps(message))

    # -- what the page says -------------------------------------------------------------------

    def _received(self, event: Any) -> None:
        try:
            message = json.loads(str(event.data))
            kind = message.get("t")
            if kind == "hello":
                self._hello(message)
            elif kind == "state":
                persisted = bool(message.get("persisted"))
                self._state(message["page"], str(message.get("event", "")), persisted)
            elif kind == "fired":
                started = [int(i) for i in message["started"]]
                self._plans.fired(int(message["plan"]), started, bool(message.get("handed")))
                self.changed()  # those events are no longer in the plan
            elif kind == "answer":
                self._plans.answer(message)
            elif kind == "storage":
                key, value = str(message["key"]), message.get("value")
                if value is None:
                    self.local.items.pop(key, None)
                else:
                    self.local.items[key] = str(value)
        except Exception as exc:  # a broken message must not break the worker
            report_exception(exc, "masivo_web: a message from the page could not be read")

    def _hello(self, message: dict[str, Any]) -> None:
        if self.ready:
            return
        for area in ("local", "session"):
            storage = self.storage(area)
            early = dict(storage.items)  # written here before the page answered: newer
            storage.items = {str(k): str(v) for k, v in message.get(area, {}).items()}
            storage.items.update(early)
        self._state(message["page"], "")
        self.ready = True
        waiting, self._waiting = self._waiting, []
        run_each(waiting)
        self.changed()
        self._task_ends()
        # What the page was in before anyone listened: the listeners hear it now.
        self.window.dispatch("online" if self.navigator.onLine else "offline")
        if self.document.visibilityState == "hidden":
            self.document.dispatch("visibilitychange")

    def _state(self, page: dict[str, Any], event: str, persisted: bool = False) -> None:
        self.window.location.href = str(page["href"])
        self.document.title = str(page["title"])
        self.document.referrer = str(page["referrer"])
        self.document.visibilityState = str(page["visibility"])
        self.navigator.onLine = bool(page["online"])
        if event in ("pagehide", "pageshow", "online", "offline"):
            self.window.dispatch(event, persisted)
        elif event == "visibilitychange":
            self.document.dispatch(event)

    def _install_failed(self, error: Any) -> None:
        """No module in the page: work alone, as a plain client, rather than wait for a page
        that will never answer (nothing would ever be sent)."""
        if self.ready or self.alone:
            return
        self.alone = True
        # One short line: the error's text holds the whole data: URL (kilobytes).
        reason = str(getattr(error, "name", "") or type(error).__name__)
        logger.warning(
            "masivo_web: the page could not load the SDK's main-thread module (%s; %s not "
            "served beside the wheel, and a Content-Security-Policy without data: scripts?): "
            "this worker sends on its own, and events still queued when the page is left are "
            "lost.",
            reason,
            FILE_NAME,
        )
        self._writes = {"local": ordered_dict(), "session": ordered_dict()}
        self._hello({"local": {}, "session": {}, "page": self._own_page()})

    def _own_page(self) -> dict[str, Any]:
        """The page state a worker can see by itself (its URL is the worker script's)."""
        return {
            "href": str(getattr(self._js.location, "href", "")),
            "title": "",
            "referrer": "",
            "visibility": "visible",
            "online": bool(getattr(self._js.navigator, "onLine", True)),
        }

"""What a client is made of (:class:`ClientParts`, built and wired by ``create_client``), and
what ``create_client`` builds for a page, apart from the rest of the composition root: the
page it runs in (a worker outside PyScript says once that it has none), the page's storage and
the write-ahead persistence in it, the site's visitor shared by the page's clients, the tab's
kept token, and what a page's client starts once the page's storage can be read; and the checks
of ``create_client``'s other keywords (unknown ones, and the parts' types)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._record import Record
from .browser.context import EventContext, page_fields
from .browser.current import current_page
from .browser.lifecycle import PageLifecycle
from .browser.liveness import liveness_for
from .browser.page import Page
from .engine.auth import AuthManager
from .engine.event_store import EventStore, namespace_for
from .engine.flusher import Flusher
from .engine.identity import Identity
from .engine.outbox import Outbox
from .engine.persistence import Persistence
from .engine.token_registry import TokenRegistry
from .errors import MasivoConfigError, MasivoError
from .rules.config import OPTION_NAMES, Settings
from .rules.policy import DeliveryPolicy
from .rules.ports import Storage
from .rules.token_state import TabToken
from .runtime.clock import Clock
from .runtime.interpreter import in_worker
from .runtime.scheduling import loop_running, next_turn

if TYPE_CHECKING:
    from .browser.first_events import FirstEvents

logger = logging.getLogger("masivo_web")

#: ``before_send(event) -> event | None``: change an event, or return None to drop it.
BeforeSend = Callable[[dict[str, Any]], dict[str, Any] | None]
#: ``on_error(error, event_id)``: a failure nobody awaited.
OnError = Callable[[MasivoError, str], None]


class ClientParts(Record):
    """What a client is made of, built and wired by ``create_client`` (the composition root):
    the page, visitor, context, token manager, outbox, flusher and page lifecycle; a worker's
    ``first_events`` (until its page answers); and ``unwire``, which undoes the subscriptions
    the root made for this client (called when it is destroyed)."""

    __slots__ = (
        "auth",
        "before_send",
        "context",
        "first_events",
        "flusher",
        "identity",
        "lifecycle",
        "outbox",
        "page",
        "token_registry",
        "unwire",
    )

    def __init__(
        self,
        *,
        page: Page | None,
        identity: Identity,
        context: EventContext,
        auth: AuthManager,
        token_registry: TokenRegistry,
        outbox: Outbox,
        flusher: Flusher,
        lifecycle: PageLifecycle,
        before_send: BeforeSend | None,
        first_events: FirstEvents | None = None,
        unwire: Callable[[], None] = lambda: None,
    ) -> None:
        self.page = page
        self.identity = identity
        self.context = context
        self.auth = auth
        self.token_registry = token_registry
        self.outbox = outbox
        self.flusher = flusher
        self.lifecycle = lifecycle
        self.before_send = before_send
        self.first_events = first_events
        self.unwire = unwire


def start_in_page(
    page: Page, flusher: Flusher, manager: AuthManager, persistence: Persistence | None
) -> None:
    """What a page's client starts once the page's storage can be read."""
    manager.reload_cache()  # the token an earlier page of the tab kept
    if persistence is not None:
        # In a page the loop is always there: begin adopting closed tabs' unsent events.
        flusher.start_recovery(persistence)
    if loop_running():
        # A token before the first event: the page-hide flush can only send with a token it
        # already has, and a visitor may leave within a second (a bounce).
        next_turn(manager.warm)


def visitor(
    page: Page | None, storage: Storage | None, namespace: str, *, shared: bool
) -> Identity:
    """The site's visitor: one per page, shared by its clients (consent and identity belong
    to the site, not to a key), moving this key's records of an earlier version to the site."""
    if page is None or not shared:
        return Identity(storage, namespace)
    visitor = page.shared.get("visitor")
    if isinstance(visitor, Identity):
        visitor.migrate(namespace)
        return visitor
    readable = page.link is None or page.link.ready
    visitor = page.shared["visitor"] = Identity(storage, namespace, readable=readable)
    if not readable:
        page.when_ready(lambda: visitor.load(namespace))
    return visitor


_worker_warned = False


def detected_page() -> Page | None:
    """The page this runs in (in a PyScript worker, its linked page); a worker outside
    PyScript has none to reach, and that is said once."""
    global _worker_warned
    page = current_page()
    if page is None and not _worker_warned and in_worker():
        _worker_warned = True
        logger.warning(
            "masivo_web runs in a Web Worker outside PyScript, so it cannot reach the page: "
            "events still queued when the page is left are lost, the queue is not kept in "
            "localStorage, and the visitor's id and opt-out are not kept across page loads. "
            'Run it in PyScript (<script type="py" worker> or "mpy" worker), which lets it '
            "install its main-thread part, or on the main thread."
        )
    return page


def tab_token(page: Page | None, settings: Settings) -> TabToken | None:
    """Where a page keeps its token for the later pages of its tab (``sessionStorage``)."""
    storage = page.storage("session") if page is not None else None
    if storage is None:
        return None
    name = f"masivo_web:token:{namespace_for(settings.api_key, settings.auth_url)}"
    return TabToken(storage, name)


def page_storage(page: Page | None) -> Storage | None:
    """The page's localStorage (falling back to memory if it fails), or None under CPython and
    where the browser's storage is disabled (said once, in the log)."""
    if page is None:
        return None
    storage = page.storage("local")
    if storage is None:
        logger.warning(
            "masivo_web: browser storage is disabled; queued events are kept in memory only, "
            "and a closed tab may lose them."
        )
    return storage  # type: ignore[no-any-return]


def persistence_for(
    page: Page | None,
    storage: Storage | None,
    namespace: str,
    owner: str,
    clock: Clock,
    bounds: tuple[int, int],
) -> Persistence | None:
    """Write-ahead persistence in ``storage`` (None: the queue lives in memory only), keeping
    at most ``bounds`` (events, bytes) stored."""
    if page is None or storage is None:
        return None
    liveness = liveness_for(page, storage, namespace, clock)
    store = EventStore(storage, namespace, owner, schedule=page.soon, bounds=bounds)
    return Persistence(store, liveness, clock)


def worker_first_events(
    page: Page, identity: Identity, context: EventContext, outbox: Outbox, settings: Settings
) -> FirstEvents:
    """A worker's first events, completed when its page answers (before any is stored or
    sent): the site's visitor, the page's fields and context."""
    from .browser import first_events  # a worker's page only

    first = first_events.FirstEvents()

    def complete() -> None:
        first.complete(
            still_queued=lambda event_id: outbox.where(event_id) is not None,
            revise=outbox.revise,
            anonymous_id=identity.anonymous_id,
            customer_id=identity.customer_id,
            page_now=lambda: page_fields(page, query_strings=settings.query_strings),
            context=context.fresh,
        )

    page.when_ready(complete)
    return first


#: Every keyword of ``create_client`` besides its settings: hooks, switches and parts.
PART_NAMES = (
    "on_error",
    "before_send",
    "debug",
    "policy",
    "transport",
    "clock",
    "random",
    "page",
    "storage",
    "tokens",
)
#: The methods a part must have, by keyword.
_METHODS = {
    "transport": ("send",),
    "clock": ("time", "monotonic", "sleep"),
    "storage": ("get", "set", "remove", "keys"),
}


def unknown_options(names: list[str]) -> MasivoConfigError:
    """The error for keywords ``create_client`` does not take: the nearest known name, or
    the list of them."""
    known = list(OPTION_NAMES) + list(PART_NAMES)
    name = sorted(names)[0]
    try:
        from difflib import get_close_matches  # not in MicroPython
    except ImportError:
        nearest: list[str] = []
    else:
        nearest = get_close_matches(name, known, n=1)
    if nearest:
        return MasivoConfigError(f"Unknown option {name!r}: did you mean {nearest[0]}?")
    return MasivoConfigError(f"Unknown option {name!r}; the options are: {', '.join(known)}.")


def check_parts(**given: Any) -> None:
    """Check the hooks, switches and parts given to ``create_client`` (None: the default),
    so a wrong one fails at once, saying what to pass, not later inside a send."""
    for name, methods in _METHODS.items():
        part = given.get(name)
        if part is not None and not all(callable(getattr(part, m, None)) for m in methods):
            listed = (
                ", ".join(methods[:-1]) + " and " + methods[-1] if len(methods) > 1 else methods[0]
            )
            raise MasivoConfigError(
                f"{name} must have {listed} (see masivo_web.seams); got {type(part).__name__}."
            )
    for name in ("on_error", "before_send", "random"):
        if given.get(name) is not None and not callable(given[name]):
            raise MasivoConfigError(f"{name} must be a function or None.")
    for name, kind in (("policy", DeliveryPolicy), ("tokens", TokenRegistry), ("page", Page)):
        part = given.get(name)
        if part is not None and not isinstance(part, kind):
            raise MasivoConfigError(
                f"{name} must be a {kind.__name__} (or None for the default); got "
                f"{type(part).__name__}."
            )
    if type(given.get("debug")) is not bool:
        raise MasivoConfigError(f"debug must be True or False; got {given.get('debug')!r}.")


def page_lifecycle(flusher: Flusher) -> PageLifecycle:
    """The page's lifecycle, each event to the flusher: hidden or left (a flush), shown again,
    online or offline, left (maybe for the back-forward cache), restored from that cache."""
    return PageLifecycle(
        flusher.page_hidden,
        flusher.set_online,
        flusher.page_shown,
        on_leave=flusher.page_left,
        on_restore=flusher.page_restored,
    )

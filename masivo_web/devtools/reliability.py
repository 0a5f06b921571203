"""``python -m masivo_web reliability``: the proof that nothing is lost and nothing doubled.

Drives the real emulator with seeded random faults (:class:`~masivo_web.emulator.store.Chaos`)
per fault class and counts, per class: events sent, stored once, stored twice, events reported
failed, and lost (sent but never stored). The emulator stores every copy it receives, as the
documented service does (no de-duplication): an event is stored twice only when the answer to
a request that did arrive was lost (the connection dropped after storing, or an answer slower
than the client waits), the one case in which the SDK cannot know and re-sends; the proof
checks that no other case does, and that those stay within the requests that lost an answer.
Under CPython the SDK sends ``--events`` events per class through the loopback; in Chromium
(``--navigations``) a Pyodide page queues events, starts a flush and is reloaded or navigated
away at a random moment, again and again, and the next page must send what the last one left.
A failing seed is printed, to be replayed with ``--seed``.

Timings are compressed so a run takes seconds: backoff starts at 20 ms and is capped at 200 ms
(the schedule itself is unit-tested), the client times out after 0.5 s and "slow" answers take
1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from .. import DeliveryPolicy, create_client
from ..emulator.server import EmulatorServer
from .departures import client_code
from .tally import Tally, report, tally

#: Fault classes and the chaos kinds each injects into the batch route.
FAULT_CLASSES: dict[str, tuple[str, ...]] = {
    "5xx": ("500", "502", "503", "504"),
    "429 + Retry-After": ("429",),
    "dropped connection": ("drop", "drop_after"),
    "slower than timeout": ("slow", "slow_after"),
    "token expiry mid-batch": ("revoke",),
    "401": ("401",),
}
# Every fault above, mixed in one run.
FAULT_CLASSES["all of the above"] = tuple(
    dict.fromkeys(kind for kinds in FAULT_CLASSES.values() for kind in kinds)
)
#: Share of requests that suffer a fault.
FAULT_PROBABILITY = 0.3


#: Millisecond backoff for the run (the schedule itself is unit-tested).
COMPRESSED_BACKOFF = DeliveryPolicy(backoff_base_s=0.02, backoff_cap_s=0.2, authorize_floor_s=0.05)


async def _send_through_chaos(
    emulator: EmulatorServer, events: int, seed: int
) -> tuple[list[str], int]:
    # The faults are the point here: the SDK's warnings about them would only bury the table.
    logger = logging.getLogger("masivo_web")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return await _send(emulator, events, seed)
    finally:
        logger.setLevel(level)


async def _send(emulator: EmulatorServer, events: int, seed: int) -> tuple[list[str], int]:
    masivo = create_client(
        emulator.client_key,
        auth_url=emulator.auth_url,
        api_base=emulator.api_base,
        timeout_s=0.5,
        batch_size=25,  # more requests per class, so more of them meet a fault
        random=random.Random(seed).random,
        policy=COMPRESSED_BACKOFF,
    )
    deliveries = []
    for index in range(events):
        deliveries.append(
            masivo.send_analytics_event(
                type="ADD_TO_CART",
                customer_id=f"customer-{index % 97}",
                brand_id=None,
                product={"sku": f"SKU-{index % 13}", "amount": 1, "value": 9.99},
            )
        )
        if index % 50 == 49:
            await asyncio.sleep(0)  # let the flusher run between bursts, as a page would
    await masivo.flush()
    results = await asyncio.gather(*deliveries, return_exceptions=True)
    masivo.destroy()
    failed = sum(1 for result in results if isinstance(result, BaseException))
    return [delivery.event_id for delivery in deliveries], failed


def run_cpython(events_per_class: int, seed: int, classes: list[str] | None = None) -> list[Tally]:
    """Every fault class under CPython, each with ``events_per_class`` events."""
    rows = []
    with EmulatorServer() as emulator:
        for offset, (name, kinds) in enumerate(FAULT_CLASSES.items()):
            if classes and name not in classes:
                continue
            emulator.control.reset()
            class_seed = seed + offset
            # The batch route only: a 401 from authorize means "unknown key" and is final.
            emulator.control.set_chaos(
                "analytics", probability=FAULT_PROBABILITY, kinds=list(kinds), seed=class_seed
            )
            started = time.monotonic()
            sent, failed = asyncio.run(_send_through_chaos(emulator, events_per_class, class_seed))
            rows.append(tally(name, sent, emulator, failed, time.monotonic() - started))
    return rows


def run_chromium(
    navigations: int,
    seed: int,
    events_per_page: int = 20,
    browser: Any = None,
    *,
    deduplicating: bool = False,
) -> Tally:
    """Queue events in a Pyodide page, start a flush, then reload or navigate away at a random
    moment, ``navigations`` times, under chaos; a last page sends what is left. ``browser`` is an
    already launched Playwright browser (a test's); by default one is launched here.

    By default the SDK's policy and the emulator are Masivo's (no de-duplication): a page
    hands its events to keepalive requests while the service answers normally, so a fault on
    that very request after the page is gone loses them, and one left after a failure keeps
    them for the next page (a copy if they had arrived). ``deduplicating``: a service that
    stores an ``event_id`` once, and the policy for it (nothing handed off): nothing lost."""
    if browser is not None:
        return _run_pages(browser, navigations, seed, events_per_page, deduplicating)
    from playwright.sync_api import sync_playwright

    from . import browser_settings

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(**browser_settings.load().launch_options())
        try:
            return _run_pages(launched, navigations, seed, events_per_page, deduplicating)
        finally:
            launched.close()


def _run_pages(
    browser: Any, navigations: int, seed: int, events_per_page: int, deduplicating: bool
) -> Tally:
    from ..emulator.static import StaticServer
    from . import browser_settings
    from .demo import STATIC

    settings = browser_settings.load()
    rng = random.Random(seed)
    sent: list[str] = []
    with EmulatorServer() as emulator, StaticServer(STATIC) as pages:
        emulator.control.set_chaos(
            "analytics",
            probability=FAULT_PROBABILITY,
            kinds=list(FAULT_CLASSES["all of the above"]),
            seed=seed,
            slow_s=0.3,
        )
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(settings.ACTION_TIMEOUT_MS)
        harness = f"{pages.url}/test/harness.html"
        options = "timeout_s=0.5"
        if deduplicating:
            emulator.control.update_settings(dedupe=True)
            options += ", policy=__import__('masivo_web').DeliveryPolicy(service_deduplicates=True)"
        client = client_code(emulator, options)
        started = time.monotonic()
        for _ in range(navigations + 1):
            page.goto(harness)
            page.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
            ids = page.evaluate(
                "code => runPython(code)",
                client
                + "await masivo.get_token()\n"
                + f"ids = [masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c', "
                f"brand_id=None).event_id for _ in range({events_per_page})]\n"
                + "import asyncio\nasyncio.ensure_future(masivo.flush())\nids",
            )
            sent.extend(ids)
            page.wait_for_timeout(rng.uniform(0, 60))  # somewhere in the middle of the flush
            if rng.random() < 0.5:
                page.reload(wait_until="commit")
        # The last page stays until everything stored was sent and acknowledged.
        chaos = emulator.control.chaos()
        emulator.control.set_chaos("analytics", probability=0.0, kinds=["500"], seed=seed)
        page.goto(harness)
        page.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
        page.evaluate("code => runPython(code)", client)
        with contextlib.suppress(Exception):
            page.wait_for_function(
                "Object.keys(localStorage).filter(k => k.includes(':ev:')).length === 0",
                timeout=60_000,
            )
        context.close()
        service = "dedupe" if deduplicating else "Masivo"
        row = tally(
            f"Chromium: {navigations} pages left mid-flush ({service})",
            sent,
            emulator,
            failed=0,
            seconds=time.monotonic() - started,
            chaos=chaos,
        )
        if not deduplicating:
            row.per_fault, row.any_fault_resends = 2 * events_per_page, True
            row.faults_may_lose = True
        return row


def main(args: Any) -> int:
    """The ``reliability`` command."""
    ok = True
    if not getattr(args, "field_only", False):
        rows = run_cpython(args.events, args.seed)
        if args.navigations:
            rows.append(run_chromium(args.navigations, args.seed))
            rows.append(run_chromium(args.navigations, args.seed, deduplicating=True))
        print(report(rows, args.seed))
        ok = all(row.ok for row in rows)
        if getattr(args, "departures", 0):
            from .departures import run_departures

            ok = run_departures(args.departures) and ok
    field_events = getattr(args, "field", 0)
    if field_events:
        from . import field

        print("\nField conditions (real processes; libfaketime for the device clock):\n")
        ok = field.main(field_events, getattr(args, "field_seconds", 10.0)) and ok
    return 0 if ok else 1

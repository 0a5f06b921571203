"""A WebKitGTK window with Playwright's names for what a test does with a page."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .driver import WebKitError, call

#: Runs a page function (or expression) with one argument; its promise is awaited.
_EVALUATE = """
const [source, arg, done] = arguments;
(async () => {
  let value = (0, eval)("(" + source + ")");
  if (typeof value === "function") value = await value(arg);
  return await value;
})().then(
  (value) => done({value: value === undefined ? null : value}),
  (error) => done({error: String(error && error.stack || error)}),
);
"""


class Page:
    """A window of a session, with Playwright's names for what scenarios do with a page."""

    #: No video recording over WebDriver (pytest-playwright reads it).
    video = None

    def __init__(self, session: str, handle: str, blank: str, base_url: str, context: Any) -> None:
        self._session, self._handle, self._blank = session, handle, blank
        self._base_url = base_url
        self.context = context
        self._closed = False
        self._timeout_ms = 30_000.0

    def _focus(self) -> None:
        call("POST", f"{self._session}/window", {"handle": self._handle})

    def set_default_timeout(self, timeout_ms: float) -> None:
        self._timeout_ms = timeout_ms

    def goto(self, url: str) -> None:
        self._focus()
        target = urllib.parse.urljoin(self._base_url, url) if self._base_url else url
        call("POST", f"{self._session}/url", {"url": target})

    @property
    def url(self) -> str:
        self._focus()
        return str(call("GET", f"{self._session}/url"))

    def evaluate(self, source: str, arg: Any = None) -> Any:
        """Playwright's ``evaluate``: ``source`` is a function (called with ``arg``) or an
        expression; a promise is awaited; the value comes back as JSON."""
        self._focus()
        answer = call(
            "POST",
            f"{self._session}/execute/async",
            {"script": _EVALUATE, "args": [source, arg]},
        )
        if "error" in answer:
            raise WebKitError(f"the page's script threw: {answer['error']}")
        return answer["value"]

    def wait_for_function(self, source: str, timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self._timeout_ms) / 1000
        while True:
            value = self.evaluate(source)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{source} stayed false for {timeout or self._timeout_ms} ms")
            time.sleep(0.05)

    def wait_for_selector(
        self, selector: str, state: str = "visible", timeout: float | None = None
    ) -> None:
        """Until an element matches the CSS ``selector`` (``state="attached"``) and, by
        default as in Playwright, is rendered (``"visible"``)."""
        if state not in ("attached", "visible"):
            raise NotImplementedError(f"wait_for_selector(state={state!r}): attached or visible")
        found = f"document.querySelector({_css(selector)})"
        shown = " && element.getClientRects().length > 0" if state == "visible" else ""
        self.wait_for_function(
            f"() => {{ const element = {found}; return !!element{shown}; }}", timeout
        )

    def click(self, selector: str, timeout: float | None = None) -> None:
        """Clicks the first rendered element matching the CSS ``selector``, once there is one
        (WebDriver's element click: scrolled into view, at its centre, as a visitor would)."""
        self.wait_for_selector(selector, "visible", timeout)
        self._focus()
        element = call(
            "POST", f"{self._session}/element", {"using": "css selector", "value": selector}
        )
        (element_id,) = element.values()
        call("POST", f"{self._session}/element/{element_id}/click")

    def text_content(self, selector: str, timeout: float | None = None) -> str | None:
        """The text of the first element matching the CSS ``selector``, once there is one."""
        self.wait_for_selector(selector, "attached", timeout)
        return self.evaluate(f"() => document.querySelector({_css(selector)}).textContent")  # type: ignore[no-any-return]

    def title(self) -> str:
        return str(self.evaluate("() => document.title"))

    def screenshot(self, path: str | os.PathLike[str] | None = None, **options: Any) -> bytes:
        """A PNG of the window (Playwright's other screenshot options are ignored)."""
        self._focus()
        png = base64.b64decode(call("GET", f"{self._session}/screenshot"))
        if path is not None:
            Path(path).write_bytes(png)
        return png

    def wait_for_url(self, url: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self._timeout_ms) / 1000
        while self.url != url:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page did not reach {url}")
            time.sleep(0.05)

    def on(self, event: str, handler: Any) -> None:
        raise NotImplementedError(
            "WebDriver classic reports no requests: count what the emulator received instead"
        )

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Closes the window as a visitor closes a tab."""
        if not self._closed:
            self._focus()
            call("DELETE", f"{self._session}/window")
            self._closed = True
            call("POST", f"{self._session}/window", {"handle": self._blank})


def _css(selector: str) -> str:
    """``selector`` as a JS string literal, refused when it is Playwright's own syntax (which
    only Playwright's browsers understand)."""
    if selector.startswith(("text=", "xpath=", "css=", "role=", "id=")) or ">>" in selector:
        raise NotImplementedError(
            f"{selector!r}: the WebKitGTK layer takes CSS selectors (e.g. 'button.add-to-cart',"
            " '#flush'), not Playwright's selector syntax"
        )
    return json.dumps(selector)

"""WebKit for the browser tests and tools: the calls of Playwright's sync API that scenarios use,
over WebKitWebDriver (Debian's ``webkit2gtk-driver``: MiniBrowser with ``--automation``) under
a private Xvfb display. Playwright's own WebKit is a build of its own that cannot be downloaded
everywhere; the system's WebKitGTK can.

    with WebKit() as browser:                  # Xvfb, the driver, then sessions on demand
        context = browser.new_context()        # a WebDriver session: a fresh visit
        page = context.new_page()              # a window of its own (a tab would sit hidden)
        page.goto(url); page.evaluate("() => document.title")

What it gives: ``new_context`` (``base_url`` the one option)/``close``, ``pages``, ``on("page")``,
``tracing`` (nothing recorded); ``new_page``, ``goto``, ``evaluate`` (a function, with one
argument, or an expression; promises awaited), ``wait_for_function``, ``wait_for_selector``
(``attached``/``visible``), ``click`` and ``text_content`` (CSS selectors), ``title``,
``wait_for_url``, ``url``, ``screenshot``, ``close``, ``is_closed``, ``set_default_timeout``:
what pytest-playwright's ``page`` fixture and a test of a page need. What WebDriver classic
cannot give (request events, offline mode) and Playwright's own selector syntax (``text=``,
``>>``) raise ``NotImplementedError`` saying what to use instead. Every driver call is bounded:
WebKitWebDriver may leave a script unanswered while its page enters or leaves the back-forward
cache.
"""

from .browser import Context, WebKit
from .driver import WebKitError
from .page import Page

__all__ = ["Context", "Page", "WebKit", "WebKitError"]

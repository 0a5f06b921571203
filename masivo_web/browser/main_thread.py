"""The main-thread half of a worker's client: a small JS module the worker installs on the page.

Python in a PyScript worker cannot act when the page goes away: a listener it registers runs in the
worker, after the page is gone, and the worker has no ``localStorage``. So the worker installs this
module on the main thread (:mod:`masivo_web.browser.worker`) and keeps it up to date, at the end of
each task in which anything changed, over a ``BroadcastChannel`` of its own:

- ``sync`` (worker → page): storage writes to apply (``localStorage``: identity, consent and the
  write-ahead copy of queued events; ``sessionStorage``: the tab's token), and the *plan*: the
  requests the page-hide flush would start now, built by the worker (URL, headers, body).
- At ``pagehide``, or ``visibilitychange`` to hidden, the module starts the plan's requests with
  ``fetch(keepalive)`` in its own listener, on the main thread, before the page can go; when
  every one started and the plan carries ``handoff`` (storage writes: the service answers
  normally), it applies them, so the next page does not send those events again; then it tells
  the worker (``fired``), which takes those events as sent and settles them when the answers
  come back (``answer``) if it still runs (a hidden tab).
- ``hello`` (page → worker, once): the ``masivo_web:`` keys of both storages and the page's
  state, so the worker reads what earlier pages stored; ``state`` on every page event the SDK
  follows (hide, show, online, offline, navigation, title); ``storage`` when another tab
  changes a ``masivo_web:`` key.

Messages are JSON text: one parse per message on the main thread, whatever the interpreter.
Nothing here logs a key or a token; the token reaches this module only inside a planned request.
"""

from __future__ import annotations

import binascii
from typing import Any

from ..rules.http import Request
from ..runtime.jsbridge import pyscript_sources

#: The module as a file of its own, served beside the page wheel (``python -m masivo_web
#: bundle`` writes it), so a Content-Security-Policy with ``script-src 'self'`` and no
#: ``data:`` lets it load; it reads its channel's name from its URL's ``?channel=``.
FILE_NAME = "masivo_web_page.js"


def module_file() -> str:
    """The module's text as a same-origin file."""
    return SOURCE.replace("__CHANNEL__", 'new URL(import.meta.url).searchParams.get("channel")')


#: The module's source; ``__CHANNEL__`` is replaced by the channel's name (a JSON string), or
#: by the expression that reads it from the module's URL (:func:`module_file`).
SOURCE = r"""
const channel = new BroadcastChannel(__CHANNEL__);
const post = (message) => channel.postMessage(JSON.stringify(message));
const PREFIX = "masivo_web:";
let plan = null;
let warned = false;

const area = (name) => {
  try { return name === "session" ? sessionStorage : localStorage; } catch (e) { return null; }
};
const dump = (storage) => {
  const found = {};
  if (!storage) return found;
  try {
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (key && key.startsWith(PREFIX)) found[key] = storage.getItem(key);
    }
  } catch (e) {}
  return found;
};
const state = () => ({
  href: String(location.href),
  title: String(document.title),
  referrer: String(document.referrer),
  visibility: String(document.visibilityState),
  online: navigator.onLine !== false,
});
const write = (name, changes) => {
  const storage = area(name);
  for (const key in changes) {
    try {
      if (!storage) throw new Error("storage is disabled");
      if (changes[key] === null) storage.removeItem(key);
      else storage.setItem(key, changes[key]);
    } catch (e) {
      if (!warned) {
        warned = true;
        console.warn("masivo_web: browser storage failed (" + e + "); queued events are kept " +
          "in the worker only from now on, and a closed tab may lose them.");
      }
    }
  }
};
const body = (request) => request.b64
  ? Uint8Array.from(atob(request.body), (c) => c.charCodeAt(0))
  : request.body;
const fire = () => {
  const current = plan;
  plan = null;
  if (!current || !current.requests.length || navigator.onLine === false) return;
  const started = [];
  current.requests.forEach((request, i) => {
    let answer;
    try {
      answer = fetch(request.url, {
        method: "POST", headers: request.headers, body: body(request), keepalive: true,
      });
    } catch (e) {
      return;
    }
    started.push(i);
    answer
      .then((response) => response.text().then((text) => post({
        t: "answer", plan: current.n, i, status: response.status,
        retry_after: response.headers.get("retry-after"), body: text,
      })))
      .catch((e) => post({ t: "answer", plan: current.n, i, error: String(e) }));
  });
  // Every request on its way while the service answers normally: their stored copies go
  // now, or the site's next page would send them again (Masivo would count them twice).
  const handed = Boolean(current.handoff) && started.length === current.requests.length;
  if (handed) write("local", current.handoff);
  post({ t: "fired", plan: current.n, started, handed });
};
const tell = (event) =>
  post({ t: "state", event: event.type, persisted: !!event.persisted, page: state() });
const hidden = (event) => {
  if (event.type === "pagehide" || document.visibilityState === "hidden") fire();
  tell(event);
};

channel.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.t !== "sync") return;
  write("local", message.local || {});
  write("session", message.session || {});
  if (message.plan) plan = message.plan;
};
addEventListener("pagehide", hidden);
document.addEventListener("visibilitychange", hidden);
for (const name of ["pageshow", "online", "offline", "popstate", "hashchange"]) {
  addEventListener(name, tell);
}
if (globalThis.navigation) navigation.addEventListener("currententrychange", tell);
if (document.head && globalThis.MutationObserver) {
  let title = document.title;
  const retitled = () => {
    if (document.title !== title) {
      title = document.title;
      tell({ type: "title" });
    }
  };
  const watched = { subtree: true, childList: true, characterData: true };
  new MutationObserver(retitled).observe(document.head, watched);
}
addEventListener("storage", (event) => {
  if (event.key && event.key.startsWith(PREFIX) && event.storageArea === area("local")) {
    post({ t: "storage", key: event.key, value: event.newValue });
  }
});
post({ t: "hello", local: dump(area("local")), session: dump(area("session")), page: state() });
"""


def module_directory() -> str:
    """Where the page module file is: beside the masivo_web archive or wheel PyScript's config
    names, when that is an absolute URL (Pyodide's config has them resolved); else the bundle's
    layout, ``vendor/wheels/`` beside ``vendor/pyscript/``, relative to PyScript's own module
    (which imports it)."""
    for entry in pyscript_sources():
        directory, _, wheel = entry.rpartition("/")
        if wheel.startswith("masivo_web-") and "://" in directory:
            return directory + "/"
    return "../wheels/"


def request_message(request: Request) -> dict[str, Any]:
    """``request`` as a plan's entry for the page module (which starts it with ``fetch``): a
    gzipped body travels as base64."""
    body = request.body or b""
    message: dict[str, Any] = {"url": request.url, "headers": dict(request.headers)}
    if request.headers.get("content-encoding") == "gzip":
        message["body"] = binascii.b2a_base64(body).decode().strip()
        message["b64"] = True
    else:
        message["body"] = body.decode("utf-8")
    return message

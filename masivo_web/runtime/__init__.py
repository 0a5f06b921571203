"""Where the SDK runs: which interpreter this is (:mod:`.interpreter`), its JS bridge
(:mod:`.jsbridge`), time (:mod:`.clock`), scheduling (:mod:`.scheduling`), the asyncio the SDK
uses (:mod:`.aio`) and what the host offers (:mod:`.host`). Only this layer touches ``js``,
``pyodide``, ``jsffi`` and ``polyscript``, lazily. It imports nothing from the rest of the SDK
but its errors and records."""

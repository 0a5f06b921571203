"""The browser: the page as the SDK uses it (:mod:`.page`, found by :mod:`.current`), its
storage and liveness adapters (:mod:`.storage`, :mod:`.liveness`), its lifecycle events
(:mod:`.lifecycle`), what an event says about it (:mod:`.context`), and a PyScript worker's link
to its page (:mod:`.worker`, with :mod:`.stand_ins` for the page's objects and the
:mod:`.first_events` it completes once the page answers) with the module it installs on the main
thread (:mod:`.main_thread`). Under CPython there is no page, and nothing here does anything."""

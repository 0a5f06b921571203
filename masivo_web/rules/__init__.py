"""The rules: pure values and functions with no I/O and no page. What an event may be and how it
is encoded (:mod:`.events`, :mod:`.encoding`), the ids and timestamps it gets (:mod:`.ids`), the
Masivo HTTP contract (:mod:`.api`, :mod:`.http`), what an answer means and when to try again
(:mod:`.retry`, :mod:`.policy`), which events go next (:mod:`.queue`), a token's
state and the service's clock (:mod:`.token_state`, :mod:`.service_clock`), the page's keepalive
budget (:mod:`.keepalive`), a client's settings (:mod:`.config`), the result handles
(:mod:`.results`) and the ports the engine is written against (:mod:`.ports`). Imports only the
runtime layer and the errors."""

"""The delivery engine: the stateful parts of one client. The :mod:`.outbox` owns every event
from the tracking call to its settlement (:mod:`.outgoing` is its half that puts batches on the
wire and acts at page hide), the :mod:`.flusher` decides when batches leave and
:mod:`.batch_path` walks each one, the :mod:`.wire` starts requests within the keepalive budget,
:mod:`.auth` keeps a key's token (shared between clients by :mod:`.token_registry`), the stored
queue (:mod:`.event_store`, :mod:`.persistence`) keeps events across pages, and
:mod:`.identity` says who the visitor is. Written against the ports of :mod:`masivo_web.rules`;
it never imports the browser layer (``create_client`` hands the page's adapters in)."""

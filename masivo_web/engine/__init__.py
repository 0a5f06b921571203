"""The delivery engine: the stateful parts of one client. The :mod:`.outbox` owns every event
from the tracking call to its settlement, the :mod:`.flusher` decides when batches leave, the
:mod:`.wire` starts requests within the keepalive budget, :mod:`.auth` shares one token per key,
the stored queue (:mod:`.event_store`, :mod:`.persistence`) keeps events across pages, and
:mod:`.identity` says who the visitor is. Written against the ports of :mod:`masivo_web.rules`;
it never imports the browser layer (``create_client`` hands the page's adapters in)."""

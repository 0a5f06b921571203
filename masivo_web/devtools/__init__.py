"""Tools that run on a developer's machine, not in a page or a user's server: the demo shop
(:mod:`.demo`), the folder a site serves (:mod:`.bundle`, with the pinned runtimes of :mod:`.npm`
and the page build of :mod:`.page_build`), and the proof that nothing is lost
(:mod:`.reliability`, with the page departures of :mod:`.departures` and the field conditions of
:mod:`.field`). They reach the SDK only through its public face; no SDK module imports them, and
the page wheel leaves this folder out."""

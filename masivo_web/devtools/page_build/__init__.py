"""The build of masivo_web a page loads: the package without its server-side parts, its types
erased and its source compacted (:mod:`.wheel`, :mod:`.erase`, checked by :mod:`.subset`),
compiled ahead of time on request (:mod:`.bytecode`), and shipped as one archive
(:mod:`.archives`). A checkout's asset step and ``bundle`` from an installed package both build
it here, so they give the same bytes."""

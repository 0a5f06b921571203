"""The transports that need CPython (sockets, threads, httpx): never in a page's wheel."""

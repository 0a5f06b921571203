"""The local Masivo emulator: a real HTTP server implementing ``docs/masivo-api.md``.

Needs the ``emulator`` extra (``pip install 'masivo_web[emulator]'``); the SDK never imports it.

>>> from masivo_web.emulator import EmulatorServer
>>> with EmulatorServer() as emulator:
...     print(emulator.api_base, emulator.client_key)
"""

from __future__ import annotations

from .client import EmulatorClient
from .server import EmulatorServer, serve_forever
from .store import DEFAULT_CLIENT_KEY, DEFAULT_SERVER_KEY, EmulatorState, Settings

__all__ = [
    "DEFAULT_CLIENT_KEY",
    "DEFAULT_SERVER_KEY",
    "EmulatorClient",
    "EmulatorServer",
    "EmulatorState",
    "Settings",
    "serve_forever",
]

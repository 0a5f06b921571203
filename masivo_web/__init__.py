"""masivo_web: send Masivo customer events from Python in the browser (Pyodide, PyScript) and
from CPython.

>>> from masivo_web import create_client
>>> masivo = create_client("your-client-api-key")
>>> # in a coroutine, or any code a PyScript event handler runs:
>>> # masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
"""

from __future__ import annotations

from ._version import VERSION
from .client import MasivoClient
from .errors import (
    MasivoAuthError,
    MasivoConfigError,
    MasivoDroppedError,
    MasivoError,
    MasivoNetworkError,
    MasivoServerKeyError,
    MasivoValidationError,
)
from .factory import create_client
from .rules.events import RESERVED_EVENT_TYPES
from .rules.policy import DeliveryPolicy
from .rules.results import CloseResult, Delivery, SendEventResult

__version__ = VERSION


def __getattr__(name: str) -> object:
    # SyncClient needs threads: imported only when asked for, never by the browser's import.
    if name == "SyncClient":
        from .sync import SyncClient

        return SyncClient
    raise AttributeError(f"module 'masivo_web' has no attribute {name!r}")


__all__ = [
    "RESERVED_EVENT_TYPES",
    "CloseResult",
    "Delivery",
    "DeliveryPolicy",
    "MasivoAuthError",
    "MasivoClient",
    "MasivoConfigError",
    "MasivoDroppedError",
    "MasivoError",
    "MasivoNetworkError",
    "MasivoServerKeyError",
    "MasivoValidationError",
    "SendEventResult",
    "SyncClient",
    "__version__",
    "create_client",
]

"""Run the emulator: in a background thread on a free loopback port (tests, the demo), or in
the foreground (``python -m masivo_web emulator``)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from .app import API_PREFIX, create_app
from .client import EmulatorClient
from .store import (
    DEFAULT_CLIENT_KEY,
    DEFAULT_KEYS,
    DEFAULT_SERVER_KEY,
    README_CLIENT_KEY,
    EmulatorState,
    KeyKind,
    Settings,
)


class EmulatorServer:
    """A real emulator on ``host`` (a free port unless ``port`` is given), served by uvicorn in a
    daemon thread. Use it as a context manager; no pytest needed.

    >>> with EmulatorServer() as emulator:
    ...     masivo = create_client(emulator.client_key, auth_url=emulator.auth_url,
    ...                            api_base=emulator.api_base)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        db_path: str = ":memory:",
        settings: Settings | None = None,
        keys: dict[str, KeyKind] | None = None,
    ) -> None:
        self.state = EmulatorState(
            db_path=db_path,
            defaults=settings or Settings(),
            initial_keys=keys or dict(DEFAULT_KEYS),
        )
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            lifespan="off",
            access_log=False,
            date_header=False,  # the emulator dates its answers by its own clock
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        #: Inspect and steer this emulator over HTTP.
        self.control = EmulatorClient(self.url)

    @property
    def url(self) -> str:
        """The emulator's root URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """Pass as ``create_client(auth_url=...)``."""
        return f"{self.url}/auth/authorize"

    @property
    def api_base(self) -> str:
        """Pass as ``create_client(api_base=...)``."""
        return f"{self.url}{API_PREFIX}"

    @property
    def client_key(self) -> str:
        """A CLIENT key the emulator knows."""
        return next(key for key, kind in self.state.initial_keys.items() if kind == "client")

    @property
    def server_key(self) -> str:
        """A SERVER key the emulator knows (the SDK must refuse it)."""
        return next(key for key, kind in self.state.initial_keys.items() if kind == "server")

    def start(self) -> EmulatorServer:
        """Start serving; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            daemon=True,
            name=f"masivo-emulator-{self.port}",
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The Masivo emulator did not start; see the log above.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the database."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
        self.state.db.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(
    host: str, port: int, *, db_path: str, settings: Settings, reset: bool = False
) -> None:
    """Serve in the foreground until interrupted (the ``emulator`` command). Raises OSError
    (port in use) or ``sqlite3.Error`` (``db_path`` cannot be opened) before printing anything."""
    keys: dict[str, KeyKind] = {**DEFAULT_KEYS, README_CLIENT_KEY: "client"}
    state = EmulatorState(
        db_path=db_path, defaults=settings, keep_events=not reset, initial_keys=keys
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))  # before the banner: a busy port is said at once
    except OSError:
        listener.close()
        raise
    port = listener.getsockname()[1]
    # Every interface is no address to send to: the URLs name this machine's loopback.
    every = host in ("0.0.0.0", "")
    origin = f"http://{'127.0.0.1' if every else host}:{port}"
    print(f"Masivo emulator on {origin}")
    if every:
        print("  (listening on every interface: from another machine, use this one's address)")
    print(f"  auth_url = {origin}/auth/authorize")
    print(f"  api_base = {origin}{API_PREFIX}")
    print(f"  CLIENT keys: {DEFAULT_CLIENT_KEY}, {README_CLIENT_KEY} (the README's)")
    print(f"  SERVER key: {DEFAULT_SERVER_KEY}")
    print(f"  inspect: {origin}/_emulator/events", flush=True)
    config = uvicorn.Config(create_app(state), log_level="info", lifespan="off", date_header=False)
    uvicorn.Server(config).run(sockets=[listener])

"""python -m masivo_web <command>: "emulator" runs the local Masivo emulator; "demo" serves the
PyScript shop against it (--headless drives it in Chromium and checks delivery); "bundle" copies
what a page needs into a folder to serve; "reliability" counts lost and doubled events under
seeded faults."""

from __future__ import annotations

import argparse
import sys


def _port(text: str) -> int:
    """A TCP port for ``--port``/``--api-port``, or argparse's one-line error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1-65535 (0: any free one)")
    return port


def _positive(text: str) -> float:
    """A positive number of seconds (``--token-ttl``), or argparse's one-line error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _at_least_one(text: str) -> int:
    """A whole number >= 1 (``--rate-limit``), or argparse's one-line error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number of at least 1")
    return value


def _emulator(args: argparse.Namespace) -> int:
    try:
        from .emulator import Settings, serve_forever
    except ImportError as exc:
        print(
            f"The emulator needs the 'emulator' extra ({exc.name} is missing): "
            "pip install 'masivo_web[emulator]'",
            file=sys.stderr,
        )
        return 2
    settings = Settings(token_ttl_s=args.token_ttl, rate_limit=args.rate_limit, dedupe=args.dedupe)
    import sqlite3

    try:
        serve_forever(args.host, args.port, db_path=args.db, settings=settings, reset=args.reset)
    except OSError as exc:  # the port is in use, or the host is not this machine's
        print(f"masivo_web emulator: {exc.strerror or exc}. {_hint(exc)}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:  # --db in a folder that does not exist, or not a database
        print(f"masivo_web emulator: cannot open --db {args.db!r} ({exc}).", file=sys.stderr)
        return 2
    return 0


def _hint(exc: OSError) -> str:
    if isinstance(exc, ConnectionError) or exc.errno in (98, 48, 10048):  # address in use
        return "Choose another --port (0 picks a free one)."
    return "Check --host (an address of this machine)."


def _demo(args: argparse.Namespace) -> int:
    from .devtools.demo import run

    return run(
        headless=args.headless,
        port=args.port,
        api_port=args.api_port,
        interpreter=args.interpreter,
    )


def _bundle(args: argparse.Namespace) -> int:
    from .devtools.bundle import main as bundle

    return bundle(args.dest, args.interpreter, args.precompiled)


def _reliability(args: argparse.Namespace) -> int:
    from .devtools.reliability import main as reliability

    return reliability(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m masivo_web`` and the ``masivo-web`` script."""
    shown = argparse.ArgumentDefaultsHelpFormatter  # every option's default in --help
    parser = argparse.ArgumentParser(
        prog="python -m masivo_web", description=__doc__, formatter_class=shown
    )
    commands = parser.add_subparsers(dest="command", required=True)
    emulator = commands.add_parser(
        "emulator", help="run the local Masivo emulator", formatter_class=shown
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emulator.add_argument("--port", type=_port, default=8765, help="port (0: any free one)")
    emulator.add_argument(
        "--db", default=":memory:", help="SQLite file, kept across starts (:memory:: none)"
    )
    emulator.add_argument(
        "--reset", action="store_true", help="delete the events the --db file holds first"
    )
    emulator.add_argument("--token-ttl", type=_positive, default=3600.0, help="token lifetime, s")
    emulator.add_argument(
        "--rate-limit", type=_at_least_one, default=1000, help="requests per minute"
    )
    emulator.add_argument(
        "--dedupe",
        action="store_true",
        help="store a repeated event_id once (default: every copy, as the documented service)",
    )
    emulator.set_defaults(handler=_emulator)
    demo = commands.add_parser(
        "demo", help="serve the PyScript demo shop against the emulator", formatter_class=shown
    )
    demo.add_argument("--headless", action="store_true", help="drive it in headless Chromium")
    demo.add_argument(
        "--port",
        type=_port,
        default=None,
        help="page origin port (default: 8000 if free, else any)%(default).0s",
    )
    demo.add_argument(
        "--api-port",
        type=_port,
        default=None,
        help="emulator port (default: 8765 if free, else any)%(default).0s",
    )
    demo.add_argument(
        "--interpreter",
        choices=("pyodide", "micropython", "both"),
        default="both",
        help="which shop page: PyScript on Pyodide, on MicroPython, or both in turn",
    )
    demo.set_defaults(handler=_demo)
    pack = commands.add_parser(
        "bundle",
        help="copy PyScript, the interpreter(s) and the SDK's page archive into a folder to serve",
        formatter_class=shown,
    )
    pack.add_argument("dest", help="the folder to write (its vendor/ and masivo-snippet.html)")
    pack.add_argument(
        "--interpreter",
        choices=("pyodide", "micropython", "both"),
        default="both",
        help="which interpreter(s) your pages run",
    )
    pack.add_argument(
        "--precompiled",
        action="store_true",
        help="the precompiled archives (Pyodide 314 bytecode, MicroPython .mpy): faster import",
    )
    pack.set_defaults(handler=_bundle)
    proof = commands.add_parser(
        "reliability",
        help="count lost and doubled events under seeded faults",
        formatter_class=shown,
    )
    proof.add_argument("--events", type=int, default=1500, help="events per fault class")
    proof.add_argument("--seed", type=int, default=1, help="replay a run with its seed")
    proof.add_argument(
        "--navigations", type=int, default=0, help="Chromium reloads/navigations mid-flush"
    )
    proof.add_argument(
        "--departures",
        type=int,
        default=0,
        help="runs of each way of leaving a page in Chromium (navigate, close, reload...)",
    )
    proof.add_argument(
        "--field",
        type=int,
        default=0,
        help="events per field condition (wrong clocks, a fork): real processes, libfaketime",
    )
    proof.add_argument(
        "--field-seconds", type=float, default=10.0, help="how long each clock condition runs"
    )
    proof.add_argument("--field-only", action="store_true", help="run only the field part")
    proof.set_defaults(handler=_reliability)
    args = parser.parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

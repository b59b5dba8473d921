"""What every emulator's ``__main__`` shares: the common options, logging setup, and serving until
SIGINT/SIGTERM (``serve``: a bad seed or a port in use exits 2 with the reason).

Install ``StopOnSignal`` *before* printing the "listening" line: a supervisor (or a test) may
send SIGTERM as soon as it reads that line, and the process must then still stop cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from include.emulators.kit.seed import SeedError


class Served(Protocol):
    def start(self) -> Any: ...


def add_common_arguments(parser: argparse.ArgumentParser, *, default_port: int) -> None:
    """``--host``, ``--port``, ``--allow-remote-control`` and ``--log-level``, alike everywhere."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument(
        "--port", type=int, default=default_port, help="port to listen on; 0 picks a free one"
    )
    parser.add_argument(
        "--allow-remote-control",
        action="store_true",
        help="let non-loopback clients use /_control (never on a shared network)",
    )
    parser.add_argument("--log-level", default="WARNING", help="Python log level (DEBUG logs every request)")


def serve(
    args: argparse.Namespace,
    build: Callable[[], Served],
    banner: Callable[[Any], str],
    stop: Callable[[Any], Callable[[], None]] = lambda server: server.stop,
) -> int:
    """Configure logging, build and start the server, print ``banner(server)`` and serve until a
    signal; exit 2 with the reason when the seed is bad or the port taken."""
    configure_logging(args.log_level)
    try:
        server = build()
        server.start()
    except (SeedError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stopper = StopOnSignal()  # before the banner: see the module docstring
    print(banner(server), flush=True)
    stopper.wait(stop(server))
    return 0


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class StopOnSignal:
    def __init__(self) -> None:
        self.event = threading.Event()
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.event.set()

    def wait(self, on_stop: Callable[[], None]) -> None:
        """Block until a signal arrived, then call ``on_stop``."""
        while not self.event.wait(1.0):
            pass
        on_stop()

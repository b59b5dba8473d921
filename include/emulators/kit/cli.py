"""What every emulator's ``__main__`` shares: serve until SIGINT/SIGTERM, then stop cleanly."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def wait_for_signal(on_stop: Callable[[], None]) -> None:
    """Block until SIGINT or SIGTERM, then call ``on_stop``."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    while not stop.wait(1.0):
        pass
    on_stop()

"""What every emulator's ``__main__`` shares: logging setup, and serving until SIGINT/SIGTERM.

Install ``StopOnSignal`` *before* printing the "listening" line: a supervisor (or a test) may
send SIGTERM as soon as it reads that line, and the process must then still stop cleanly (exit 0).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable


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

"""Progress lines for long uploads: batches done, recipients/s and the time left."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Progress:
    """Logs at most every ``every_seconds`` (and always for the last batch)."""

    total_rows: int
    total_batches: int
    log: logging.Logger
    label: str
    every_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    rows_done: int = 0
    batches_done: int = 0
    _started: float = field(init=False)
    _last_logged: float = field(init=False)

    def __post_init__(self) -> None:
        self._started = self._last_logged = self.clock()

    def advance(self, rows: int) -> None:
        self.rows_done += rows
        self.batches_done += 1
        now = self.clock()
        if now - self._last_logged < self.every_seconds and self.batches_done < self.total_batches:
            return
        self._last_logged = now
        elapsed = max(now - self._started, 1e-9)
        rate = self.rows_done / elapsed
        left = max(self.total_rows - self.rows_done, 0)
        eta = left / rate if rate > 0 else float("inf")
        self.log.info(
            "%s: batch %d/%d, %d/%d recipients, %.0f recipients/s, ETA %.0fs",
            self.label, self.batches_done, self.total_batches, self.rows_done, self.total_rows, rate, eta,
        )

"""Progress lines for long uploads: batches done, recipients/s and the time left."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Progress:
    """Logs at most every ``every_seconds`` (and always for the last batch).

    ``rows_done``/``batches_done`` may start above zero (a resumed upload): the rate and the ETA
    are computed from the rows sent since this object was made, not from those already there.
    Without totals (``None``: not known in advance) the line has the counts and the rate only.
    """

    total_rows: int | None
    total_batches: int | None
    log: logging.Logger
    label: str
    every_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    rows_done: int = 0
    batches_done: int = 0
    _started: float = field(init=False)
    _last_logged: float = field(init=False)
    _rows_at_start: int = field(init=False)

    def __post_init__(self) -> None:
        self._started = self._last_logged = self.clock()
        self._rows_at_start = self.rows_done

    @property
    def rate(self) -> float:
        """Recipients per second sent by this upload so far."""
        elapsed = self.clock() - self._started
        sent = self.rows_done - self._rows_at_start
        return sent / elapsed if elapsed > 0 else 0.0

    def advance(self, rows: int) -> None:
        self.rows_done += rows
        self.batches_done += 1
        now = self.clock()
        last = self.total_batches is not None and self.batches_done >= self.total_batches
        if now - self._last_logged < self.every_seconds and not last:
            return
        self._last_logged = now
        rate = self.rate
        if self.total_rows is None or self.total_batches is None:
            done = (self.label, self.batches_done, self.rows_done, rate)
            self.log.info("%s: batch %d, %d recipients, %.0f recipients/s", *done)
            return
        left = max(self.total_rows - self.rows_done, 0)
        eta = f"{left / rate:.0f}s" if rate > 0 else "unknown"
        self.log.info(
            "%s: batch %d/%d, %d/%d recipients, %.0f recipients/s, ETA %s",
            self.label,
            self.batches_done,
            self.total_batches,
            self.rows_done,
            self.total_rows,
            rate,
            eta,
        )

"""Injectable time source.

Everything time-dependent in the emulator (session expiry, event and export timestamps, the
30-day export retention, ClosedLoop.getCurrentTime) reads ``Clock.now()``, never ``time.time()``,
so tests and the demo can move time forward through the control endpoint instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current time in epoch seconds (UTC)."""


class SystemClock:
    """Wall-clock time."""

    def now(self) -> float:
        return time.time()


class ControllableClock:
    """Wall-clock time plus an offset that can be advanced; optionally frozen at one instant.

    Running (not frozen) is the default so a demo behaves like a real server; tests that need
    exact timestamps freeze it via ``set(..., frozen=True)``.
    """

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        frozen = self._frozen_at
        if frozen is not None:
            return frozen
        return self._base.now() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
        return self.now()

    def set(self, epoch_seconds: float, frozen: bool = False) -> float:
        with self._lock:
            if frozen:
                self._frozen_at = float(epoch_seconds)
            else:
                self._frozen_at = None
                self._offset = float(epoch_seconds) - self._base.now()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._frozen_at = None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    @property
    def offset_seconds(self) -> float:
        return self._offset

"""The per-account rate limit: at most N requests in any 60 s of the emulated clock.

A sliding window (not a bucket) so the emulator is as strict as the stated limit can be: a client
stays under it only if no 60-second window ever holds more than N accepted requests. Refused
requests (429) are not counted against the window, like most gateways. Every accepted request's
time is kept so tests can check the busiest window after the fact.
"""

from __future__ import annotations

import math
import threading
from collections import deque

WINDOW_SECONDS = 60.0


class SlidingWindowLimit:
    def __init__(self, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("requests_per_minute must be >= 1")
        self.per_minute = per_minute
        self._window: deque[float] = deque()
        self._lock = threading.Lock()
        self.accepted: list[float] = []
        self.refused = 0

    def admit(self, now: float) -> float | None:
        """Count a request at ``now``; None = admitted, else the seconds to wait (Retry-After)."""
        with self._lock:
            while self._window and self._window[0] <= now - WINDOW_SECONDS:
                self._window.popleft()
            if len(self._window) >= self.per_minute:
                self.refused += 1
                return max(self._window[0] + WINDOW_SECONDS - now, 0.001)
            self._window.append(now)
            self.accepted.append(now)
            return None

    def busiest_window(self) -> int:
        """The most accepted requests in any 60 s window so far."""
        with self._lock:
            times = sorted(self.accepted)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while times[start] <= moment - WINDOW_SECONDS:
                start += 1
            best = max(best, end - start + 1)
        return best

    def reset(self) -> None:
        with self._lock:
            self._window.clear()
            self.accepted.clear()
            self.refused = 0


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up (Retry-After takes an integer)."""
    return str(max(1, math.ceil(seconds)))

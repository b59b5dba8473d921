"""Per-call counters: how many requests each named call received (tests and benchmarks read them
as "calls used"). Thread-safe; reset with the emulator."""

from __future__ import annotations

import threading
from collections import Counter


class CallCounter:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

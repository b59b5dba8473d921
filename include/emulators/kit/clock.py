"""Injectable time source and the time conversions the emulators share.

Everything time-dependent in an emulator reads ``Clock.now()``, never ``time.time()``, so tests
and the demo can move time through ``/_control/clock`` instead of sleeping. Control requests and
seed files may give times as epoch seconds, ISO-8601 strings, or relative to "now" (``-2d``,
``-90m``, ``+1h``), so a shipped seed stays recent whenever it is loaded.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

_RELATIVE_RE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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


def iso_utc(epoch_seconds: float) -> str:
    """``2026-11-25T23:12:01Z``: whole seconds, UTC."""
    return datetime.fromtimestamp(int(epoch_seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_millis(epoch_seconds: float) -> int:
    return round(epoch_seconds * 1000)


def parse_time(value: object, now: float) -> float:
    """Epoch seconds from a number (epoch seconds), ISO-8601 string, or relative ``-2d``/``+1h``."""
    if isinstance(value, bool):
        raise TypeError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return _aware(value).timestamp()
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a time: {value!r}")
    match = _RELATIVE_RE.match(value)
    if match:
        sign, amount, unit = match.groups()
        delta = float(amount) * _UNIT_SECONDS[unit]
        return now + delta if sign == "+" else now - delta
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return _aware(datetime.fromisoformat(text)).timestamp()


def _aware(moment: datetime) -> datetime:
    # Naive datetimes in seeds and control requests mean UTC, like everything on the wire.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clock_document(clock: ControllableClock) -> dict[str, object]:
    """What ``GET /_control/clock`` answers."""
    now = clock.now()
    return {
        "now": iso_utc(now),
        "epoch_ms": to_millis(now),
        "frozen": clock.frozen,
        "offset_seconds": clock.offset_seconds,
    }

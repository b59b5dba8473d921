"""Conversions between epoch seconds, the API's epoch milliseconds and ISO-8601 UTC strings.

Export rows carry ISO-8601 UTC strings with a ``Z`` suffix and whole seconds
(``2026-11-25T23:12:01Z``); ClosedLoop windows and getCurrentTime use epoch milliseconds;
internally everything is epoch seconds (float). Seed files and control requests may also use
times relative to "now" (``-2d``, ``-90m``, ``+1h``) so a shipped seed stays inside the export
retention window whenever it is loaded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RELATIVE_RE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def iso_utc(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_millis(epoch_seconds: float) -> int:
    return round(epoch_seconds * 1000)


def from_millis(millis: int) -> float:
    return millis / 1000.0


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

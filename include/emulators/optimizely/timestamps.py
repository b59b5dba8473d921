"""Conversions between epoch seconds, the API's epoch milliseconds and ISO-8601 UTC strings.

Export rows carry ISO-8601 UTC strings with a ``Z`` suffix and whole seconds
(``2026-11-25T23:12:01Z``); ClosedLoop windows and getCurrentTime use epoch milliseconds;
internally everything is epoch seconds (float). Seed files and control requests may also use
times relative to "now" (``-2d``, ``-90m``, ``+1h``) so a shipped seed stays inside the export
retention window whenever it is loaded. The shared conversions live in the emulator kit
(include/emulators/kit/clock.py); ``from_millis`` is this API's own.
"""

from __future__ import annotations

from include.emulators.kit.clock import iso_utc, parse_time, to_millis

__all__ = ["from_millis", "iso_utc", "parse_time", "to_millis"]


def from_millis(millis: int) -> float:
    return millis / 1000.0

"""Which event times can be true: not in the future beyond a clock skew, not before the platform existed.

An event dated 2099 or 1970 is not trusted for its date. What that means is the caller's rule: an
open or click is rejected with the reason; an unsubscribe or bounce still takes effect, recorded
with its time of receipt, and the untrusted date is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

#: before this the platform cannot have sent anything (Optimizely Campaign, ex optivo, is younger)
DEFAULT_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: how far an event may lie ahead of our clock (the platform's clock may run slightly ahead)
DEFAULT_MAX_SKEW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class EventDateRules:
    max_skew: timedelta = DEFAULT_MAX_SKEW
    earliest: datetime = DEFAULT_EARLIEST

    def __post_init__(self) -> None:
        if self.max_skew < timedelta(0):
            raise ValueError(f"max_skew must be >= 0, got {self.max_skew}")
        if self.earliest.tzinfo is None:
            raise ValueError("earliest must be timezone-aware")

    def future_reason(self) -> str:
        return f"event time in the future (more than {self.max_skew} ahead of the time of receipt)"

    def ancient_reason(self) -> str:
        return (
            f"event time before {self.earliest.date().isoformat()}, "
            "earlier than the platform can have sent it"
        )

    def untrusted(self, utc: np.ndarray, now: datetime) -> list[str | None]:
        """Per time (``datetime64[us]`` UTC; NaT = malformed, not judged here): why it is not trusted."""
        latest = np.datetime64(_naive_utc(now + self.max_skew), "us")
        earliest = np.datetime64(_naive_utc(self.earliest), "us")
        future = utc > latest
        ancient = utc < earliest
        if not (future.any() or ancient.any()):
            return [None] * len(utc)
        future_reason, ancient_reason = self.future_reason(), self.ancient_reason()
        return [
            future_reason if f else ancient_reason if a else None
            for f, a in zip(future.tolist(), ancient.tolist(), strict=True)
        ]


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("the time of receipt must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None)


def utc_text(moment: datetime) -> str:
    """``moment`` in the canonical ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` form the stage tables load."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

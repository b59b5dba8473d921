"""Feedback events (bounces, unsubscribes, opens, clicks) and the mailings they belong to.

Every event carries two times: ``occurred_at`` (when the recipient bounced, clicked, ...) and
``exported_at`` (when the platform wrote it into its export files). ClosedLoop exports select by
``exported_at``, and the 30-day retention drops events (and whole mailings) by age. Events are kept
per kind, sorted by (exported_at in ms, sequence number), which is also the export row order, so a
window is two bisections and a page continues where the previous one ended (export_paging.py).
Step 4 of the project turns the same events into SFTP response files, which is why they live here
as plain records and not as export rows.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from include.emulators.optimizely.timestamps import iso_utc, to_millis

UNSUBSCRIBE = "unsubscribe"
RESPONSE = "response"  # bounce and other responses; category says which
OUTBOUNCE = "outbounce"  # the recipient went over the bounce threshold
OPEN = "open"
CLICK = "click"
KINDS = (UNSUBSCRIBE, RESPONSE, OUTBOUNCE, OPEN, CLICK)
RESPONSE_CATEGORIES = ("hardbounce", "softbounce", "autoresponder", "unknown")


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    seq: int
    kind: str
    recipient_id: str
    email: str
    list_id: int | None
    mailing_id: int | None
    occurred_at: float
    exported_at: float
    category: str | None = None
    link_url: str | None = None
    hard_bounce_count: int | None = None
    soft_bounce_count: int | None = None

    @property
    def sort_key(self) -> tuple[int, int]:
        return (to_millis(self.exported_at), self.seq)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Mailing:
    id: int
    list_id: int
    name: str
    dispatched_at: float
    recipient_count: int = 0
    #: closed loop: the CRM campaign ("wave") the mailing was sent for, if the CRM said
    wave_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        document = asdict(self)
        document["dispatched_at"] = iso_utc(self.dispatched_at)
        return document


class EventLog:
    """Append-only store of feedback events, indexed per kind in export order. Not locked itself:
    callers hold the state's registry lock."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._events: dict[str, list[FeedbackEvent]] = {kind: [] for kind in KINDS}
        self._keys: dict[str, list[tuple[int, int]]] = {kind: [] for kind in KINDS}
        #: counts appends: a page cursor into the log is only valid while it is unchanged
        self.version = 0

    def append(self, kind: str, **fields: object) -> FeedbackEvent:
        if kind not in self._events:
            raise ValueError(f"unknown event kind {kind!r}")
        event = FeedbackEvent(seq=next(self._seq), kind=kind, **fields)  # type: ignore[arg-type]
        self.version += 1
        keys, events = self._keys[kind], self._events[kind]
        key = event.sort_key
        if not keys or key > keys[-1]:  # the common case: events arrive in export order
            keys.append(key)
            events.append(event)
        else:
            index = bisect.bisect(keys, key)
            keys.insert(index, key)
            events.insert(index, event)
        return event

    def window(self, kind: str, since_ms: int, until_ms: int) -> list[FeedbackEvent]:
        """Events of ``kind`` with since_ms <= exported_at (ms) < until_ms, in export order."""
        events, low, high = self.span(kind, since_ms, until_ms)
        return events[low:high]

    def span(self, kind: str, since_ms: int, until_ms: int) -> tuple[list[FeedbackEvent], int, int]:
        """The log of ``kind`` itself (not a copy: do not change it) and the window's bounds in it."""
        keys = self._keys[kind]
        low = bisect.bisect_left(keys, (since_ms, -1))
        return self._events[kind], low, bisect.bisect_left(keys, (until_ms, -1))

    def count(self, kind: str | None = None) -> int:
        if kind is not None:
            return len(self._events[kind])
        return sum(len(events) for events in self._events.values())

    def __iter__(self) -> Iterator[FeedbackEvent]:
        """All events of every kind in export order (exported_at, then sequence)."""
        return iter(sorted(itertools.chain.from_iterable(self._events.values()), key=lambda e: e.sort_key))

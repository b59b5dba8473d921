"""Page through a ClosedLoop export in O(page) per call, with exactly the rows a full scan gives.

A page is rows ``startRow .. startRow + numberOfRows`` of the *visible* events of a window (already
exported, within the retention, of a mailing where the export needs one). Counting ``startRow``
visible events from the window's start on every call made paging through N rows cost O(N²) in the
emulator (at 500k rows, a minute of the emulator scanning what it had already served), which a
real platform does not charge a client that pages forward.

So each call leaves a cursor: where in the event log the next page starts. The next call of the
same export and window with the following ``startRow`` continues from it, provided the rows
before it are still the same visible rows:

* the event log and the mailings are unchanged (``generation``: an inserted event or a changed
  mailing may shift the rows);
* the clock has not gone back, and no event before the cursor was waiting for its export time
  (as the clock moves forward it would become visible and shift the rows; then no cursor is kept);
* the retention cutoff has not passed any row before the cursor (``keep_until``: the earliest
  event or mailing-dispatch time among them); events already past it stay past it.

Otherwise the call counts from the window's start, as before. ``scanned`` counts the events looked
at, so tests can see the cost without timing it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from include.emulators.optimizely import feedback as fb

if TYPE_CHECKING:
    from include.emulators.optimizely.state import EmulatorState

_MAX_CURSORS = 64


@dataclass(frozen=True, slots=True)
class _Cursor:
    position: int  # index into the event log of the kind
    generation: tuple[int, int]
    now: float
    keep_until: float  # the earliest retention-relevant time of the visible rows before it


class ExportPager:
    """The cursors of one emulator state (reset with it); callers hold the registry lock."""

    def __init__(self) -> None:
        self._cursors: OrderedDict[tuple, _Cursor] = OrderedDict()
        self.scanned = 0

    def page(
        self,
        state: EmulatorState,
        kind: str,
        window: tuple[int, int],
        start_row: int,
        rows: int,
        *,
        export: str,
        now: float,
        include: Callable[[fb.FeedbackEvent], bool],
    ) -> list[fb.FeedbackEvent]:
        """The visible events ``start_row .. start_row + rows`` of ``kind`` in ``window`` (epoch
        ms) of the export named ``export`` at ``now`` (``include``: the export's own filter, e.g.
        mailings only)."""
        log, low, high = state.events.span(kind, *window)
        generation = state.generation()
        cutoff = now - state.retention_seconds
        cursor = self._cursors.pop((export, window, start_row), None)
        if (
            cursor is not None
            and cursor.generation == generation
            and now >= cursor.now
            and cutoff <= cursor.keep_until
        ):
            position, skip, keep_until = cursor.position, 0, cursor.keep_until
        else:
            position, skip, keep_until = low, start_row, float("inf")
        first = position
        page: list[fb.FeedbackEvent] = []
        waiting = False  # an event before the cursor not exported yet: it may become visible
        while position < high and len(page) < rows:
            event = log[position]
            position += 1
            if event.exported_at > now:
                waiting = True
                continue
            kept = state.keep_until(event)
            if kept < cutoff or not include(event):
                continue
            keep_until = min(keep_until, kept)
            if skip:
                skip -= 1
            else:
                page.append(event)
        self.scanned += position - first
        if rows and not waiting and len(page) == rows:
            self._cursors[(export, window, start_row + rows)] = _Cursor(position, generation, now, keep_until)
            while len(self._cursors) > _MAX_CURSORS:
                self._cursors.popitem(last=False)
        return page

"""The demo plays the last two nights before now, so the UI shows real nights (issue 16, point 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from scripts.demo import DemoTimeline


@pytest.mark.parametrize(
    ("now", "night_2"),
    [
        (datetime(2026, 12, 7, 9, 5, tzinfo=UTC), datetime(2026, 12, 7, 3, 0, tzinfo=UTC)),
        # less than an hour after 03:00: the night before, so night 2 lies wholly in the past
        (datetime(2026, 12, 7, 3, 30, tzinfo=UTC), datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),
        (datetime(2026, 12, 7, 1, 0, tzinfo=UTC), datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),
        # a local time zone: the nights are 03:00 UTC all the same
        (
            datetime(2026, 12, 7, 5, 0, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 12, 6, 3, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_last_two_nights_before_now(now: datetime, night_2: datetime) -> None:
    timeline = DemoTimeline.before(now)

    assert timeline.night_2 == night_2 and timeline.night_1 == night_2 - timedelta(days=1)
    assert timeline.night_1 < timeline.mailing < timeline.response_import < timeline.night_2
    assert timeline.night_2 <= now - timedelta(hours=1)
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in vars(timeline).values())

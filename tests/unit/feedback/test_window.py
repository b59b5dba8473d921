"""Export windows: overlap, first import, and the retention-gap detector with its override."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.crm_sync.feedback.errors import FeedbackGapError
from include.crm_sync.feedback.window import export_name, plan_window
from include.crm_sync.platforms.base import FeedbackKind

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def plan(previous, **kw):
    kw.setdefault("overlap", HOUR)
    kw.setdefault("retention", 30 * DAY)
    return plan_window("optimizely:bounces", previous, NOW, **kw)


def test_export_names():
    assert export_name("optimizely", FeedbackKind.BOUNCES) == "optimizely:bounces"
    assert export_name("optimizely", FeedbackKind.UNSUBSCRIBES) == "optimizely:unsubscribes"


def test_next_window_overlaps_the_previous_one():
    window = plan(NOW - 6 * HOUR)
    assert (window.since, window.until, window.previous, window.gap) == (
        NOW - 7 * HOUR,
        NOW,
        NOW - 6 * HOUR,
        None,
    )


def test_first_import_asks_for_everything_the_platform_still_keeps():
    window = plan(None)
    assert (window.since, window.until, window.gap) == (NOW - 30 * DAY, NOW, None)


def test_a_watermark_just_inside_retention_is_fine():
    assert plan(NOW - 30 * DAY).gap is None


def test_gap_longer_than_retention_fails_loudly_with_the_range_that_may_be_lost():
    previous = NOW - 30 * DAY - timedelta(seconds=1)
    with pytest.raises(FeedbackGapError) as err:
        plan(previous)
    message = str(err.value)
    assert (
        "response data between 2026-01-30T11:59:59+00:00 and 2026-01-30T12:00:00+00:00 may be lost" in message
    )
    assert "allow_gap" in message and "optimizely:bounces" in message


def test_operator_override_imports_what_is_left_and_records_the_gap():
    previous = NOW - 45 * DAY
    window = plan(previous, allow_gap=True)
    assert window.since == previous - HOUR and window.until == NOW
    assert window.gap == (previous, NOW - 30 * DAY)


def test_watermark_ahead_of_the_platform_clock_still_overlaps():
    window = plan(NOW + DAY)
    assert (window.since, window.until) == (NOW - HOUR, NOW)


@pytest.mark.parametrize("kw", [{"overlap": -HOUR}, {"retention": timedelta(0)}])
def test_nonsense_settings_are_refused(kw):
    with pytest.raises(ValueError):
        plan(NOW, **kw)

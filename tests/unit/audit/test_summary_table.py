"""The run summary as a plain-text table (task log and demo): headers say what a column holds."""

from __future__ import annotations

from include.crm_sync.audit.summary import ListSummary, RunSummary


def test_the_table_names_the_empty_list_window_and_shows_every_count() -> None:
    item = ListSummary(
        list_name="newsletter_nl",
        platform="optimizely",
        platform_list_id="1001",
        status="synced",
        selected=120,
        excluded={"unsubscribed": 20},
        snapshot_rows=100,
        validated=100,
        validation_failures=[],
        forced=False,
        uploaded=100,
        accepted=98,
        result_codes={"0": 98, "3": 2},
        rejected=2,
        platform_count=98,
        window_seconds=0.25,
        error=None,
    )
    header, row = (
        RunSummary(run_id="r1", dry_run=False, feedback_ok=True, lists=[item]).as_table().splitlines()
    )

    assert header.split("  ")[-1].strip() == "empty list (s)"  # was the cryptic "empty s"
    assert row.split() == [
        "newsletter_nl",
        "synced",
        "120",
        "20",
        "100",
        "100",
        "100",
        "98",
        "98/0/0/2/0/0/0/0",
        "2",
        "98",
        "0.25",
    ]

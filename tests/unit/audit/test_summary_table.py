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
        "-",  # added, removed, refused, unchanged: a refill list has none
        "-",
        "-",
        "-",
        "98",
        "0.25",
    ]


def test_a_membership_list_shows_added_removed_refused_and_unchanged() -> None:
    item = ListSummary(
        list_name="spotler_nl",
        platform="spotler",
        platform_list_id="crm-nl",
        status="synced",
        selected=120,
        excluded={},
        snapshot_rows=100,
        validated=100,
        validation_failures=[],
        forced=False,
        uploaded=100,
        accepted=97,
        result_codes={"0": 7, "5": 90, "2": 3},
        rejected=3,
        platform_count=97,
        window_seconds=None,
        error=None,
        added=7,
        removed=12,
        unchanged=90,
        refused={"CONTACT_OPTOUT": 2, "INVALID_EMAIL": 1},
    )
    header, row = (
        RunSummary(run_id="r1", dry_run=False, feedback_ok=True, lists=[item]).as_table().splitlines()
    )

    assert header.split()[10:17] == ["rej.", "added", "removed", "refused", "unch.", "on", "pf"]
    # status .. codes, then rejected, added, removed, refused (2 + 1 by code), unchanged, on platform
    assert row.split()[8:15] == ["7/0/3/0/0/90/0/0", "3", "7", "12", "3", "90", "97"]
    assert row.split()[-1] == "-"  # no empty-list window: nothing was cleared

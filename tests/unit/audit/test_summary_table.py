"""The run summary as a plain-text table (task log and demo): headers say what a column holds; the
platform lists a run deleted follow it, and one in use is a note (also on the report page)."""

from __future__ import annotations

from dataclasses import replace

from include.crm_sync.audit.report_html import run_page
from include.crm_sync.audit.summary import ListSummary, RunSummary, deletions_from_cleanups

REFILL = ListSummary(
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


def test_the_table_names_the_empty_list_window_and_shows_every_count() -> None:
    item = REFILL
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
    item = replace(
        REFILL,
        list_name="spotler_nl",
        platform="spotler",
        platform_list_id="crm-nl",
        accepted=97,
        result_codes={"0": 7, "5": 90, "2": 3},
        rejected=3,
        platform_count=97,
        window_seconds=None,
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


def test_deleted_platform_lists_follow_the_table_and_one_in_use_is_a_note() -> None:
    cleanups = {
        "spotler": {
            "platform": "spotler",
            "deleted": ["crm-old"],
            "missing": [],
            "in_use": {"crm-busy": "remove the scheduled mailing first"},
            "list_names": {"crm-old": "old_nl"},
        },
        "mailjet": {"platform": "mailjet", "deleted": [], "missing": ["Gone list"], "in_use": {}},
    }
    summary = RunSummary(
        run_id="r1",
        dry_run=False,
        feedback_ok=True,
        lists=[REFILL],
        deletions=deletions_from_cleanups(cleanups),
    )

    lines = summary.as_table().splitlines()[2:]
    assert lines == [
        "mailjet list Gone list (a list no longer in lists.yaml): already gone",
        "spotler list crm-old (list old_nl): deleted",
        "spotler list crm-busy (a list no longer in lists.yaml): in use, not deleted: "
        "remove the scheduled mailing first",
    ]
    assert summary.notes == [lines[-1]]
    assert summary.as_dict()["platform_list_deletions"][1] == {
        "platform": "spotler",
        "platform_list_id": "crm-busy",
        "list_name": None,
        "outcome": "in use, not deleted: remove the scheduled mailing first",
    }
    page = run_page(summary, None, index_href="/")
    assert "Platform lists deleted" in page and "To act on" in page
    assert "<td class=bad>in use, not deleted: remove the scheduled mailing first</td>" in page

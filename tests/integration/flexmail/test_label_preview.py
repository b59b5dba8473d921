"""The label sync's dry run (``label_preview.preview_labels``): counts from the record only, and
they are what the real sync then does."""

from __future__ import annotations

from include.crm_sync.sync.label_preview import preview_labels
from tests.integration.flexmail.crm import build_crm, prepare, set_consent, set_language, sync


def test_the_preview_counts_what_the_sync_then_does(staging_engine, flexmail):
    build_crm(staging_engine, 10)
    set_consent(staging_engine, [9], "events", "revoked")
    sync(staging_engine, flexmail, prepare(staging_engine))
    set_language(staging_engine, [0], "fr")
    sync(
        staging_engine,
        flexmail,
        prepare(staging_engine, "run-2", new_run=True),
        run_id="run-2",
        removal_budget_seconds=0,
    )
    set_language(staging_engine, [0], "nl")  # back before its removal was worked
    set_language(staging_engine, [1, 2], "fr")  # leave dogs
    set_consent(staging_engine, [7, 8], "events", "revoked")  # leave cats
    set_consent(staging_engine, [9], "events", "granted")  # joins cats
    ids = prepare(staging_engine, "run-3", new_run=True)
    calls = flexmail.control.calls()

    preview = preview_labels(staging_engine, ids)

    assert flexmail.control.calls() == calls  # no platform call
    cats, dogs = preview.lists
    assert (dogs.list_name, dogs.label, dogs.members, dogs.leaving, dogs.returning, dogs.gaining) == (
        "dogs",
        "Honden",
        10,
        2,
        1,
        0,
    )
    assert (cats.list_name, cats.members, cats.leaving, cats.returning, cats.gaining) == ("cats", 9, 2, 0, 1)
    assert (preview.import_records, preview.backlog, preview.backlog_urgent) == (1, 1, 0)

    report = sync(staging_engine, flexmail, ids, run_id="run-3")
    dogs_report = report.lists["dogs"]
    assert dogs_report["enqueued_for_removal"] == 2 and dogs_report["removal_cancelled"] == 1
    assert report.lists["cats"]["enqueued_for_removal"] == 2
    assert report.imports[0]["records"] == 1 and report.removed == 4

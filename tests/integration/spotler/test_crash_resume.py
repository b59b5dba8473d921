"""A crash after each kind of Spotler call, then a resume: the audience ends equal to the snapshot.

The emulator applies the call and then drops the connection, on every attempt (``when: after``,
unlimited): the client's retries are used up and the sync fails with the platform changed but its
answer lost -- what a killed worker leaves behind. The faults are then lifted and the same list run
is synced again (an Airflow task retry), or the next night's snapshot is.
"""

from __future__ import annotations

import dataclasses

import pytest

from include.crm_sync.platforms.base import PlatformError
from include.crm_sync.sync.membership import FULL
from tests.integration.spotler.scenario import (
    TARGET,
    add_entities,
    audience,
    build_crm,
    contact_id,
    list_run_row,
    make_platform,
    prepare,
    regrant,
    rename,
    revoke,
    snapshot_ids,
    sync,
)

RENAMED = dataclasses.replace(TARGET, name="Newsletter (renamed)")


def _night_two(engine) -> int:
    revoke(engine, [1, 2])
    add_entities(engine, [10, 11])
    rename(engine, 5, "Changed")
    return prepare(engine, "run-2", new_run=True)


@pytest.mark.parametrize(
    ("operation", "when"),
    [
        ("audience.update", "after"),
        ("contact.list", "after"),
        ("audience.contacts.remove", "after"),
        ("audience.contacts.add", "after"),
        ("audience.contacts.add", "before"),
        ("audience.contacts.empty", "after"),
    ],
)
def test_crash_after_a_call_then_resume(staging_engine, spotler, tmp_path, operation, when):
    build_crm(staging_engine, 10)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    list_run_id = _night_two(staging_engine)
    full = operation == "audience.contacts.empty"
    spotler.control.add_fault(operation, "drop", when=when, times=0)
    with pytest.raises(PlatformError):
        sync(
            staging_engine,
            make_platform(spotler),
            list_run_id,
            tmp_path,
            run_id="run-2",
            target=RENAMED,
            full_resync=full,
        )
    assert list_run_row(staging_engine, list_run_id)["status"] == "syncing"
    spotler.control.clear_faults()

    report = sync(
        staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2", target=RENAMED
    )
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)
    assert contact_id(1) not in audience(spotler) and contact_id(11) in audience(spotler)
    assert spotler.control.audience(TARGET.list_id)["name"] == RENAMED.name
    assert list_run_row(staging_engine, list_run_id)["status"] == "synced"
    if operation in ("audience.contacts.remove", "audience.contacts.add", "audience.contacts.empty"):
        # a membership write may have been lost: the record is in doubt, so empty + add all
        assert report.mode == FULL and "did not complete" in report.full_reason


def test_crash_after_the_audience_was_created_then_resume(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 4)
    list_run_id = prepare(staging_engine)
    spotler.control.add_fault("audience.contacts.add", "drop", when="after", times=0)
    with pytest.raises(PlatformError):
        sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)
    spotler.control.clear_faults()
    spotler.control.add_fault("audience.create", "drop", when="after", times=1)  # created, answer lost
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)
    assert report.mode == FULL


def test_a_lost_create_answer_is_recognised_on_retry(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 3)
    list_run_id = prepare(staging_engine)
    spotler.control.add_fault("audience.create", "drop", when="after", times=1)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)
    assert report.target == "created"
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)


@pytest.mark.parametrize("operation", ["audience.contacts.remove", "audience.contacts.add"])
def test_resume_on_the_next_nights_snapshot_after_a_crash(staging_engine, spotler, tmp_path, operation):
    """The crashed run is never retried, and the next snapshot differs exactly where the lost answers
    were: the removed C00001 consents again, the added C00011 revokes. The record cannot know either
    happened on the platform; only the doubt (empty + add all) ends the audience exact."""
    build_crm(staging_engine, 10)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    list_run_id = _night_two(staging_engine)
    spotler.control.add_fault(operation, "drop", when="after", times=0)
    with pytest.raises(PlatformError):
        sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    spotler.control.clear_faults()
    regrant(staging_engine, [1])
    revoke(staging_engine, [11])
    night_three = prepare(staging_engine, "run-3", new_run=True)
    report = sync(staging_engine, make_platform(spotler), night_three, tmp_path, run_id="run-3")
    assert audience(spotler) == snapshot_ids(staging_engine, night_three)
    assert report.mode == FULL

"""Only the newest validated snapshot of a platform list is uploaded (issue 12 point 1), against the
Optimizely emulator over real HTTP, on SQLite and PostgreSQL.

The reproduction of the issue: run 1's refill fails half-way (HTTP 500 from batch 6 on, retries
exhausted); then people revoke their consent; run 2 syncs the list without them; an operator clears
run 1's failed ``refill``. Before the fix run 1 cleared the list and uploaded its old snapshot, the
revoked people included, and ended ``synced``. Now run 1 ends ``superseded`` without a platform
call and the list stays run 2's. Also: two overlapping runs, the check at resume, a list renamed
in the config (same platform list, other name), and two writers at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.crm_sync.audit.report_html import run_page
from include.crm_sync.audit.summary import build_run_summary
from include.crm_sync.extract import extract_snapshot
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.refill import RefillError, RefillOptions, refill_list
from tests.integration.extract.crm_state import add_sync_run
from tests.integration.sync.scenario import (
    LIST,
    assert_counts_add_up,
    build_crm,
    calls,
    contact_id,
    expected_list,
    list_run_row,
    make_platform,
    platform_list,
    prepare,
    set_status,
)

ROOT = Path(__file__).resolve().parents[3]
CONTACTS = 94  # + 6 the platform refuses = 100 in the snapshot: 10 batches of 10
REVOKED = [contact_id(i) for i in range(0, 94, 9)]  # 11 people who revoke between the runs
BATCH = 10
ONE_AT_A_TIME = RefillOptions(batch_size=BATCH, max_parallel_calls=1, progress_every_seconds=0)


@pytest.fixture
def platform(optimizely_emulator):
    made = []

    def make(**options):
        made.append(make_platform(optimizely_emulator.base_url, **options))
        return made[-1]

    yield make
    for p in made:
        p.close()


def revoke(engine: sa.Engine, entity_ids: list[str]) -> None:
    """People withdraw their consent in the CRM between the runs."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent)
            .where(t.crm_consent.c.entity_id.in_(entity_ids))
            .values(status="revoked", revoked_at=now, updated_at=now)
        )


def fail_half_way(emulator) -> None:
    """Every addAll3 from the 6th on answers HTTP 500, more often than the client retries."""
    emulator.control.add_fault("addAll3", "http500", nth=6, times=0, when="before")


def platform_calls(emulator) -> tuple[int, int]:
    return calls(emulator, "Recipient.clear"), calls(emulator, "Recipient.addAll3")


def assert_superseded_by(engine: sa.Engine, list_run_id: int, run_id: str) -> None:
    row = list_run_row(engine, list_run_id)
    assert row["status"] == "superseded"
    assert f"run {run_id}" in row["error"] and "not uploaded" in row["error"]


def test_an_old_runs_cleared_refill_does_not_upload_its_snapshot_after_a_newer_run_synced(
    staging_engine, optimizely_emulator, platform
):
    """The issue's reproduction, step by step."""
    build_crm(staging_engine, CONTACTS)
    run_1 = prepare(staging_engine, run_id="run-1")
    fail_half_way(optimizely_emulator)
    with pytest.raises(RefillError, match="refill stopped after 5 of 10 batches"):
        refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)
    optimizely_emulator.control.clear_faults()
    assert list_run_row(staging_engine, run_1)["status"] == "refilling"

    revoke(staging_engine, REVOKED)
    run_2 = prepare(staging_engine, run_id="run-2", new_run=True)
    refill_list(staging_engine, platform(), run_2, ONE_AT_A_TIME)
    synced = platform_list(optimizely_emulator)
    assert synced == expected_list(staging_engine, run_2) and not set(REVOKED) & set(synced)
    before = platform_calls(optimizely_emulator)

    # The operator clears run 1's failed refill task: the task runs again.
    with pytest.raises(RefillError, match="superseded"):
        refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)

    assert platform_list(optimizely_emulator) == synced  # run 2's snapshot, nobody who revoked
    assert platform_calls(optimizely_emulator) == before  # neither clear nor addAll3
    assert_superseded_by(staging_engine, run_1, "run-2")
    # the run report and its page say so, and do not count it as a failed list
    summary = build_run_summary(staging_engine, "run-1")
    assert [(i.list_name, i.status) for i in summary.lists] == [(LIST.name, "superseded")]
    assert summary.failed_lists == []
    page = run_page(summary, None, index_href="/")
    assert "superseded" in page and "a newer run&#x27;s validated snapshot" in page and "run run-2" in page
    assert assert_counts_add_up(staging_engine, run_2)["status"] == "synced"
    # and again: a superseded list run stays superseded, still without a platform call
    with pytest.raises(RefillError, match="superseded"):
        refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)
    assert platform_calls(optimizely_emulator) == before


def test_overlapping_runs_only_the_newer_snapshot_is_uploaded_even_under_another_list_name(
    staging_engine, optimizely_emulator, platform
):
    """A manual run beside the nightly one: both validated; run 2 (newer) names the list differently
    in its config, but it is the same platform list -- the rule keys on platform and list id."""
    build_crm(staging_engine, CONTACTS)
    run_1 = prepare(staging_engine, run_id="run-1")
    revoke(staging_engine, REVOKED)
    add_sync_run(staging_engine, "run-2")
    renamed = LIST.model_copy(update={"name": "newsletter_renamed"})
    run_2 = extract_snapshot(staging_engine, renamed, run_id="run-2").list_run_id
    set_status(staging_engine, run_2, "validated")
    before = platform_calls(optimizely_emulator)

    with pytest.raises(RefillError, match="superseded"):
        refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)
    assert platform_calls(optimizely_emulator) == before
    assert_superseded_by(staging_engine, run_1, "run-2")

    refill_list(staging_engine, platform(), run_2, ONE_AT_A_TIME)
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, run_2)
    assert not set(REVOKED) & set(platform_list(optimizely_emulator))


def test_a_resumed_refill_checks_again_and_is_superseded_by_a_newer_validated_snapshot(
    staging_engine, optimizely_emulator, platform
):
    """Run 1 failed half-way; run 2 is validated (not yet uploaded); run 1's retry must not resume."""
    build_crm(staging_engine, CONTACTS)
    run_1 = prepare(staging_engine, run_id="run-1")
    fail_half_way(optimizely_emulator)
    with pytest.raises(RefillError):
        refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)
    optimizely_emulator.control.clear_faults()
    revoke(staging_engine, REVOKED)
    run_2 = prepare(staging_engine, run_id="run-2", new_run=True)
    before = platform_calls(optimizely_emulator)

    with pytest.raises(RefillError, match="superseded"):
        refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)
    assert platform_calls(optimizely_emulator) == before
    assert_superseded_by(staging_engine, run_1, "run-2")

    refill_list(staging_engine, platform(), run_2, ONE_AT_A_TIME)
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, run_2)


def test_an_older_snapshot_that_failed_validation_later_does_not_supersede(
    staging_engine, optimizely_emulator, platform
):
    """Only a *validated* newer snapshot counts: a newer one stopped by a guard leaves run 1 the newest."""
    build_crm(staging_engine, CONTACTS)
    run_1 = prepare(staging_engine, run_id="run-1")
    run_2 = prepare(staging_engine, run_id="run-2", new_run=True)
    set_status(staging_engine, run_2, "guarded")

    refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)

    assert platform_list(optimizely_emulator) == expected_list(staging_engine, run_1)
    assert list_run_row(staging_engine, run_1)["status"] == "synced"


def test_two_writers_at_once_the_second_fails_naming_the_first_and_the_list_ends_as_the_newest(
    staging_engine, optimizely_emulator, platform
):
    """Run 1 is uploading (held at batch 3) when run 2's snapshot is validated and its refill starts:
    run 2 may not write meanwhile; it fails naming run 1. Run 1 finishes; run 2's retry then syncs."""
    from include.crm_sync.sync.writer_lock import LockSettings, WriterLockBusy

    build_crm(staging_engine, CONTACTS)
    run_1 = prepare(staging_engine, run_id="run-1")
    at_batch_3 = threading.Event()
    go_on = threading.Event()
    first = platform()
    original = first.add_prepared  # the refill sends each batch prepared before the clear
    sent = 0

    def add_batch(*args):
        nonlocal sent
        sent += 1
        if sent == 3:
            at_batch_3.set()
            assert go_on.wait(120)
        return original(*args)

    first.add_prepared = add_batch
    errors: list[BaseException] = []

    def refill_run_1() -> None:
        try:
            refill_list(staging_engine, first, run_1, ONE_AT_A_TIME)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    thread = threading.Thread(target=refill_run_1)
    thread.start()
    try:
        assert at_batch_3.wait(120)
        revoke(staging_engine, REVOKED)
        run_2 = prepare(staging_engine, run_id="run-2", new_run=True)
        clears = calls(optimizely_emulator, "Recipient.clear")
        with pytest.raises(WriterLockBusy, match=r"run run-1, list newsletter_test \(list run \d+\)"):
            refill_list(staging_engine, platform(), run_2, ONE_AT_A_TIME, lock=LockSettings(wait_seconds=0))
        assert calls(optimizely_emulator, "Recipient.clear") == clears  # run 2 did not touch the list
        assert list_run_row(staging_engine, run_2)["status"] == "validated"
    finally:
        go_on.set()
        thread.join(120)
    assert errors == []
    assert list_run_row(staging_engine, run_1)["status"] == "synced"  # it was the newest when it began

    refill_list(staging_engine, platform(), run_2, ONE_AT_A_TIME)  # run 2's retry
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, run_2)
    assert not set(REVOKED) & set(platform_list(optimizely_emulator))
    before = platform_calls(optimizely_emulator)
    refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)  # run 1 again: it is done, uploads nothing
    assert platform_calls(optimizely_emulator) == before
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, run_2)


def test_a_killed_writer_holds_the_list_until_its_lease_ends_then_the_newer_run_syncs(
    staging_engine, staging_url, optimizely_emulator, platform
):
    """kill -9 of run 1's refill at batch 4 leaves its lock row behind: run 2 is refused (naming run 1)
    while the lease runs, and takes the list over once it has ended."""
    from include.crm_sync.sync.writer_lock import LockSettings, WriterLockBusy

    build_crm(staging_engine, CONTACTS)
    run_1 = prepare(staging_engine, run_id="run-1")
    env = os.environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.sync.refill_child",
            staging_url,
            optimizely_emulator.base_url,
            str(run_1),
            "4",
            "before",
            str(BATCH),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    revoke(staging_engine, REVOKED)
    run_2 = prepare(staging_engine, run_id="run-2", new_run=True)

    with pytest.raises(WriterLockBusy, match="run run-1"):
        refill_list(staging_engine, platform(), run_2, ONE_AT_A_TIME, lock=LockSettings(wait_seconds=0))
    with staging_engine.connect() as conn:
        expires_at = conn.execute(sa.select(t.writer_lock.c.expires_at)).scalar_one()

    after_lease = LockSettings(wait_seconds=0, clock=lambda: expires_at + timedelta(seconds=1))
    refill_list(staging_engine, platform(), run_2, ONE_AT_A_TIME, lock=after_lease)

    assert platform_list(optimizely_emulator) == expected_list(staging_engine, run_2)
    assert not set(REVOKED) & set(platform_list(optimizely_emulator))
    with pytest.raises(RefillError, match="superseded"):  # run 1's retry
        refill_list(staging_engine, platform(), run_1, ONE_AT_A_TIME)
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, run_2)


def test_a_writer_whose_lease_was_taken_over_stops_before_its_next_batch(
    staging_engine, optimizely_emulator, platform
):
    """Fencing: run 1 stalls past its lease at batch 3 and another writer takes the list over; run 1's
    renewal after that batch finds out and it sends nothing more."""
    from include.crm_sync.sync.writer_lock import Lease, LockKey, LockSettings, try_acquire

    build_crm(staging_engine, CONTACTS)
    run_1 = prepare(staging_engine, run_id="run-1")
    clock_now = [datetime.now(UTC)]
    lock = LockSettings(lease_seconds=600, clock=lambda: clock_now[0])
    p = platform()
    original = p.add_prepared  # the refill sends each batch prepared before the clear
    sent = 0

    def add_batch(*args):
        nonlocal sent
        sent += 1
        if sent == 3:  # the refill hangs for longer than its lease; meanwhile another writer comes
            clock_now[0] += timedelta(seconds=700)
            taken = try_acquire(
                staging_engine,
                LockKey.platform_list("optimizely", LIST.platform_list_id),
                owner="list_run:other",
                holder="run intruder",
                settings=lock,
            )
            assert isinstance(taken, Lease)  # run 1's lease had ended
        return original(*args)

    p.add_prepared = add_batch
    adds = calls(optimizely_emulator, "Recipient.addAll3")
    with pytest.raises(RefillError, match=r"refill stopped after 3 of 10 batches: .*held by run intruder"):
        refill_list(staging_engine, p, run_1, ONE_AT_A_TIME, lock=lock)

    assert calls(optimizely_emulator, "Recipient.addAll3") - adds == 3
    assert list_run_row(staging_engine, run_1)["status"] == "refilling"

"""The clear + refill engine against the Optimizely emulator over real HTTP, on SQLite and PostgreSQL.

Every test drives ``refill_list`` with the real zeep client and platform and asserts end states:
the list's recipients (ids, addresses, attribute values) as the emulator holds them, the audit
rows (codes per recipient, refusals, counts, the empty-list window) and, where a path is claimed
(resume vs clear + refill), the emulator's own call counters.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.platforms.base import Recipient
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.refill import (
    CountMismatch,
    RefillError,
    RefillNotAllowed,
    RefillOptions,
    SnapshotIncomplete,
    refill_list,
)
from tests.integration.sync.scenario import (
    EXCLUDED,
    LIST,
    LIST_ID,
    REFUSED,
    assert_counts_add_up,
    batches,
    build_crm,
    calls,
    expected_list,
    list_run_row,
    make_platform,
    platform_list,
    prepare,
    rejected,
    set_status,
)

ROOT = Path(__file__).resolve().parents[3]
CONTACTS = 94  # + 6 refused = 100 in the snapshot: 10 batches of 10
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


def stale(platform) -> None:
    """Put yesterday's recipient on the list: a refill must remove it."""
    names = LIST.attribute_names
    platform.add_batch(
        str(LIST_ID),
        "2001",
        names,
        [Recipient("OLD-1", "old@example.com", ("2001",) + ("x",) * (len(names) - 1))],
    )


def test_refill_makes_the_list_an_exact_copy_and_records_every_code(
    staging_engine, optimizely_emulator, platform
):
    build_crm(staging_engine, CONTACTS)
    list_run_id = prepare(staging_engine, validate=True)
    p = platform()
    stale(p)

    report = refill_list(
        staging_engine, p, list_run_id, RefillOptions(batch_size=BATCH, max_parallel_calls=4)
    )

    on_platform = platform_list(optimizely_emulator)
    assert on_platform == expected_list(staging_engine, list_run_id)
    assert "OLD-1" not in on_platform
    assert set(on_platform) == {f"C{i:04d}" for i in range(CONTACTS)}
    # the addresses and attributes went over the wire as the snapshot holds them (normalised address)
    assert on_platform["C0007"].email == "person0007@example.com"
    assert on_platform["C0007"].attributes == {
        "opt-in-id": "2001",
        "description": "CRM list newsletter_test",
        "media-type": "email",
        "entity-type": "contact",
        "entity-id": "C0007",
        "first-name": "First C0007",
        "last-name": "Last C0007",
        "language": "nl",
        "city": "Gent",
    }

    # every refusal is stored with its code; code 3 also lands on the CRM blocklist
    assert rejected(staging_engine, list_run_id) == {rid: code for rid, (_, code) in REFUSED.items()}
    with staging_engine.connect() as conn:
        blocked = conn.execute(sa.select(t.crm_blocklist)).mappings().all()
        reasons = dict(
            conn.execute(sa.select(t.list_rejected.c.recipient_id, t.list_rejected.c.reason)).all()
        )
    assert [(b["email_normalized"], b["source"]) for b in blocked] == [
        ("someone@blocked.example", "refill run-1")
    ]
    assert "blocklisted" in reasons["R-BLOCK"] and "filtered" in reasons["R-FILTER"]
    # list_batch.codes: one digit per recipient, in seq order
    with staging_engine.connect() as conn:
        seq_of = dict(conn.execute(sa.select(t.list_snapshot.c.recipient_id, t.list_snapshot.c.seq)).all())
    codes = "".join(b["codes"] for b in batches(staging_engine, list_run_id))
    for rid, (_, code) in REFUSED.items():
        assert codes[seq_of[rid]] == str(code)
    assert codes.count("0") == CONTACTS and len(batches(staging_engine, list_run_id)) == 10

    row = assert_counts_add_up(staging_engine, list_run_id)
    assert row["status"] == "synced" and row["error"] is None
    assert row["excluded"] == {**dict.fromkeys(row["excluded"], 0), **{r: 1 for r in EXCLUDED.values()}}
    assert (row["uploaded"], row["accepted"], row["rejected"]) == (100, 94, 6)
    assert row["result_codes"] == {"0": 94, "1": 1, "2": 1, "3": 1, "4": 1, "6": 1, "7": 1}
    assert (report.uploaded, report.accepted, report.platform_count, report.previous_count) == (
        100,
        94,
        94,
        1,
    )
    # the empty-list window: from clear to the last answer, recorded
    assert row["cleared_at"] <= row["last_batch_at"] <= row["finished_at"]
    assert row["window_seconds"] == round((row["last_batch_at"] - row["cleared_at"]).total_seconds())
    assert report.window_seconds == pytest.approx((row["last_batch_at"] - row["cleared_at"]).total_seconds())

    # the next run leaves the address the platform blocklisted out, and syncs to the same list
    list_run_2 = prepare(staging_engine, run_id="run-2", new_run=True)
    assert list_run_row(staging_engine, list_run_2)["excluded"]["blocklisted"] == 1
    refill_list(staging_engine, p, list_run_2, ONE_AT_A_TIME)
    assert platform_list(optimizely_emulator) == on_platform
    assert_counts_add_up(staging_engine, list_run_2)


def test_the_window_runs_from_clear_to_the_last_answer(staging_engine, optimizely_emulator, platform):
    build_crm(staging_engine, 15)
    list_run_id = prepare(staging_engine)
    t0 = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    ticks = iter([t0, t0 + timedelta(seconds=42.4)])  # the clear, then the last answer

    report = refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME, now=lambda: next(ticks))

    row = list_run_row(staging_engine, list_run_id)
    assert (row["cleared_at"], row["last_batch_at"], row["window_seconds"]) == (
        t0,
        t0 + timedelta(seconds=42.4),
        42,
    )
    assert report.window_seconds == pytest.approx(42.4)


@pytest.mark.parametrize(
    "status, feedback_ok",
    [("validated", False), ("extracted", True), ("invalid", True), ("guarded", True), ("dry_run", True)],
)
def test_no_refill_without_feedback_import_or_validated_snapshot(
    staging_engine, optimizely_emulator, platform, status, feedback_ok
):
    build_crm(staging_engine, 5, feedback_ok=feedback_ok)
    list_run_id = extract_snapshot(staging_engine, LIST, run_id="run-1", require_feedback=False).list_run_id
    set_status(staging_engine, list_run_id, status)
    p = platform()
    stale(p)
    before = platform_list(optimizely_emulator)

    with pytest.raises(
        RefillNotAllowed, match="feedback import" if not feedback_ok else "validated snapshot"
    ):
        refill_list(staging_engine, p, list_run_id, ONE_AT_A_TIME)

    assert platform_list(optimizely_emulator) == before
    assert calls(optimizely_emulator, "Recipient.clear") == 0
    assert batches(staging_engine, list_run_id) == []
    assert list_run_row(staging_engine, list_run_id)["status"] == status


def test_an_incomplete_snapshot_is_refused_before_the_list_is_cleared(
    staging_engine, optimizely_emulator, platform
):
    build_crm(staging_engine, 30)
    list_run_id = prepare(staging_engine)
    with staging_engine.begin() as conn:
        conn.execute(
            sa.delete(t.list_snapshot).where(
                t.list_snapshot.c.list_run_id == list_run_id, t.list_snapshot.c.seq == 33
            )
        )
    p = platform()
    stale(p)

    with pytest.raises(SnapshotIncomplete, match="was not touched"):
        refill_list(staging_engine, p, list_run_id, ONE_AT_A_TIME)

    assert set(platform_list(optimizely_emulator)) == {"OLD-1"}
    assert (
        calls(optimizely_emulator, "Recipient.clear")
        == calls(optimizely_emulator, "Recipient.addAll3") - 1
        == 0
    )
    assert list_run_row(staging_engine, list_run_id)["status"] == "validated"


def test_a_value_xml_cannot_carry_stops_the_refill_before_the_list_is_cleared(
    staging_engine, optimizely_emulator, platform
):
    """Every batch is prepared before ``clear``: a bad value in the 8th batch leaves the list as it was
    (before, the first 7 batches were sent into the cleared list and the refill stopped half-way)."""
    build_crm(staging_engine, CONTACTS)
    list_run_id = prepare(staging_engine)
    key = (t.list_snapshot.c.list_run_id == list_run_id) & (t.list_snapshot.c.seq == 73)
    with staging_engine.begin() as conn:
        values = list(conn.execute(sa.select(t.list_snapshot.c.attr_values).where(key)).scalar_one())
        values[-1] = "bad\x01value"
        conn.execute(sa.update(t.list_snapshot).where(key).values(attr_values=values))
    p = platform()
    stale(p)

    with pytest.raises(RefillError, match="before the list was cleared .*not touched.*U\\+0001"):
        refill_list(staging_engine, p, list_run_id, ONE_AT_A_TIME)

    assert set(platform_list(optimizely_emulator)) == {"OLD-1"}
    assert (
        calls(optimizely_emulator, "Recipient.clear")
        == calls(optimizely_emulator, "Recipient.addAll3") - 1
        == 0
    )
    row = list_run_row(staging_engine, list_run_id)
    assert row["status"] == "validated" and "not touched" in row["error"]
    assert batches(staging_engine, list_run_id) == []


def test_a_count_that_does_not_match_fails_and_the_retry_clears_and_refills(
    staging_engine, optimizely_emulator, platform
):
    """Someone adds a recipient while we refill: getCount != accepted, so the run is not synced."""
    build_crm(staging_engine, CONTACTS)
    list_run_id = prepare(staging_engine)
    p = platform()
    intruder = platform()
    original = p.add_prepared  # the refill sends each batch prepared before the clear

    def add_batch_and_intrude(*args):
        results = original(*args)
        if len(batches(staging_engine, list_run_id)) == 3:
            stale(intruder)
        return results

    p.add_prepared = add_batch_and_intrude
    with pytest.raises(CountMismatch, match="platform count 95 != 94"):
        refill_list(staging_engine, p, list_run_id, ONE_AT_A_TIME)
    row = list_run_row(staging_engine, list_run_id)
    assert row["status"] == "refilling" and "platform count" in row["error"] and row["finished_at"] is None
    assert (row["platform_count"], row["accepted"]) == (95, 94)

    clears = calls(optimizely_emulator, "Recipient.clear")
    report = refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME)

    assert not report.resumed and calls(optimizely_emulator, "Recipient.clear") == clears + 1
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, list_run_id)
    assert "OLD-1" not in platform_list(optimizely_emulator)
    row = assert_counts_add_up(staging_engine, list_run_id)
    assert row["status"] == "synced" and row["error"] is None


# ------------------------------------------------------------------ faults, then a retry

#: fault kinds that fail the call before the platform applies it (the retry can resume) and after
BEFORE = [("http500", "before"), ("drop", "before"), ("soap_fault", "before"), ("expire_session", "before")]
AFTER = [("drop", "after"), ("http500", "after")]


def _fail_at(emulator, kind: str, when: str, batch: int) -> None:
    """Every addAll3 from the ``batch``-th on fails, more often than the client retries."""
    options = {"nth": batch, "times": 0}
    if kind != "expire_session":
        options["when"] = when
    emulator.control.add_fault("addAll3", kind, **options)


@pytest.mark.parametrize("kind, when", BEFORE + AFTER, ids=lambda v: v)
def test_fault_at_a_batch_then_retry_ends_with_the_exact_list(
    staging_engine, optimizely_emulator, platform, kind, when
):
    build_crm(staging_engine, CONTACTS)
    list_run_id = prepare(staging_engine)
    stale(platform())
    k = 6  # 1-based: batches 1..5 are confirmed, the 6th fails
    _fail_at(optimizely_emulator, kind, when, k)

    with pytest.raises(RefillError, match="refill stopped after 5 of 10 batches"):
        refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME)

    row = list_run_row(staging_engine, list_run_id)
    assert row["status"] == "refilling" and row["error"] and row["finished_at"] is None
    assert [b["batch_no"] for b in batches(staging_engine, list_run_id)] == [0, 1, 2, 3, 4]
    on_platform = len(platform_list(optimizely_emulator))
    confirmed = sum(b["accepted"] for b in batches(staging_engine, list_run_id))
    # "after" faults applied the batch although no answer came back: the platform is ahead of the audit
    assert on_platform == confirmed if when == "before" else on_platform > confirmed

    optimizely_emulator.control.clear_faults()
    adds, clears = (
        calls(optimizely_emulator, "Recipient.addAll3"),
        calls(optimizely_emulator, "Recipient.clear"),
    )
    report = refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME)  # the task's retry

    if when == "before":  # count == confirmed accepted: only the missing batches are sent
        assert report.resumed and report.batches_sent == 5
        assert calls(optimizely_emulator, "Recipient.addAll3") - adds == 5
        assert calls(optimizely_emulator, "Recipient.clear") == clears
    else:  # count != confirmed accepted: clear and refill from scratch
        assert not report.resumed and report.batches_sent == 10
        assert calls(optimizely_emulator, "Recipient.addAll3") - adds == 10
        assert calls(optimizely_emulator, "Recipient.clear") == clears + 1
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, list_run_id)
    assert rejected(staging_engine, list_run_id) == {rid: code for rid, (_, code) in REFUSED.items()}
    row = assert_counts_add_up(staging_engine, list_run_id)
    assert row["status"] == "synced" and row["error"] is None
    assert row["result_codes"] == {"0": 94, "1": 1, "2": 1, "3": 1, "4": 1, "6": 1, "7": 1}


@pytest.mark.parametrize("batch", range(1, 11))
def test_a_dropped_answer_at_any_batch_then_retry_ends_with_the_exact_list(
    sqlite_engine, optimizely_emulator, platform, batch
):
    """The nastiest fault (applied, never answered) at every batch position, with 3 calls in flight."""
    build_crm(sqlite_engine, CONTACTS)
    list_run_id = prepare(sqlite_engine)
    _fail_at(optimizely_emulator, "drop", "after", batch)
    options = RefillOptions(batch_size=BATCH, max_parallel_calls=3)

    with pytest.raises(RefillError):
        refill_list(sqlite_engine, platform(), list_run_id, options)
    assert list_run_row(sqlite_engine, list_run_id)["status"] == "refilling"

    optimizely_emulator.control.clear_faults()
    refill_list(sqlite_engine, platform(), list_run_id, options)

    assert platform_list(optimizely_emulator) == expected_list(sqlite_engine, list_run_id)
    assert len(platform_list(optimizely_emulator)) == CONTACTS
    assert assert_counts_add_up(sqlite_engine, list_run_id)["status"] == "synced"


def test_a_transient_fault_the_client_retries_away_leaves_code_5_for_the_applied_batch(
    staging_engine, optimizely_emulator, platform
):
    """One dropped answer, repeated by the client: the repeat answers 'already in the list' (5),
    which counts as accepted; the list and the counts are still exact."""
    build_crm(staging_engine, CONTACTS)
    list_run_id = prepare(staging_engine)
    optimizely_emulator.control.add_fault("addAll3", "drop", nth=3, times=1, when="after")

    refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME)

    assert platform_list(optimizely_emulator) == expected_list(staging_engine, list_run_id)
    row = assert_counts_add_up(staging_engine, list_run_id)
    third = batches(staging_engine, list_run_id)[2]["codes"]
    assert set(third) <= {"5", "1", "2", "3", "4", "6", "7"} and "5" in third
    assert row["accepted"] == CONTACTS and row["status"] == "synced"


def test_a_resume_needs_the_same_batch_size_else_it_refills(staging_engine, optimizely_emulator, platform):
    """Batches 0-2 of 7 rows were confirmed (seqs 0-20); the retry runs with 10 per batch. Skipping
    "batches 0-2" of the new size would skip seqs 21-29 that never reached the platform."""
    build_crm(staging_engine, CONTACTS)
    list_run_id = prepare(staging_engine)
    _fail_at(optimizely_emulator, "http500", "before", 4)
    with pytest.raises(RefillError):
        refill_list(
            staging_engine, platform(), list_run_id, RefillOptions(batch_size=7, max_parallel_calls=1)
        )
    optimizely_emulator.control.clear_faults()

    report = refill_list(
        staging_engine, platform(), list_run_id, RefillOptions(batch_size=BATCH, max_parallel_calls=2)
    )

    assert not report.resumed and report.batches_sent == 10
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, list_run_id)
    assert assert_counts_add_up(staging_engine, list_run_id)["status"] == "synced"


@pytest.mark.parametrize("when, resumed", [("before", True), ("after", False)])
def test_a_killed_task_is_resumed_or_refilled_by_its_retry(
    staging_engine, staging_url, optimizely_emulator, platform, when, resumed
):
    """SIGKILL of the process doing the refill at batch 4, then a retry in a fresh process state."""
    build_crm(staging_engine, CONTACTS)
    list_run_id = prepare(staging_engine)
    stale(platform())
    env = os.environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.sync.refill_child",
            staging_url,
            optimizely_emulator.base_url,
            str(list_run_id),
            "4",
            when,
            str(BATCH),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert [b["batch_no"] for b in batches(staging_engine, list_run_id)] == [0, 1, 2]
    assert list_run_row(staging_engine, list_run_id)["status"] == "refilling"
    assert "OLD-1" not in platform_list(optimizely_emulator)  # it had cleared the list

    adds = calls(optimizely_emulator, "Recipient.addAll3")
    report = refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME)

    assert report.resumed is resumed
    assert calls(optimizely_emulator, "Recipient.addAll3") - adds == (7 if resumed else 10)
    assert platform_list(optimizely_emulator) == expected_list(staging_engine, list_run_id)
    row = assert_counts_add_up(staging_engine, list_run_id)
    assert row["status"] == "synced"
    assert row["last_batch_at"] >= row["cleared_at"]


def test_a_rerun_changes_nothing(staging_engine, optimizely_emulator, platform):
    """Invariant 3: the same list run again is a no-op; a new run of the same CRM gives the same list."""
    build_crm(staging_engine, CONTACTS)
    list_run_id = prepare(staging_engine)
    refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME)
    first = platform_list(optimizely_emulator)
    audit = (list_run_row(staging_engine, list_run_id), batches(staging_engine, list_run_id))
    adds, clears = (
        calls(optimizely_emulator, "Recipient.addAll3"),
        calls(optimizely_emulator, "Recipient.clear"),
    )

    again = refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME)

    assert calls(optimizely_emulator, "Recipient.addAll3") == adds
    assert calls(optimizely_emulator, "Recipient.clear") == clears
    assert platform_list(optimizely_emulator) == first
    assert (list_run_row(staging_engine, list_run_id), batches(staging_engine, list_run_id)) == audit
    assert (again.accepted, again.platform_count, again.uploaded) == (CONTACTS, CONTACTS, 100)

    list_run_2 = prepare(staging_engine, run_id="run-2", new_run=True)
    refill_list(staging_engine, platform(), list_run_2, RefillOptions(batch_size=BATCH, max_parallel_calls=4))
    assert platform_list(optimizely_emulator) == first
    assert assert_counts_add_up(staging_engine, list_run_2)["accepted"] == CONTACTS


def test_an_empty_snapshot_forced_past_the_guard_empties_the_list(
    staging_engine, optimizely_emulator, platform
):
    build_crm(staging_engine, 0)
    with staging_engine.begin() as conn:  # nobody eligible: every entity loses the consent
        conn.execute(sa.update(t.crm_consent).values(status="revoked"))
    list_run_id = prepare(staging_engine)
    stale(platform())

    report = refill_list(staging_engine, platform(), list_run_id, ONE_AT_A_TIME)

    assert platform_list(optimizely_emulator) == {}
    assert (report.uploaded, report.accepted, report.platform_count, report.batches_sent) == (0, 0, 0, 0)
    assert list_run_row(staging_engine, list_run_id)["status"] == "synced"

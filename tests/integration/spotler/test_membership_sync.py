"""Membership sync of a Spotler audience over real HTTP against the emulator, on SQLite and
PostgreSQL: first sync, a quiet night, churn (removals first), batching at the platform's limits,
full resync, rename, the guard, and the opted-out contact that is never added."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import sqlalchemy as sa

from include.crm_sync.imports.sql_files import import_sql
from include.crm_sync.platforms.spotler.errors import ProductNotFound, SpotlerTransientError
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.membership import FULL, INCREMENTAL, RemovalGuardTripped
from include.crm_sync.sync.membership_store import RecordedHashes
from include.emulators.spotler.runner import SpotlerEmulatorServer
from tests.integration.spotler.scenario import (
    AUDIENCE,
    KEY,
    SECRET,
    TARGET,
    add_entities,
    audience,
    build_crm,
    calls,
    consent_status,
    contact_id,
    list_run_row,
    make_platform,
    prepare,
    rename,
    revoke,
    snapshot_ids,
    sync,
)


def test_first_sync_creates_the_audience_and_adds_everyone(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 5)
    list_run_id = prepare(staging_engine)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)

    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id) == {contact_id(i) for i in range(5)}
    state = spotler.control.audience(AUDIENCE)
    assert (state["name"], state["description"]) == (TARGET.name, TARGET.description)
    contact = next(c for c in spotler.control.state()["contacts"] if c["externalId"] == contact_id(3))
    assert contact["properties"]["email"] == "person00003@example.com"
    assert contact["properties"]["firstName"] == f"First {contact_id(3)}"
    assert (report.mode, report.full_reason, report.target) == (FULL, "first sync", "created")
    assert (report.upserted, report.added, report.removed, report.unchanged, report.members) == (
        5,
        5,
        0,
        0,
        5,
    )
    row = list_run_row(staging_engine, list_run_id)
    assert (row["status"], row["uploaded"], row["accepted"], row["platform_count"]) == ("synced", 5, 5, 5)


def test_a_quiet_night_sends_no_upsert_and_no_membership_call(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 120)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    before = calls(spotler)
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")

    spent = {k: v - before.get(k, 0) for k, v in calls(spotler).items() if v != before.get(k, 0)}
    assert spent == {"audience.get": 1}  # the audience's name/description check, nothing else
    assert (report.mode, report.upserted, report.added, report.removed, report.unchanged) == (
        INCREMENTAL,
        0,
        0,
        0,
        120,
    )
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)


def test_churn_removes_who_left_adds_who_is_new_and_re_uploads_only_changed_fields(
    staging_engine, spotler, tmp_path
):
    build_crm(staging_engine, 10)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    revoke(staging_engine, [1, 2])
    add_entities(staging_engine, [10, 11])
    rename(staging_engine, 5, "Renamed")
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")

    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)
    assert contact_id(1) not in audience(spotler) and contact_id(11) in audience(spotler)
    assert (report.upserted, report.removed, report.added, report.unchanged) == (3, 2, 2, 8 - 1 + 1)
    contact = next(c for c in spotler.control.state()["contacts"] if c["externalId"] == contact_id(5))
    assert contact["properties"]["firstName"] == "Renamed"


def test_each_phase_logs_its_progress_with_counts_and_no_addresses(staging_engine, spotler, tmp_path, caplog):
    """An operator watching a 2.8M-member sync saw nothing between the lock line and the end."""
    build_crm(staging_engine, 30)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    revoke(staging_engine, [1, 2])
    add_entities(staging_engine, [30])
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    caplog.set_level(logging.INFO, logger="include.crm_sync.sync.membership")
    caplog.clear()  # night 2's lines only
    sync(
        staging_engine,
        make_platform(spotler),
        list_run_id,
        tmp_path,
        run_id="run-2",
        page_size=10,
        progress_every_seconds=0,
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "include.crm_sync.sync.membership"]
    checked = [line for line in lines if ": checked for upload: batch" in line]
    assert len(checked) == 3 and "batch 3/3, 29/29 recipients" in checked[-1]
    assert any(": removed: batch 1/1, 2/2 recipients" in line for line in lines), lines
    assert any(": added: batch 1/1, 1/1 recipients" in line for line in lines), lines
    assert not any("@" in line for line in lines)


def test_removals_happen_before_adds(staging_engine, spotler, tmp_path):
    """Adds fail for good: the members who left must already be gone (consent first)."""
    build_crm(staging_engine, 6)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    revoke(staging_engine, [0, 1])
    add_entities(staging_engine, [6])
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    spotler.control.add_fault("audience.contacts.add", "http500", times=0)
    with pytest.raises(SpotlerTransientError):
        sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert audience(spotler) == {contact_id(i) for i in range(2, 6)}


@pytest.mark.parametrize(
    ("contacts", "upserts", "adds"), [(100, 1, 1), (101, 2, 1), (2500, 25, 1), (2501, 26, 2)]
)
def test_batches_at_the_platform_limits(sqlite_engine, spotler, tmp_path, contacts, upserts, adds):
    build_crm(sqlite_engine, contacts)
    list_run_id = prepare(sqlite_engine)
    report = sync(sqlite_engine, make_platform(spotler), list_run_id, tmp_path, page_size=1000)
    spent = calls(spotler)
    assert (spent["contact.list"], spent["audience.contacts.add"]) == (upserts, adds)
    assert report.calls["upsert"] == upserts and report.calls["add_members"] == adds
    assert len(audience(spotler)) == contacts


def test_removal_sends_its_body_so_only_those_leave(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 3)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    revoke(staging_engine, [0, 1])
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert audience(spotler) == {contact_id(2)}  # a dropped body would have emptied the audience
    assert calls(spotler).get("audience.contacts.empty", 0) == 0 and report.removed == 2


def test_full_resync_empties_and_adds_all(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 4)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    spotler.control.add_contacts([{"externalId": "STRANGER", "properties": {"email": "x@example.org"}}])
    make_platform(spotler).add_members(AUDIENCE, ["STRANGER"])  # someone put a member there by hand
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(
        staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2", full_resync=True
    )
    assert (report.mode, report.full_reason) == (FULL, "full resync requested")
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)
    # once: the first sync created the audience (empty already)
    assert report.added == 4 and calls(spotler)["audience.contacts.empty"] == 1
    row = list_run_row(staging_engine, list_run_id)  # the empty-list window is audited
    assert row["cleared_at"] is not None and row["last_batch_at"] >= row["cleared_at"]
    assert row["window_seconds"] is not None


def test_a_changed_name_or_description_renames_the_audience(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 2)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    renamed = dataclasses.replace(TARGET, name="Newsletter NL", description="renamed in lists.yaml")
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(
        staging_engine, make_platform(spotler), list_run_id, tmp_path, target=renamed, run_id="run-2"
    )
    state = spotler.control.audience(AUDIENCE)
    assert (state["name"], state["description"]) == ("Newsletter NL", "renamed in lists.yaml")
    assert report.target == "updated" and report.mode == INCREMENTAL
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)


def test_the_guard_stops_a_mass_removal_before_anything_is_removed(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 10)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    revoke(staging_engine, list(range(6)))
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    with pytest.raises(RemovalGuardTripped, match="6 of the 10 members"):
        sync(
            staging_engine,
            make_platform(spotler),
            list_run_id,
            tmp_path,
            run_id="run-2",
            max_removal_ratio=0.5,
        )
    assert len(audience(spotler)) == 10
    assert list_run_row(staging_engine, list_run_id)["status"] == "guarded"
    report = sync(
        staging_engine,
        make_platform(spotler),
        list_run_id,
        tmp_path,
        run_id="run-2",
        max_removal_ratio=0.5,
        force=True,
    )
    assert report.removed == 6 and audience(spotler) == snapshot_ids(staging_engine, list_run_id)


def test_a_contact_opted_out_in_spotler_is_never_added_and_goes_back_to_the_crm(
    staging_engine, spotler, tmp_path
):
    build_crm(staging_engine, 3)
    spotler.control.add_contacts(
        [{"externalId": contact_id(1), "properties": {"email": "person00001@example.com"}}]
    )
    spotler.control.opt_out(contact_id(1))
    list_run_id = prepare(staging_engine)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)

    assert audience(spotler) == {contact_id(0), contact_id(2)}
    assert report.opted_out == 1 and report.refused == {"CONTACT_OPTOUT": 1}
    assert consent_status(staging_engine, contact_id(1)) == "revoked"
    with staging_engine.connect() as conn:
        rejected = conn.execute(sa.select(t.list_rejected.c.recipient_id, t.list_rejected.c.code)).all()
    assert rejected == [(contact_id(1), 2)]
    # and the next night: excluded by the CRM itself, still not added
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert contact_id(1) not in snapshot_ids(staging_engine, list_run_id) | audience(spotler)


def test_a_contact_opted_out_after_being_added_is_removed_when_its_upsert_says_so(
    staging_engine, spotler, tmp_path
):
    build_crm(staging_engine, 3)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    spotler.control.opt_out(contact_id(2))  # the feedback import has not run (its own tests)
    rename(staging_engine, 2, "Changed")  # so the contact is uploaded again and Spotler answers OPTOUT
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert audience(spotler) == {contact_id(0), contact_id(1)}
    assert report.removed == 1 and report.opted_out == 1


def test_without_the_automation_product_the_sync_fails_with_the_sentence(staging_engine, tmp_path):
    build_crm(staging_engine, 1)
    list_run_id = prepare(staging_engine)
    with SpotlerEmulatorServer(
        port=0, consumer_key=KEY, consumer_secret=SECRET, automation_product=False
    ) as s:
        with pytest.raises(ProductNotFound, match="Automation or eCommerce"):
            sync(staging_engine, make_platform(s), list_run_id, tmp_path)


def test_changed_contacts_spread_over_pages_share_full_upsert_calls(sqlite_engine, spotler, tmp_path):
    build_crm(sqlite_engine, 30)
    sync(sqlite_engine, make_platform(spotler), prepare(sqlite_engine), tmp_path, page_size=10)
    for i in (3, 14, 25):  # one in each page of 10
        rename(sqlite_engine, i, "Changed")
    before = calls(spotler)["contact.list"]
    list_run_id = prepare(sqlite_engine, "run-2", new_run=True)
    report = sync(sqlite_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2", page_size=10)
    assert calls(spotler)["contact.list"] - before == 1 and report.upserted == 3


def test_refused_contacts_are_audited_not_added_and_retried_next_night(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 150)
    spotler.control.add_fault("contact.list", "contact_error", nth=2, times=1)  # the 2nd batch: 50 ERRORs
    list_run_id = prepare(staging_engine)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)
    assert report.refused == {"ERROR": 50} and report.added == 100 and len(audience(spotler)) == 100
    row = list_run_row(staging_engine, list_run_id)
    assert (row["uploaded"], row["accepted"], row["rejected"]) == (150, 100, 50)
    assert row["result_codes"] == {"0": 100, "7": 50}
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert (report.upserted, report.added, report.unchanged) == (50, 50, 100)
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)


@pytest.mark.postgres
def test_the_record_is_analyzed_after_the_upserts_so_the_adds_page_by_the_snapshot(
    staging_url, spotler, tmp_path
):
    """Without fresh statistics the planner read the whole record for each page of adds (quadratic
    at 1M contacts, found by bench/run.py --only spotler)."""
    if not staging_url.startswith("postgresql"):
        pytest.skip("PostgreSQL planner statistics")
    engine = sa.create_engine(staging_url)
    try:
        build_crm(engine, 40)
        list_run_id = prepare(engine)
        sync(engine, make_platform(spotler), list_run_id, tmp_path)
        with engine.connect() as conn:
            estimated = dict(
                conn.exec_driver_sql(
                    "SELECT relname, reltuples FROM pg_class "
                    "WHERE relname IN ('platform_membership', 'list_snapshot')"
                ).all()
            )
        assert estimated == {"platform_membership": 40, "list_snapshot": 40}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_upserts_read_the_record_in_one_query_not_one_per_page(staging_url, spotler, tmp_path):
    """A lookup of the record per snapshot page read the whole record each time on a first night
    (empty-table statistics: 29 of 76 s at 1M contacts, quadratic); the upsert phase now streams the
    recorded hashes alongside the snapshot, in one query planned as a hash join. Night 2 shows the
    hashes are still compared: only the renamed contact is uploaded again."""
    if not staging_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL read streams; SQLite, in-process, reads a page at a time")
    engine = sa.create_engine(staging_url)
    record_reads: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        if statement.lstrip().upper().startswith("SELECT") and "platform_membership" in statement:
            record_reads.append(statement)

    try:
        build_crm(engine, 40)
        list_run_id = prepare(engine)
        sync(engine, make_platform(spotler), list_run_id, tmp_path, page_size=10)
        rename(engine, 3, "Renamed")
        list_run_id = prepare(engine, "run-2", new_run=True)
        # The new snapshot has no statistics yet, as at the start of every sync: the planner then
        # takes a nested loop, which read the whole record again for every snapshot row (2 s a
        # fetch of 1,000 at 1M). The sync's plan settings keep it to a join that reads it once.
        assert "Nested Loop" not in _recorded_hashes_plan(engine, list_run_id)
        record_reads.clear()
        report = sync(engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2", page_size=10)
        # reads of recorded hashes (not the pages of adds and removals, which have a LIMIT)
        hash_reads = [
            s for s in record_reads if "FIELDS_HASH" in s.upper().split("FROM")[0] and "LIMIT" not in s
        ]
        assert len(hash_reads) == 1, hash_reads  # 4 pages of 10, one streamed query
        assert (report.upserted, report.added, report.removed) == (1, 0, 0)
    finally:
        engine.dispose()


def _recorded_hashes_plan(engine: sa.Engine, list_run_id: int) -> str:
    with engine.begin() as conn:
        for setting in RecordedHashes.PLAN_SETTINGS:
            conn.exec_driver_sql(setting)
        params = {"platform": "spotler", "platform_list_id": AUDIENCE, "list_run_id": list_run_id}
        plan = conn.execute(
            sa.text("EXPLAIN " + str(import_sql("membership", "recorded_hashes"))),
            {**params, "first_seq": 0, "end_seq": 2**31 - 1},
        ).scalars()
        return "\n".join(plan)

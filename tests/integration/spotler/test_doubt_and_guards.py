"""When the record is in doubt the sync empties and adds all; the writer guard wraps every write;
the preconditions hold before anything is sent."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from include.crm_sync.platforms.spotler.client import SpotlerClient
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.membership import (
    FULL,
    INCREMENTAL,
    MembershipSyncNotAllowed,
    sync_membership,
)
from include.crm_sync.sync.membership_optouts import crm_opt_out_sink
from include.crm_sync.sync.membership_preview import preview_membership
from tests.integration.spotler.scenario import (
    KEY,
    TARGET,
    add_entities,
    audience,
    build_crm,
    calls,
    make_platform,
    prepare,
    revoke,
    snapshot_ids,
    sync,
)


def test_a_record_that_disagrees_with_the_last_sync_means_empty_and_add_all(
    staging_engine, spotler, tmp_path
):
    build_crm(staging_engine, 5)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    with staging_engine.begin() as conn:  # the record lost a member (a restored backup, a bug...)
        conn.execute(sa.delete(t.platform_membership).where(t.platform_membership.c.member_id == "C00002"))
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert report.mode == FULL and "the record holds 4 members, the last sync left 5" in report.full_reason
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)


def test_an_audience_deleted_in_spotler_is_created_again_and_filled(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 3)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    make_platform(spotler).delete_target(TARGET.list_id)
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert (report.mode, report.target) == (FULL, "created")
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)


def test_the_writer_guard_is_held_around_every_write_and_can_stop_the_sync(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 3)
    list_run_id = prepare(staging_engine)
    seen = []

    class Lease:
        renewals = 0

        def renew(self) -> None:
            Lease.renewals += 1

    @contextmanager
    def guard(context):
        seen.append((context.platform, context.platform_list_id, context.list_run_id, calls(spotler)))
        yield Lease()
        seen.append(calls(spotler))

    platform = make_platform(spotler)
    sink = crm_opt_out_sink(staging_engine, platform="spotler", landing_dir=tmp_path, run_id="run-1")
    sync_membership(staging_engine, platform, list_run_id, TARGET, opt_outs=sink, writer_guard=guard)
    assert seen[0][:3] == ("spotler", TARGET.list_id, list_run_id) and seen[0][3] == {}  # before any call
    assert Lease.renewals >= 1

    @contextmanager
    def superseded(context):
        raise MembershipSyncNotAllowed("a newer snapshot of this platform list exists")
        yield  # pragma: no cover

    before = calls(spotler)
    with pytest.raises(MembershipSyncNotAllowed, match="newer snapshot"):
        sync_membership(staging_engine, platform, list_run_id, TARGET, opt_outs=sink, writer_guard=superseded)
    assert calls(spotler) == before


def test_nothing_is_sent_without_this_runs_feedback_import(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 2)
    list_run_id = prepare(staging_engine)
    with staging_engine.begin() as conn:
        conn.execute(sa.update(t.sync_run).values(feedback_ok=False))
    with pytest.raises(MembershipSyncNotAllowed, match="feedback import"):
        sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)
    assert calls(spotler) == {}


def test_an_unvalidated_snapshot_is_not_synced(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 2)
    list_run_id = prepare(staging_engine)
    with staging_engine.begin() as conn:
        conn.execute(sa.update(t.list_run).values(status="invalid"))
    with pytest.raises(MembershipSyncNotAllowed, match="only a validated snapshot"):
        sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)
    assert calls(spotler) == {}


def test_the_same_run_synced_again_changes_nothing(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 4)
    list_run_id = prepare(staging_engine)
    sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)
    before = calls(spotler)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path)
    assert report.mode == INCREMENTAL and (report.added, report.removed, report.upserted) == (0, 0, 0)
    assert {k: v - before.get(k, 0) for k, v in calls(spotler).items() if v != before.get(k, 0)} == {
        "audience.get": 1
    }


def test_wrong_credentials_fail_without_retry(spotler):
    client = SpotlerClient(spotler.api_url, KEY, "not-the-secret")
    with pytest.raises(Exception, match="consumer key and secret"):
        client.get_audience("x")
    assert calls(spotler).get("audience.get", 0) <= 1


def test_the_dry_run_preview_counts_from_the_record_without_calls(staging_engine, spotler, tmp_path):
    build_crm(staging_engine, 6)
    first = prepare(staging_engine)
    assert preview_membership(staging_engine, "spotler", TARGET.list_id, first).as_dict() == {
        "mode": "full",
        "reason": "first sync",
        "members": 0,
        "leaving": 0,
        "joining": 6,
        "snapshot_rows": 6,
    }
    sync(staging_engine, make_platform(spotler), first, tmp_path)
    revoke(staging_engine, [0, 1])
    add_entities(staging_engine, [6])
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    before = calls(spotler)
    preview = preview_membership(staging_engine, "spotler", TARGET.list_id, list_run_id)
    assert (preview.mode, preview.members, preview.leaving, preview.joining) == ("incremental", 6, 2, 1)
    assert calls(spotler) == before


def test_contacts_gone_from_spotler_are_uploaded_again_before_the_add(staging_engine, spotler, tmp_path):
    """The account lost its contacts and the audience (here: the emulator reset); our record still
    holds their hashes, so no upsert is due -- the add's 404 "Contacts not found" must bring them back."""
    build_crm(staging_engine, 5)
    sync(staging_engine, make_platform(spotler), prepare(staging_engine), tmp_path)
    spotler.control.reset()
    list_run_id = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, make_platform(spotler), list_run_id, tmp_path, run_id="run-2")
    assert audience(spotler) == snapshot_ids(staging_engine, list_run_id)
    assert report.upserted == 5 and report.added == 5
    assert calls(spotler)["audience.contacts.add"] == 2  # refused once (404), then accepted

"""The Flexmail label sync against the emulator over real HTTP, on SQLite and PostgreSQL: first
sync, removals first and by urgency, the backlog across runs, exact label names, blacklisted
contacts, and the report."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from include.crm_sync.audit.summary import build_run_summary
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.label_sync import LabelListsFailed, RemovalBacklogTooLarge
from tests.integration.extract.crm_state import CrmState
from tests.integration.flexmail.crm import (
    build_crm,
    email,
    feedback,
    pid,
    prepare,
    set_consent,
    set_language,
    snapshot_emails,
    sync,
)
from tests.integration.flexmail.scenario import HONDEN, KATTEN


def carriers(flexmail, label_id):
    return sorted(flexmail.control.label_members(label_id))


def test_first_sync_labels_exactly_the_snapshots_with_one_import(staging_engine, flexmail):
    build_crm(staging_engine, 12)
    set_language(staging_engine, [10, 11], "fr")  # not in the dogs selection
    dogs, cats = prepare(staging_engine)
    report = sync(staging_engine, flexmail, [dogs, cats], records_per_call=5)
    assert carriers(flexmail, HONDEN) == sorted(
        snapshot_emails(staging_engine, dogs) + ["an.peeters@example.com"]
    )
    assert carriers(flexmail, KATTEN) == snapshot_emails(staging_engine, cats)
    # one import for both lists: 12 contacts (one record each, with every label), in chunks of 5
    [imported] = report.imports
    assert imported["status"] == "completed" and imported["records"] == 12 and imported["chunks"] == 3
    assert imported["report"] == {"total_added": 12, "total_updated": 0, "total_ignored": 0}
    assert flexmail.control.calls()["imports.create"] == 1
    assert report.lists["dogs"]["members"] == 10 and report.lists["cats"]["members"] == 12
    assert report.backlog == 0
    contact = next(c for c in flexmail.control.state()["contacts"] if c["email"] == email(0))
    assert (contact["first_name"], contact["name"], contact["language"]) == (
        "First P0000",
        "Last P0000",
        "nl",
    )
    with staging_engine.connect() as conn:
        statuses = conn.execute(sa.select(t.list_run.c.status)).scalars().all()
    assert statuses == ["synced", "synced"]


def test_quiet_night_sends_no_import(staging_engine, flexmail):
    build_crm(staging_engine, 5)
    sync(staging_engine, flexmail, prepare(staging_engine))
    before = flexmail.control.calls()
    report = sync(staging_engine, flexmail, prepare(staging_engine, "run-2", new_run=True), run_id="run-2")
    after = flexmail.control.calls()
    assert report.imports == [] and after.get("imports.create") == before.get("imports.create")
    assert sum(after.values()) - sum(before.values()) == 1  # the label list only


def test_removals_first_urgent_first_backlog_across_runs(staging_engine, flexmail):
    build_crm(staging_engine, 10)
    sync(staging_engine, flexmail, prepare(staging_engine))
    set_language(staging_engine, [0, 1, 2], "fr")  # left the dogs selection: not urgent
    set_consent(staging_engine, [7, 8], "newsletter", "revoked")  # consent revoked: urgent
    ids = prepare(staging_engine, "run-2", new_run=True)
    # budget for ~3 removals (2 requests each at 55/min): the urgent ones go first
    report = sync(staging_engine, flexmail, ids, run_id="run-2", removal_budget_seconds=6)
    left = set(carriers(flexmail, HONDEN))
    assert email(7) not in left and email(8) not in left
    assert report.removed == 2 + (3 - report.backlog)
    assert 0 < report.backlog < 3 and report.backlog_urgent == 0
    # the ids were learned from the contact pages: one request per removal left
    assert report.expected_drain_seconds == pytest.approx(report.backlog * 60 / 55)
    # the next run drains the rest before anything else
    report = sync(staging_engine, flexmail, prepare(staging_engine, "run-3", new_run=True), run_id="run-3")
    assert report.backlog == 0
    assert carriers(flexmail, HONDEN) == sorted(
        [e for e in snapshot_emails(staging_engine, ids[0])] + ["an.peeters@example.com"]
    )


def test_a_contact_who_comes_back_keeps_the_label(staging_engine, flexmail):
    build_crm(staging_engine, 4)
    sync(staging_engine, flexmail, prepare(staging_engine))
    set_language(staging_engine, [1], "fr")
    sync(
        staging_engine,
        flexmail,
        prepare(staging_engine, "run-2", new_run=True),
        run_id="run-2",
        removal_budget_seconds=0,
    )
    set_language(staging_engine, [1], "nl")
    report = sync(staging_engine, flexmail, prepare(staging_engine, "run-3", new_run=True), run_id="run-3")
    assert report.lists["dogs"]["removal_cancelled"] == 1 and report.backlog == 0
    assert email(1) in carriers(flexmail, HONDEN)


def test_backlog_that_cannot_drain_in_time_fails_loudly(staging_engine, flexmail):
    build_crm(staging_engine, 8)
    sync(staging_engine, flexmail, prepare(staging_engine))
    set_consent(staging_engine, list(range(8)), "events", "revoked")
    ids = prepare(staging_engine, "run-2", new_run=True)
    with pytest.raises(RemovalBacklogTooLarge, match="8 urgent") as caught:
        sync(staging_engine, flexmail, ids, run_id="run-2", removal_budget_seconds=0, max_drain_seconds=10)
    assert caught.value.report.backlog == 8
    assert caught.value.report.expected_drain_seconds == pytest.approx(8 * 2 * 60 / 55)


def test_a_label_name_that_does_not_match_fails_that_list_only(staging_engine, flexmail):
    build_crm(staging_engine, 3)
    ids = prepare(staging_engine, dogs_label="honden ")
    with pytest.raises(LabelListsFailed) as caught:
        sync(staging_engine, flexmail, ids)
    message = caught.value.report.lists["dogs"]["error"]
    assert "'dogs'" in message and "'honden '" in message and "closest existing label is 'Honden'" in message
    assert carriers(flexmail, HONDEN) == ["an.peeters@example.com"]  # untouched
    assert carriers(flexmail, KATTEN) == snapshot_emails(staging_engine, ids[1])
    with staging_engine.connect() as conn:
        rows = dict(conn.execute(sa.select(t.list_run.c.list_name, t.list_run.c.status)).all())
    assert rows == {"dogs": "failed", "cats": "synced"}


def test_blacklisted_in_flexmail_comes_back_and_is_never_resubscribed(staging_engine, flexmail, tmp_path):
    build_crm(staging_engine, 4)
    sync(staging_engine, flexmail, prepare(staging_engine))
    flexmail.control.unsubscribe(email(2))
    # without the feedback the contact would still qualify; the import never resubscribes anyway
    assert feedback(staging_engine, flexmail, tmp_path) == 2  # person 2 and the seed's Bert
    with staging_engine.connect() as conn:
        consents = conn.execute(
            sa.select(t.crm_consent.c.consent_id, t.crm_consent.c.status).where(
                t.crm_consent.c.entity_id == "P0002"
            )
        ).all()
    assert {status for _, status in consents} == {"revoked"}
    ids = prepare(staging_engine, "run-2", new_run=True)
    report = sync(staging_engine, flexmail, ids, run_id="run-2")
    assert email(2) not in carriers(flexmail, HONDEN) and email(2) not in carriers(flexmail, KATTEN)
    assert report.removed == 2
    contact = next(c for c in flexmail.control.state()["contacts"] if c["email"] == email(2))
    assert contact["status"] == "unsubscribed"


def test_import_of_a_blacklisted_contact_is_ignored(staging_engine, flexmail):
    build_crm(staging_engine, 3)
    flexmail.control.add_contacts([{"email": email(1), "blacklisted": True}])
    report = sync(staging_engine, flexmail, prepare(staging_engine))  # feedback skipped on purpose
    assert report.imports[0]["report"]["total_ignored"] == 1
    assert email(1) not in carriers(flexmail, HONDEN) + carriers(flexmail, KATTEN)
    assert flexmail.control.state()["imports"][0]["resubscribe_blacklisted_contacts"] is False


def test_a_large_backlog_learns_contact_ids_from_the_contact_pages(staging_engine, flexmail):
    build_crm(staging_engine, 30)
    sync(staging_engine, flexmail, prepare(staging_engine))
    set_consent(staging_engine, list(range(30)), "events", "revoked")
    before = flexmail.control.calls()
    report = sync(staging_engine, flexmail, prepare(staging_engine, "run-2", new_run=True), run_id="run-2")
    after = flexmail.control.calls()
    used = {k: after[k] - before.get(k, 0) for k in after}
    # 31 contacts fit one page: 1 count + 1 page instead of 30 lookups, then one DELETE per removal
    assert used["contacts.list"] == 2 and used["contact_labels.delete"] == 30
    assert report.removed == 30 and carriers(flexmail, KATTEN) == []


def test_removal_guard_stops_a_list_before_any_removal_and_force_goes_past(staging_engine, flexmail):
    build_crm(staging_engine, 10)
    sync(staging_engine, flexmail, prepare(staging_engine))
    dogs_before = carriers(flexmail, HONDEN)
    set_language(staging_engine, list(range(6)), "fr")  # 6 of the dogs label's members leave its selection
    ids = prepare(staging_engine, "run-2", new_run=True)
    calls_before = flexmail.control.calls()
    with pytest.raises(LabelListsFailed, match="more than max_drop_ratio 50%") as caught:
        sync(staging_engine, flexmail, ids, run_id="run-2", max_removal_ratio={"dogs": 0.5, "cats": 0.5})
    assert caught.value.report.lists["dogs"]["status"] == "guarded"
    assert carriers(flexmail, HONDEN) == dogs_before  # nobody lost the label
    deletes = flexmail.control.calls().get("contact_labels.delete", 0)
    assert deletes == calls_before.get("contact_labels.delete", 0)
    with staging_engine.connect() as conn:
        statuses = dict(
            conn.execute(
                sa.select(t.list_run.c.list_name, t.list_run.c.status).where(t.list_run.c.run_id == "run-2")
            ).all()
        )
    assert statuses == {"dogs": "guarded", "cats": "synced"}  # the other list synced

    ids = prepare(staging_engine, "run-3", new_run=True)
    report = sync(staging_engine, flexmail, ids, run_id="run-3", max_removal_ratio={"dogs": 0.5}, force=True)
    assert report.lists["dogs"]["forced"] and report.lists["dogs"]["status"] == "synced"
    assert not {email(i) for i in range(6)} & set(carriers(flexmail, HONDEN))


def test_the_run_summary_counts_labels_added_removed_unchanged_and_the_backlog(staging_engine, flexmail):
    """The run report's columns for a label list come from the audit, and equal what changed on
    Flexmail: added by the import, removed (confirmed), unchanged, and the removals still queued."""

    def counts(run_id):
        items = build_run_summary(staging_engine, run_id).lists
        return {i.list_name: (i.added, i.removed, i.unchanged, i.backlog, i.refused) for i in items}

    build_crm(staging_engine, 10)
    sync(staging_engine, flexmail, prepare(staging_engine))
    assert counts("run-1") == {"dogs": (10, 0, 0, 0, None), "cats": (10, 0, 0, 0, None)}

    before = {label: set(carriers(flexmail, label)) for label in (HONDEN, KATTEN)}
    set_language(staging_engine, [0, 1, 2], "fr")  # leave the dogs selection
    set_consent(staging_engine, [9], "events", "revoked")  # leaves cats
    new = CrmState()
    for i in (10, 11):  # two new people with both consents: join both labels
        new.entity(pid(i), email(i), consent_id="newsletter").consent(pid(i), "events", "granted")
    with staging_engine.begin() as conn:
        conn.execute(sa.insert(t.crm_entity), new.entities)
        conn.execute(sa.insert(t.crm_consent), new.consents)
    ids = prepare(staging_engine, "run-2", new_run=True)
    # budget for about two removals (~1.1 s each at 55/min): the rest stays queued
    report = sync(staging_engine, flexmail, ids, run_id="run-2", removal_budget_seconds=2)
    after = {label: set(carriers(flexmail, label)) for label in (HONDEN, KATTEN)}

    got = counts("run-2")
    for name, label in (("dogs", HONDEN), ("cats", KATTEN)):
        added, removed, unchanged, backlog, refused = got[name]
        assert added == len(after[label] - before[label]) == 2, name
        assert removed == len(before[label] - after[label]), name
        assert unchanged == len(before[label] & after[label]) - backlog - 1 * (label == HONDEN), name
        assert refused is None
    assert got["dogs"][1] + got["cats"][1] == report.removed
    assert got["dogs"][3] + got["cats"][3] == report.backlog > 0


def test_the_import_and_the_removals_log_their_progress_without_addresses(staging_engine, flexmail, caplog):
    """A label sync of a 10M CRM ran for minutes with no line between the lock and the end."""
    build_crm(staging_engine, 10)
    caplog.set_level(logging.INFO, logger="include.crm_sync.sync.label_sync")
    sync(staging_engine, flexmail, prepare(staging_engine), records_per_call=4, progress_every_seconds=0)
    lines = [r.getMessage() for r in caplog.records if r.name == "include.crm_sync.sync.label_sync"]
    sent = [line for line in lines if ": records sent: batch" in line]
    assert len(sent) == 3 and ", 10 recipients," in sent[-1], lines  # 10 contacts, 4 a call

    set_language(staging_engine, [0, 1, 2], "fr")  # leave the dogs selection
    caplog.clear()
    ids = prepare(staging_engine, "run-2", new_run=True)
    sync(staging_engine, flexmail, ids, run_id="run-2", progress_every_seconds=0)
    lines = [r.getMessage() for r in caplog.records if r.name == "include.crm_sync.sync.label_sync"]
    assert any("list dogs: label 'Honden': 3 removal(s) queued, 0 cancelled" in line for line in lines), lines
    assert any(line.startswith("Flexmail label removals: batch 1, 3 recipients") for line in lines), lines
    assert not any("@" in line for line in lines)

"""A crash mid-import (while chunks are sent, with an answer lost, while polling) and mid-removals,
then the same run again: the labels end equal to the snapshots and the backlog is empty."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from include.crm_sync.platforms.flexmail.errors import FlexmailTransientError
from include.crm_sync.staging import tables as t
from tests.integration.flexmail.crm import build_crm, prepare, set_consent, snapshot_emails, sync
from tests.integration.flexmail.scenario import HONDEN, KATTEN


def carriers(flexmail, label_id):
    return sorted(flexmail.control.label_members(label_id))


def assert_in_sync(engine, flexmail, ids):
    assert carriers(flexmail, HONDEN) == sorted(snapshot_emails(engine, ids[0]) + ["an.peeters@example.com"])
    assert carriers(flexmail, KATTEN) == snapshot_emails(engine, ids[1])


@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_while_sending_chunks_then_resume(staging_engine, flexmail, when):
    build_crm(staging_engine, 10)
    ids = prepare(staging_engine)
    # the 3rd records call fails for good ("after": Flexmail took the chunk, the answer was lost)
    flexmail.control.add_fault("imports.records", "http500", nth=3, times=0, when=when)
    with pytest.raises(FlexmailTransientError):
        sync(staging_engine, flexmail, ids, records_per_call=3)
    with staging_engine.connect() as conn:
        row = conn.execute(sa.select(t.flexmail_import)).mappings().one()
    assert (row["status"], row["chunks_sent"]) == ("building", 2)
    flexmail.control.clear_faults()
    report = sync(staging_engine, flexmail, ids, records_per_call=3)
    assert_in_sync(staging_engine, flexmail, ids)
    # the interrupted import was queued and finished first, then one import for the rest
    assert [i["records"] for i in report.imports] == [6, 4]
    assert all(i["status"] == "completed" for i in report.imports)
    # nothing left pending
    with staging_engine.connect() as conn:
        pending = conn.execute(
            sa.select(sa.func.count()).where(t.flexmail_label_member.c.confirmed.is_(False))
        ).scalar_one()
    assert pending == 0


def test_crash_while_polling_then_resume(staging_engine, flexmail):
    build_crm(staging_engine, 5)
    ids = prepare(staging_engine)
    flexmail.control.add_fault("imports.get", "http503", times=0)
    with pytest.raises(FlexmailTransientError):
        sync(staging_engine, flexmail, ids)
    flexmail.control.clear_faults()
    report = sync(staging_engine, flexmail, ids)
    assert [i["records"] for i in report.imports] == [5]  # polled to the end; nothing imported twice
    assert_in_sync(staging_engine, flexmail, ids)


def test_crash_mid_removals_then_resume(staging_engine, flexmail):
    build_crm(staging_engine, 8)
    sync(staging_engine, flexmail, prepare(staging_engine))
    set_consent(staging_engine, [0, 1, 2, 3, 4, 5], "events", "revoked")
    ids = prepare(staging_engine, "run-2", new_run=True)
    flexmail.control.add_fault("contact_labels.delete", "http500", nth=3, times=0)
    with pytest.raises(FlexmailTransientError):
        sync(staging_engine, flexmail, ids, run_id="run-2")
    with staging_engine.connect() as conn:
        backlog = conn.execute(sa.select(sa.func.count()).select_from(t.flexmail_removal)).scalar_one()
    assert backlog == 4  # the two confirmed removals are off the backlog; the rest survived the crash
    flexmail.control.clear_faults()
    report = sync(staging_engine, flexmail, ids, run_id="run-2")
    assert report.removed == 4 and report.backlog == 0
    assert_in_sync(staging_engine, flexmail, ids)

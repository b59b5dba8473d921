"""Reconcile with Flexmail's own label members (``full_resync`` / ``reconcile``), through the
emulator: after labels changed behind our back, the record is repaired both ways and the sync
then makes Flexmail carry exactly the snapshots again."""

from __future__ import annotations

import sqlalchemy as sa

from include.crm_sync.staging import tables as t
from tests.integration.flexmail.crm import build_crm, email, make_client, pid, prepare, snapshot_emails, sync
from tests.integration.flexmail.scenario import HONDEN, KATTEN


def carriers(flexmail, label_id):
    return sorted(flexmail.control.label_members(label_id))


def contact_id(flexmail, address):
    return next(c["id"] for c in flexmail.control.state()["contacts"] if c["email"] == address)


def test_reconcile_repairs_the_record_both_ways_then_the_sync_repairs_flexmail(staging_engine, flexmail):
    build_crm(staging_engine, 6)
    sync(staging_engine, flexmail, prepare(staging_engine))
    # behind our back: a label removed by hand, one added by hand to a contact outside the list,
    # and a record row lost (as if a crash came between Flexmail's answer and our write)
    make_client(None, flexmail).remove_label(contact_id(flexmail, email(1)), KATTEN)
    flexmail.control.add_contacts([{"email": "stranger@example.com", "labels": [KATTEN]}])
    with staging_engine.begin() as conn:
        conn.execute(
            sa.delete(t.flexmail_label_member).where(
                t.flexmail_label_member.c.member_id == pid(2),
                t.flexmail_label_member.c.label_name == "Katten",
            )
        )
    ids = prepare(staging_engine, "run-2", new_run=True)
    # without reconcile the sync trusts its record: the hand-made differences stay
    plain = sync(staging_engine, flexmail, ids, run_id="run-2")
    assert email(1) not in carriers(flexmail, KATTEN) and "stranger@example.com" in carriers(flexmail, KATTEN)
    assert plain.imports[0]["records"] == 1  # person 2 only: its record row was lost

    ids = prepare(staging_engine, "run-3", new_run=True)
    report = sync(staging_engine, flexmail, ids, run_id="run-3", reconcile=True)
    # Katten: person 1 dropped from the record (not carried), the stranger recorded; Honden: the
    # seed's contact carrying it by hand recorded
    assert report.lists["cats"]["reconciled"] == {"dropped": 1, "recorded": 1}
    assert report.lists["dogs"]["reconciled"] == {"dropped": 0, "recorded": 1}
    assert carriers(flexmail, KATTEN) == snapshot_emails(staging_engine, ids[1])
    assert carriers(flexmail, HONDEN) == snapshot_emails(staging_engine, ids[0])
    assert report.removed == 2 and report.imports[0]["records"] == 1

    # the record now matches Flexmail: a second reconcile finds nothing to repair
    again = sync(
        staging_engine,
        flexmail,
        prepare(staging_engine, "run-4", new_run=True),
        run_id="run-4",
        reconcile=True,
    )
    assert again.lists["cats"]["reconciled"] == {"dropped": 0, "recorded": 0}
    assert again.lists["dogs"]["reconciled"] == {"dropped": 0, "recorded": 0}
    assert again.imports == [] and again.removed == 0

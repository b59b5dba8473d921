"""The snapshot: deterministic de-duplication, frozen once written, replaced (not duplicated) on retry."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from include.crm_sync.extract import SnapshotGapError, extract_snapshot, iter_snapshot
from include.crm_sync.platforms.base import Recipient
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import NOW, CrmState, add_sync_run, list_def, snapshot_rows


def test_shared_address_goes_to_contact_then_lead_then_account_then_smallest_id(
    staging_engine: sa.Engine,
) -> None:
    state = (
        CrmState()
        # contact beats lead and account, whatever the ids
        .entity("A0", "one@example.com", entity_type="account")
        .entity("L0", "ONE@example.com", entity_type="lead")
        .entity("C9", " one@example.com", entity_type="contact")
        # lead beats account
        .entity("A1", "two@example.com", entity_type="account")
        .entity("L5", "Two@Example.com", entity_type="lead")
        # same type: smallest entity_id (byte order, so "C10" < "C2")
        .entity("C2", "three@example.com")
        .entity("C10", "three@example.com")
        # an excluded entity does not take the address away from an eligible one
        .entity("C0", "four@example.com", consent="revoked")
        .entity("L1", "four@example.com", entity_type="lead")
    )
    state.write(staging_engine)
    report = extract_snapshot(staging_engine, list_def(), run_id="run-1")
    rows = snapshot_rows(staging_engine, report.list_run_id)
    # seq follows the byte order of the address
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (0, "L1", "four@example.com"),
        (1, "C9", "one@example.com"),
        (2, "C10", "three@example.com"),
        (3, "L5", "two@example.com"),
    ]
    assert report.excluded["duplicate_address"] == 4
    assert report.excluded["unsubscribed"] == 1


def test_retry_of_the_same_run_replaces_the_snapshot(staging_engine: sa.Engine) -> None:
    state = CrmState()
    for i in range(30):
        state.entity(f"C{i:03d}", f"person{i}@example.com")
    state.write(staging_engine)
    first = extract_snapshot(staging_engine, list_def(), run_id="run-1")
    before = snapshot_rows(staging_engine, first.list_run_id)
    # Leftovers of a refill that started on the first snapshot must go with it.
    with staging_engine.begin() as conn:
        conn.execute(
            sa.insert(t.list_batch).values(
                list_run_id=first.list_run_id,
                batch_no=0,
                first_seq=0,
                last_seq=29,
                codes="0" * 30,
                accepted=30,
                confirmed_at=NOW,
            )
        )
        conn.execute(
            sa.insert(t.list_rejected).values(
                list_run_id=first.list_run_id, seq=3, recipient_id="C003", code=3, reason="blocklisted"
            )
        )
        conn.execute(sa.update(t.list_run).values(status="refilling", uploaded=30, validation={"x": 1}))
        # The CRM changed in between: one more revocation.
        conn.execute(
            sa.update(t.crm_consent).where(t.crm_consent.c.entity_id == "C005").values(status="revoked")
        )

    second = extract_snapshot(staging_engine, list_def(), run_id="run-1")

    assert second.list_run_id == first.list_run_id
    after = snapshot_rows(staging_engine, second.list_run_id)
    assert len(after) == 29 and second.snapshot_rows == 29
    assert [r[0] for r in after] == list(range(29))
    assert [r[1:] for r in after] == [r[1:] for r in before if r[1] != "C005"]
    with staging_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.list_run)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(t.list_snapshot)).scalar_one() == 29
        assert conn.execute(sa.select(sa.func.count()).select_from(t.list_batch)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(t.list_rejected)).scalar_one() == 0
        row = conn.execute(sa.select(t.list_run)).mappings().one()
    assert (row["status"], row["uploaded"], row["validation"], row["snapshot_rows"]) == (
        "extracted",
        None,
        None,
        29,
    )


def test_snapshot_is_frozen_against_later_crm_changes(staging_engine: sa.Engine) -> None:
    state = CrmState()
    for i in range(12):
        state.entity(f"C{i:02d}", f"p{i}@example.com")
    state.write(staging_engine)
    report = extract_snapshot(staging_engine, list_def(), run_id="run-1")
    frozen = snapshot_rows(staging_engine, report.list_run_id)

    with staging_engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_entity).values(first_name="Changed", email_normalized="changed@example.com")
        )
        conn.execute(sa.update(t.crm_consent).values(status="revoked"))

    assert snapshot_rows(staging_engine, report.list_run_id) == frozen
    read = [r for chunk in iter_snapshot(staging_engine, report.list_run_id, chunk_size=5) for r in chunk]
    assert read == [Recipient(r[1], r[2], r[3]) for r in frozen]
    assert read == [
        r for chunk in iter_snapshot(staging_engine, report.list_run_id, chunk_size=5) for r in chunk
    ]

    # A new run sees the changed CRM; the old run's snapshot stays as it was.
    add_sync_run(staging_engine, "run-2")
    later = extract_snapshot(staging_engine, list_def(), run_id="run-2")
    assert later.list_run_id != report.list_run_id
    assert later.snapshot_rows == 0 and later.excluded["unsubscribed"] == 12
    assert snapshot_rows(staging_engine, report.list_run_id) == frozen


def test_iter_snapshot_chunks_and_resumes_by_seq(staging_engine: sa.Engine) -> None:
    state = CrmState()
    for i in range(23):
        state.entity(f"C{i:02d}", f"p{i:02d}@example.com")
    state.write(staging_engine)
    report = extract_snapshot(staging_engine, list_def(), run_id="run-1")

    chunks = list(iter_snapshot(staging_engine, report.list_run_id, chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 3]
    assert [r.recipient_id for r in chunks[1]] == [f"C{i:02d}" for i in range(10, 20)]
    resumed = list(iter_snapshot(staging_engine, report.list_run_id, start_seq=20, chunk_size=10))
    assert [[r.recipient_id for r in c] for c in resumed] == [["C20", "C21", "C22"]]
    assert [len(c) for c in iter_snapshot(staging_engine, report.list_run_id, chunk_size=23)] == [23]
    assert list(iter_snapshot(staging_engine, report.list_run_id, start_seq=23)) == []
    assert list(iter_snapshot(staging_engine, 999)) == []
    with pytest.raises(ValueError, match="chunk_size"):
        next(iter_snapshot(staging_engine, report.list_run_id, chunk_size=0))

    with staging_engine.begin() as conn:
        conn.execute(sa.delete(t.list_snapshot).where(t.list_snapshot.c.seq == 12))
    with pytest.raises(SnapshotGapError, match="gap near seq 10"):
        list(iter_snapshot(staging_engine, report.list_run_id, chunk_size=10))


def test_empty_selection_gives_an_empty_snapshot(staging_engine: sa.Engine) -> None:
    CrmState().entity("C1", "a@example.com", language="fr").write(staging_engine)
    report = extract_snapshot(
        staging_engine, list_def(selection={"filter": {"languages": ["nl"]}}), run_id="run-1"
    )
    assert (report.selected, report.snapshot_rows, report.excluded_total) == (0, 0, 0)
    assert list(iter_snapshot(staging_engine, report.list_run_id)) == []

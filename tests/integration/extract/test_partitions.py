"""Snapshots in per-run partitions (PostgreSQL, migration 0012): keys built after the load and
still enforced, a retry or a pruning drops the run's partition; SQLite keeps the one table."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.extract.partitions import run_table
from include.crm_sync.extract.retention import prune_snapshots
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import CrmState, add_sync_run, list_def, snapshot_rows


def _partitions(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.exec_driver_sql(
                "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'list_snapshot'::regclass"
            ).scalars()
        )


def _postgres_only(engine: sa.Engine) -> sa.Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's; SQLite keeps one list_snapshot table")
    return engine


def _write_crm(engine: sa.Engine, people: int = 20) -> None:
    state = CrmState()
    for i in range(people):
        state.entity(f"C{i:03d}", f"person{i}@example.com")
    state.write(engine)


def test_the_snapshot_keys_hold_after_a_bare_load(staging_engine: sa.Engine) -> None:
    _write_crm(staging_engine)
    report = extract_snapshot(staging_engine, list_def(), run_id="run-1")
    assert len(snapshot_rows(staging_engine, report.list_run_id)) == 20
    row = {
        "list_run_id": report.list_run_id,
        "recipient_id": "X1",
        "email": "x@example.com",
        "attr_values": [],
    }
    duplicates = [
        {**row, "seq": 3},  # seq taken
        {**row, "seq": 99, "recipient_id": "C004"},  # recipient already in the snapshot
        {**row, "seq": 99, "email": "person5@example.com"},  # address already in the snapshot
        {**row, "seq": 99, "list_run_id": report.list_run_id + 1000},  # no such list run
    ]
    for duplicate in duplicates:
        with pytest.raises(IntegrityError), staging_engine.begin() as conn:
            if staging_engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.execute(sa.insert(t.list_snapshot).values(**duplicate))


def test_postgresql_attaches_each_run_as_its_own_partition_and_a_retry_replaces_it(
    staging_engine: sa.Engine,
) -> None:
    pg_staging_engine = _postgres_only(staging_engine)
    _write_crm(pg_staging_engine)
    first = extract_snapshot(pg_staging_engine, list_def(), run_id="run-1")
    other = extract_snapshot(
        pg_staging_engine, list_def(name="other", platform_list_id="1009"), run_id="run-1"
    )
    assert _partitions(pg_staging_engine) >= {run_table(first.list_run_id), run_table(other.list_run_id)}
    with pg_staging_engine.connect() as conn:
        # the rows are in the run's partition, not in the default one
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {run_table(first.list_run_id)}").scalar() == 20
        assert conn.exec_driver_sql("SELECT count(*) FROM list_snapshot_default").scalar() == 0
        # the partition adopted the partitioned table's three keys and its foreign key
        kinds = conn.exec_driver_sql(
            "SELECT contype, count(*) FROM pg_constraint WHERE conrelid = %(t)s::regclass GROUP BY contype",
            {"t": run_table(first.list_run_id)},
        ).all()
    assert dict(kinds) == {"p": 1, "u": 2, "f": 1, "c": 1}

    with pg_staging_engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent).where(t.crm_consent.c.entity_id == "C005").values(status="revoked")
        )
    again = extract_snapshot(pg_staging_engine, list_def(), run_id="run-1")
    assert again.list_run_id == first.list_run_id
    assert len(snapshot_rows(pg_staging_engine, again.list_run_id)) == 19
    assert len(snapshot_rows(pg_staging_engine, other.list_run_id)) == 20


def test_pruning_drops_the_partition_of_a_pruned_run(staging_engine: sa.Engine) -> None:
    pg_staging_engine = _postgres_only(staging_engine)
    _write_crm(pg_staging_engine, people=5)
    ids = []
    for night in range(3):
        add_sync_run(pg_staging_engine, f"n{night}")
        report = extract_snapshot(pg_staging_engine, list_def(), run_id=f"n{night}")
        with pg_staging_engine.begin() as conn:
            conn.execute(
                sa.update(t.list_run)
                .where(t.list_run.c.list_run_id == report.list_run_id)
                .values(status="synced")
            )
        ids.append(report.list_run_id)

    pruned = prune_snapshots(pg_staging_engine, keep_runs=1)

    assert pruned.list_run_ids == ids[:2] and pruned.rows_deleted == 10
    partitions = _partitions(pg_staging_engine)
    assert run_table(ids[2]) in partitions
    assert not {run_table(ids[0]), run_table(ids[1])} & partitions

"""The ``list_run`` row an extraction writes into: created once per (run, list), reset on a retry.

A retry of the same run (Airflow task retry, or the DAG re-run for the same run id) must end in
the same state as a first attempt, so the row is reused and everything derived from its previous
snapshot -- the snapshot itself, confirmed batches, platform refusals, counts, validation -- is
dropped in the transaction that resets the row (a short one: on PostgreSQL dropping the snapshot's
partition locks ``list_snapshot`` until it commits).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select, update

from include.crm_sync.config.models import ListDefinition
from include.crm_sync.extract.partitions import drop_run_partition
from include.crm_sync.staging.tables import list_batch, list_rejected, list_run, list_snapshot

#: list_run columns a fresh extraction starts from (a retry resets them to these)
_RESET = {
    "selected": None,
    "excluded": None,
    "snapshot_rows": None,
    "validation": None,
    "guard": None,
    "uploaded": None,
    "accepted": None,
    "result_codes": None,
    "rejected": None,
    "platform_count": None,
    "cleared_at": None,
    "last_batch_at": None,
    "window_seconds": None,
    "error": None,
    "finished_at": None,
}


def open_list_run(conn: Connection, list_def: ListDefinition, run_id: str) -> int:
    """The list_run_id of (run_id, list name), created or reset to status ``extracting``."""
    values = {
        "platform": list_def.platform,
        "platform_list_id": list_def.platform_list_id,
        "optin_process_id": list_def.optin_process_id,
        "consent_id": list_def.consent,
        "attribute_names": list(list_def.attribute_names),
        "status": "extracting",
        "started_at": datetime.now(UTC),
        **_RESET,
    }
    existing = conn.execute(
        select(list_run.c.list_run_id).where(
            list_run.c.run_id == run_id, list_run.c.list_name == list_def.name
        )
    ).scalar_one_or_none()
    if existing is None:
        return int(
            conn.execute(
                insert(list_run)
                .values(run_id=run_id, list_name=list_def.name, **values)
                .returning(list_run.c.list_run_id)
            ).scalar_one()
        )
    conn.execute(update(list_run).where(list_run.c.list_run_id == existing).values(**values))
    return int(existing)


def forget_snapshot(conn: Connection, list_run_id: int) -> None:
    """Delete a list run's snapshot and what was derived from it (batches, refusals)."""
    for table in (list_batch, list_rejected):
        conn.execute(delete(table).where(table.c.list_run_id == list_run_id))
    drop_run_partition(conn, list_run_id)
    # rows written to list_snapshot directly (SQLite; PostgreSQL's default partition)
    conn.execute(delete(list_snapshot).where(list_snapshot.c.list_run_id == list_run_id))


def mark_failed(conn: Connection, list_run_id: int, error: str) -> None:
    conn.execute(
        update(list_run)
        .where(list_run.c.list_run_id == list_run_id)
        .values(status="failed", error=error[:4000], finished_at=datetime.now(UTC))
    )

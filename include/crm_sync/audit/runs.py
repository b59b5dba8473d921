"""Opening and closing sync runs, and recording that the feedback import of a run succeeded.

``feedback_ok`` is the hinge of the product's ordering guarantee: ``refill_list`` refuses to
touch a platform list unless the feedback import of the same run set it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from include.crm_sync.staging.dml import insert_ignoring_conflicts
from include.crm_sync.staging.tables import sync_run


def start_sync_run(
    engine: Engine, run_id: str, *, dag_id: str | None = None, dry_run: bool = False, forced: bool = False
) -> None:
    """Create the run's row, or leave it as it is when a retry calls again (idempotent)."""
    with engine.begin() as conn:
        insert_ignoring_conflicts(
            conn,
            sync_run,
            [
                {
                    "run_id": run_id,
                    "dag_id": dag_id,
                    "dry_run": dry_run,
                    "forced": forced,
                    "feedback_ok": False,
                    "status": "running",
                    "started_at": datetime.now(UTC),
                }
            ],
        )


def mark_feedback_ok(engine: Engine, run_id: str) -> None:
    with engine.begin() as conn:
        updated = conn.execute(update(sync_run).where(sync_run.c.run_id == run_id).values(feedback_ok=True))
        if updated.rowcount != 1:
            raise LookupError(f"sync run {run_id!r} does not exist; start it first")


def finish_sync_run(engine: Engine, run_id: str, *, status: str, summary: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(sync_run)
            .where(sync_run.c.run_id == run_id)
            .values(status=status, summary=summary, finished_at=datetime.now(UTC))
        )


def feedback_ok(engine: Engine, run_id: str) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(sync_run.c.feedback_ok).where(sync_run.c.run_id == run_id)).scalar())

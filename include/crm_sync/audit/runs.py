"""Opening and closing sync runs, and recording that the feedback import of a run succeeded.

Feedback is the hinge of the product's ordering guarantee, and it is per platform: a list of
platform P is extracted and synced only when THIS run's feedback import of P succeeded
(``mark_feedback_ok(engine, run_id, platform=P)``, one row in ``sync_run_platform_feedback``), so a
failed Spotler feedback import stops the Spotler lists and not the Optimizely ones.
``sync_run.feedback_ok`` is the run-wide flag (``mark_feedback_ok`` without a platform): it counts
for every platform, for tools and tests that import every platform's feedback in one go.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from include.crm_sync.staging.dml import insert_ignoring_conflicts
from include.crm_sync.staging.tables import sync_run, sync_run_platform_feedback


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


def mark_feedback_ok(engine: Engine, run_id: str, *, platform: str | None = None) -> None:
    """Record that this run's feedback import of ``platform`` succeeded (idempotent); without a
    platform, the run-wide flag (every platform's feedback was imported)."""
    with engine.begin() as conn:
        if platform is None:
            updated = conn.execute(
                update(sync_run).where(sync_run.c.run_id == run_id).values(feedback_ok=True)
            )
            if updated.rowcount != 1:
                raise LookupError(f"sync run {run_id!r} does not exist; start it first")
            return
        if conn.execute(select(sync_run.c.run_id).where(sync_run.c.run_id == run_id)).first() is None:
            raise LookupError(f"sync run {run_id!r} does not exist; start it first")
        insert_ignoring_conflicts(
            conn,
            sync_run_platform_feedback,
            [{"run_id": run_id, "platform": platform, "succeeded_at": datetime.now(UTC)}],
        )


def platform_feedback_ok(conn: Connection, run_id: str, platform: str) -> bool | None:
    """Whether this run's feedback of ``platform`` was imported; None when the run does not exist.

    The check every step that reads or writes a platform's list makes for its own platform.
    """
    run_wide = conn.execute(select(sync_run.c.feedback_ok).where(sync_run.c.run_id == run_id)).first()
    if run_wide is None:
        return None
    if run_wide[0]:
        return True
    row = conn.execute(
        select(sync_run_platform_feedback.c.platform).where(
            sync_run_platform_feedback.c.run_id == run_id, sync_run_platform_feedback.c.platform == platform
        )
    ).first()
    return row is not None


def feedback_platforms(engine: Engine, run_id: str) -> list[str]:
    """The platforms whose feedback import succeeded in this run (sorted)."""
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                select(sync_run_platform_feedback.c.platform).where(
                    sync_run_platform_feedback.c.run_id == run_id
                )
            ).scalars()
        )


def finish_sync_run(engine: Engine, run_id: str, *, status: str, summary: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(sync_run)
            .where(sync_run.c.run_id == run_id)
            .values(status=status, summary=summary, finished_at=datetime.now(UTC))
        )


def feedback_ok(engine: Engine, run_id: str, platform: str | None = None) -> bool:
    """The run-wide flag, or (with ``platform``) whether that platform's feedback counts as imported."""
    with engine.connect() as conn:
        if platform is not None:
            return bool(platform_feedback_ok(conn, run_id, platform))
        return bool(conn.execute(select(sync_run.c.feedback_ok).where(sync_run.c.run_id == run_id)).scalar())

"""Only the newest validated snapshot of a platform list is ever uploaded; older ones are superseded.

Two runs can each hold a validated snapshot of the same platform list: an operator clears a failed
``refill`` of last night's run after tonight's run synced, or a manual run overlaps the nightly
one. The older snapshot predates consent changes the newer one has (people who unsubscribed in
between): uploading it would mail them. So before ``clear`` -- and again whenever a refill resumes,
always under the platform list's writer lock -- the refill asks whether a newer validated snapshot
exists for the same platform and platform list id (not the list's name: two names can point at
one platform list). If so, the list run ends ``superseded`` and the platform is not touched.

"Newer" is the later extraction (``list_run.started_at``, which a re-extraction resets), ties
broken by ``list_run_id``. "Validated" is a snapshot that passed validation and may be uploaded:
``validated``, ``refilling``/``syncing`` (a refill or membership/label sync under way) or ``synced``
(a dry run's snapshot never counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from include.crm_sync.staging.tables import list_run

#: statuses of a snapshot that passed validation and may be (or was) uploaded
UPLOADABLE = ("validated", "refilling", "syncing", "synced")
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class NewerSnapshot:
    list_run_id: int
    run_id: str
    list_name: str
    status: str

    def describe(self) -> str:
        return f"run {self.run_id} (list {self.list_name}, list run {self.list_run_id}, {self.status})"


def newer_snapshot(conn: sa.Connection, list_run_id: int) -> NewerSnapshot | None:
    """The newest validated snapshot of the same platform list, if it is newer than ``list_run_id``'s."""
    me = conn.execute(
        sa.select(list_run.c.platform, list_run.c.platform_list_id, list_run.c.started_at).where(
            list_run.c.list_run_id == list_run_id
        )
    ).one()
    later = (list_run.c.started_at > me.started_at) | (
        (list_run.c.started_at == me.started_at) & (list_run.c.list_run_id > list_run_id)
    )
    row = conn.execute(
        sa.select(list_run.c.list_run_id, list_run.c.run_id, list_run.c.list_name, list_run.c.status)
        .where(
            list_run.c.platform == me.platform,
            list_run.c.platform_list_id == me.platform_list_id,
            list_run.c.status.in_(UPLOADABLE),
            list_run.c.list_run_id != list_run_id,
            later,
        )
        .order_by(list_run.c.started_at.desc(), list_run.c.list_run_id.desc())
        .limit(1)
    ).first()
    return NewerSnapshot(row.list_run_id, row.run_id, row.list_name, row.status) if row else None


def mark_superseded(conn: sa.Connection, list_run_id: int, newer: NewerSnapshot) -> str:
    """End the list run as ``superseded`` by ``newer``; returns the reason in plain words."""
    reason = (
        f"superseded: a newer validated snapshot of this platform list exists, {newer.describe()}; "
        "this older snapshot is not uploaded (the newer run syncs the platform list)"
    )
    conn.execute(
        sa.update(list_run)
        .where(list_run.c.list_run_id == list_run_id)
        .values(status=SUPERSEDED, error=reason, finished_at=datetime.now(UTC))
    )
    return reason

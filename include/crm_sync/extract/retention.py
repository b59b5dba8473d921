"""Retention of list snapshots: the rows of old list runs are deleted, their audit row stays.

A snapshot is the largest thing a night writes (a 10M-contact CRM: millions of ``list_snapshot``
rows a night); kept for ever, the staging database grows without bound. ``prune_snapshots``
deletes the ``list_snapshot`` rows of every list run that is

* not among the newest ``keep_runs`` list runs of its platform list (``platform``,
  ``platform_list_id``; default 7, i.e. a week of nights),
* finished (``synced``, ``failed``, ``invalid``, ``guarded``, ``dry_run``): a run still extracting,
  waiting to be validated or refilling -- or one a retry will resume -- keeps its snapshot, and
* not the newest ``synced`` run of its platform list: that snapshot is what the platform holds now,
  the one a newer run may still be compared with.

On PostgreSQL the list run's emptied partition of ``list_snapshot`` is dropped as well.
The ``list_run`` row (counts, validation, result codes, window), its batches and its refusals are
kept: they are small and they are the audit. Deleting is done a list run at a time, each in its own
transaction, so a pruning interrupted half way is simply done again by the next call (idempotent),
and no transaction holds millions of row locks.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, exists, func, select

from include.crm_sync.extract.partitions import drop_run_partition
from include.crm_sync.staging.tables import list_run, list_snapshot

log = logging.getLogger(__name__)

#: list runs whose snapshots are kept per platform list, newest first (a week of nightly runs)
DEFAULT_KEEP_RUNS = 7
#: environment variable that sets ``keep_runs`` for the nightly cleanup (the report task)
KEEP_RUNS_ENV = "CRM_SYNC_SNAPSHOT_KEEP_RUNS"
#: statuses after which nothing reads a list run's snapshot again (unless it is kept for another reason)
FINISHED = ("synced", "failed", "invalid", "guarded", "dry_run")


@dataclass(frozen=True)
class PruneReport:
    """What ``prune_snapshots`` deleted: which list runs lost their snapshot rows, and how many rows."""

    list_run_ids: list[int]
    rows_deleted: int

    def summary(self) -> str:
        return (
            f"snapshot retention: {self.rows_deleted:,} snapshot rows of {len(self.list_run_ids)} old list "
            "run(s) deleted"
        )


def keep_runs_setting(environ: dict[str, str] | None = None) -> int:
    """``keep_runs`` from ``CRM_SYNC_SNAPSHOT_KEEP_RUNS`` (default 7); only an integer >= 1 is accepted."""
    raw = (os.environ if environ is None else environ).get(KEEP_RUNS_ENV, "").strip()
    if not raw:
        return DEFAULT_KEEP_RUNS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{KEEP_RUNS_ENV} must be a whole number of list runs >= 1, got {raw!r}")
    return int(raw)


def prunable_list_runs(engine: Engine, keep_runs: int = DEFAULT_KEEP_RUNS) -> list[int]:
    """The list runs whose snapshot rows ``prune_snapshots`` would delete, oldest first."""
    if keep_runs < 1:
        raise ValueError(f"keep_runs must be at least 1, got {keep_runs}")
    key = (list_run.c.platform, list_run.c.platform_list_id)
    ranked = select(
        list_run.c.list_run_id,
        list_run.c.status,
        func.row_number().over(partition_by=key, order_by=list_run.c.list_run_id.desc()).label("age"),
        func.max(list_run.c.list_run_id)
        .filter(list_run.c.status == "synced")
        .over(partition_by=key)
        .label("newest_synced"),
    ).subquery()
    has_rows = exists().where(list_snapshot.c.list_run_id == ranked.c.list_run_id)
    query = (
        select(ranked.c.list_run_id)
        .where(
            ranked.c.age > keep_runs,
            ranked.c.status.in_(FINISHED),
            # NULL when the list never synced: then no run is the platform's current one
            func.coalesce(ranked.c.newest_synced, -1) != ranked.c.list_run_id,
            has_rows,
        )
        .order_by(ranked.c.list_run_id)
    )
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def prune_snapshots(engine: Engine, keep_runs: int = DEFAULT_KEEP_RUNS) -> PruneReport:
    """Delete the snapshot rows of the list runs ``prunable_list_runs`` names (see the module docstring)."""
    pruned: list[int] = []
    deleted = 0
    for list_run_id in prunable_list_runs(engine, keep_runs):
        with engine.begin() as conn:
            # The status is checked again inside the delete's transaction: a run resumed since the
            # listing (a failed run retried) keeps its snapshot.
            result = conn.execute(
                delete(list_snapshot).where(
                    and_(
                        list_snapshot.c.list_run_id == list_run_id,
                        exists().where(
                            list_run.c.list_run_id == list_run_id, list_run.c.status.in_(FINISHED)
                        ),
                    )
                )
            )
            if result.rowcount:
                # PostgreSQL: the emptied partition goes too (extract/partitions.py), so partitions
                # do not pile up night after night; a short transaction, as drop_run_partition asks
                drop_run_partition(conn, list_run_id)
        if result.rowcount:
            pruned.append(list_run_id)
            deleted += result.rowcount
    report = PruneReport(pruned, deleted)
    log.info(report.summary())
    return report

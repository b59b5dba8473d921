"""Read-only queries over the sync audit for the report pages: recent runs and list sizes over time.

Plain SQLAlchemy Core on the ``sync_run``/``list_run`` tables (no Airflow): the run header of one
run, the last N runs newest first, and per run and list the sizes a chart of list sizes needs.
Only counts and names are read -- never ``list_snapshot`` -- so nothing here can carry an address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, select

from include.crm_sync.staging.tables import list_run, sync_run

#: how many runs the index page shows (and charts) unless asked otherwise
DEFAULT_RUN_LIMIT = 30


@dataclass(frozen=True)
class RunRow:
    """One ``sync_run`` row without its summary JSON."""

    run_id: str
    dag_id: str | None
    status: str
    dry_run: bool
    forced: bool
    feedback_ok: bool
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class ListSize:
    """The sizes of one list in one run (None where the run did not get that far)."""

    run_id: str
    list_name: str
    status: str
    snapshot_rows: int | None
    accepted: int | None
    platform_count: int | None


_RUN_COLUMNS = (
    sync_run.c.run_id,
    sync_run.c.dag_id,
    sync_run.c.status,
    sync_run.c.dry_run,
    sync_run.c.forced,
    sync_run.c.feedback_ok,
    sync_run.c.started_at,
    sync_run.c.finished_at,
)


def _run_row(row: Row[Any]) -> RunRow:
    m = row._mapping
    return RunRow(
        run_id=m["run_id"],
        dag_id=m["dag_id"],
        status=m["status"],
        dry_run=bool(m["dry_run"]),
        forced=bool(m["forced"]),
        feedback_ok=bool(m["feedback_ok"]),
        started_at=m["started_at"],
        finished_at=m["finished_at"],
    )


def get_run(engine: Engine, run_id: str) -> RunRow | None:
    """The run's header row, or None when the audit has no such run."""
    with engine.connect() as conn:
        row = conn.execute(select(*_RUN_COLUMNS).where(sync_run.c.run_id == run_id)).first()
    return None if row is None else _run_row(row)


def recent_runs(engine: Engine, limit: int = DEFAULT_RUN_LIMIT, *, dag_id: str | None = None) -> list[RunRow]:
    """The last ``limit`` runs, newest first (by start time; run id breaks ties)."""
    newest_first = (sync_run.c.started_at.desc(), sync_run.c.run_id.desc())
    query = select(*_RUN_COLUMNS).order_by(*newest_first).limit(limit)
    if dag_id is not None:
        query = query.where(sync_run.c.dag_id == dag_id)
    with engine.connect() as conn:
        return [_run_row(row) for row in conn.execute(query)]


def list_sizes(engine: Engine, run_ids: Sequence[str]) -> list[ListSize]:
    """Per run (of ``run_ids``) and list: status, snapshot rows, accepted and platform count."""
    if not run_ids:
        return []
    query = (
        select(
            list_run.c.run_id,
            list_run.c.list_name,
            list_run.c.status,
            list_run.c.snapshot_rows,
            list_run.c.accepted,
            list_run.c.platform_count,
        )
        .where(list_run.c.run_id.in_(list(run_ids)))
        .order_by(list_run.c.list_name, list_run.c.run_id)
    )
    with engine.connect() as conn:
        return [
            ListSize(
                run_id=r.run_id,
                list_name=r.list_name,
                status=r.status,
                snapshot_rows=r.snapshot_rows,
                accepted=r.accepted,
                platform_count=r.platform_count,
            )
            for r in conn.execute(query)
        ]

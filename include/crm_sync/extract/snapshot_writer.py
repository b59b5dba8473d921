"""Extract one list into a frozen snapshot: consent-scoped, every exclusion counted by reason.

``extract_snapshot`` never pulls the list into Python. Everything runs inside the database, in
one transaction:

1. ``extract_stage.sql`` classifies every selected entity once (``extract_classify.sql``: reason
   NULL = eligible, else the first exclusion that applies) into a temporary table;
2. ``extract_counts.sql`` counts the staged rows per reason;
3. ``extract_insert.sql`` writes the eligible rows, one per normalised address, with
   ``INSERT ... SELECT`` (seq, normalised address, attribute JSON): on SQLite into
   ``list_snapshot``; on PostgreSQL into a bare table of the list run's own, whose keys are built
   after the load and which is then attached as the run's partition of ``list_snapshot``
   (``extract/partitions.py``: no index maintenance nor foreign-key trigger per row).

Counts and snapshot come from the same staged rows, so they describe one state of the CRM even
while it changes; duplicates are the eligible rows the insert did not write, so
``selected == snapshot_rows + sum(excluded)`` holds by construction (and is checked anyway).
Python's memory is flat whatever the list size.

Preconditions, refused with a clear error: the sync run exists and its feedback import succeeded
(a snapshot taken before today's unsubscribes are applied would re-add those people), and the
list's consent exists in ``crm_consent_type`` (a typo would otherwise yield an empty list).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import DBAPIError

from include.crm_sync.audit.runs import platform_feedback_ok
from include.crm_sync.config.models import ListDefinition
from include.crm_sync.config.paths import SQL_ROOT
from include.crm_sync.extract.list_runs import forget_snapshot, mark_failed, open_list_run
from include.crm_sync.extract.queries import build_queries
from include.crm_sync.extract.reasons import ExclusionReason
from include.crm_sync.masking import mask_text
from include.crm_sync.staging.tables import crm_consent_type, list_run

log = logging.getLogger(__name__)

#: work_mem of the extraction transaction on PostgreSQL (per sort; sorts beyond it spill to disk)
BULK_WORK_MEM = "64MB"


class ExtractionError(RuntimeError):
    """The extraction cannot run (preconditions) or produced inconsistent counts."""


@dataclass(frozen=True)
class ExtractionReport:
    """What one extraction did; ``selected == snapshot_rows + sum(excluded.values())``."""

    list_run_id: int
    run_id: str
    list_name: str
    selected: int
    snapshot_rows: int
    excluded: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    def summary(self) -> str:
        """One log line in plain words (counts only: no addresses)."""
        parts = ", ".join(f"{reason} {n:,}" for reason, n in self.excluded.items() if n)
        rate = self.selected / self.seconds if self.seconds > 0 else 0.0
        return (
            f"list {self.list_name}: {self.selected:,} selected, {self.snapshot_rows:,} in the snapshot, "
            f"{self.excluded_total:,} excluded ({parts or 'none'}) "
            f"in {self.seconds:.1f}s ({rate:,.0f} rows/s)"
        )


def extract_snapshot(
    engine: Engine,
    list_def: ListDefinition,
    *,
    run_id: str,
    require_feedback: bool = True,
    sql_root: Path = SQL_ROOT,
) -> ExtractionReport:
    """Write the snapshot of ``list_def`` for ``run_id`` and return the counts.

    Creates the ``list_run`` row, or reuses and resets it when the same run extracts again (the
    previous snapshot, batches and refusals of that row are replaced, never duplicated). Ends in
    status ``extracted``; on error the row is marked ``failed`` and the error re-raised.
    ``require_feedback=False`` skips the feedback precondition (tools and tests only).
    """
    started = time.monotonic()
    with engine.begin() as conn:
        global_unsubscribe = _check_preconditions(conn, list_def, run_id, require_feedback)
        list_run_id = open_list_run(conn, list_def, run_id)
        # here, in this short transaction: on PostgreSQL it drops a partition (see list_runs.py)
        forget_snapshot(conn, list_run_id)

    queries = build_queries(
        list_def,
        dialect_name=engine.dialect.name,
        list_run_id=list_run_id,
        global_unsubscribe_applies=global_unsubscribe,
        sql_root=sql_root,
    )
    try:
        with engine.connect() as conn, conn.begin():
            _tune_for_bulk(conn)
            conn.execute(text(queries.drop))
            conn.execute(text(queries.stage), queries.stage_params)
            counts = _reason_counts(conn.execute(text(queries.counts)).all())
            if queries.create_target is not None:
                conn.exec_driver_sql(queries.create_target)
            written = conn.execute(text(queries.insert), queries.insert_params).rowcount
            if queries.attach is not None:
                conn.exec_driver_sql(queries.attach)
            conn.execute(text(queries.drop))
            report = _report(list_run_id, run_id, list_def.name, counts, written, time.monotonic() - started)
            conn.execute(
                update(list_run)
                .where(list_run.c.list_run_id == list_run_id)
                .values(
                    status="extracted",
                    selected=report.selected,
                    excluded=report.excluded,
                    snapshot_rows=report.snapshot_rows,
                )
            )
    except Exception as exc:
        # A database error's text can quote row values (an address in a key violation): it is
        # masked, and re-raised without the original chained, whose traceback would print them.
        detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        message = mask_text(f"extraction failed: {type(detail).__name__}: {detail}")
        with engine.begin() as conn:
            mark_failed(conn, list_run_id, message)
        if isinstance(exc, DBAPIError):
            raise ExtractionError(f"list {list_def.name}: {message}") from None
        raise
    log.info(report.summary())
    return report


def _check_preconditions(
    conn: Connection, list_def: ListDefinition, run_id: str, require_feedback: bool
) -> bool:
    """Raise unless the run may extract; return whether consent-less unsubscribes apply."""
    feedback_ok = platform_feedback_ok(conn, run_id, list_def.platform)
    if feedback_ok is None:
        raise ExtractionError(f"list {list_def.name}: sync run {run_id!r} does not exist; start it first")
    if require_feedback and not feedback_ok:
        raise ExtractionError(
            f"list {list_def.name}: the {list_def.platform} feedback import of run {run_id!r} has not "
            "succeeded; a snapshot taken now could contain people who unsubscribed or bounced since the "
            "last run"
        )
    is_marketing = conn.execute(
        select(crm_consent_type.c.is_marketing).where(crm_consent_type.c.consent_id == list_def.consent)
    ).first()
    if is_marketing is None:
        raise ExtractionError(
            f"list {list_def.name}: consent {list_def.consent!r} does not exist in crm_consent_type "
            "(check 'consent' in the lists file)"
        )
    # An unsubscribe without consent scope revokes every *marketing* consent (staging schema).
    return bool(is_marketing[0])


def _tune_for_bulk(conn: Connection) -> None:
    """Planner settings for this transaction only (PostgreSQL; SQLite has nothing to tune).

    The extraction touches a large share of the CRM tables, where hash joins win; but the
    planner cannot estimate filters like ``lower(language) IN (...)`` and, guessing a few
    thousand rows, picks nested loops with an index probe per entity -- measured 2x slower
    on 1.25M entities. More work_mem keeps the de-duplication sort of a typical list in memory.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL enable_nestloop = off"))
        conn.execute(text(f"SET LOCAL work_mem = '{BULK_WORK_MEM}'"))


def _reason_counts(rows: list[Any]) -> dict[str | None, int]:
    counts: dict[str | None, int] = {}
    for reason, n in rows:
        counts[reason] = counts.get(reason, 0) + int(n)
    unknown = set(counts) - {None, *ExclusionReason}
    if unknown:
        raise ExtractionError(f"extraction query produced unknown reasons {sorted(map(str, unknown))}")
    return counts


def _report(
    list_run_id: int, run_id: str, list_name: str, counts: dict[str | None, int], written: int, seconds: float
) -> ExtractionReport:
    eligible = counts.get(None, 0)
    if not 0 <= written <= eligible:
        raise ExtractionError(
            f"list {list_name}: the snapshot insert reported {written} rows for {eligible} eligible entities"
        )
    excluded = {reason.value: counts.get(reason.value, 0) for reason in ExclusionReason}
    excluded[ExclusionReason.DUPLICATE_ADDRESS.value] = eligible - written
    return ExtractionReport(
        list_run_id=list_run_id,
        run_id=run_id,
        list_name=list_name,
        selected=sum(counts.values()),
        snapshot_rows=written,
        excluded=excluded,
        seconds=seconds,
    )

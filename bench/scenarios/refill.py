"""Refill of one list end to end, as the ``crm_campaign_sync`` tasks do it, against the emulator.

``setup_run_step`` opens the sync run and runs its feedback import (the precondition of every
extraction); ``list_step`` then does what the mapped task group does for one list, calling the
same domain functions as ``plugins/crm_sync_airflow/sync_tasks.py``: ``extract_snapshot`` →
``validate_snapshot`` → ``refill_list`` (clear, addAll3 with ``max_parallel_calls`` in flight,
getCount). ``upload_rps`` is the upload phase alone, ``clear`` to the final ``getCount``'s answer
(the limit's clock likewise excludes login and building the bodies); ``refill_rps`` also counts
the preparation before ``clear`` (session, WSDL, reading and encoding every batch). The empty-list
window is read back from the audit (``list_run.cleared_at`` to ``last_batch_at``), as an operator
would read it.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.common.emulator import MANDATOR_ID, PASSWORD, USER


def make_platform(base_url: str, parallel: int, batch_size: int = 1000):
    from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
    from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform

    client = OptimizelyCampaignClient(
        base_url, MANDATOR_ID, USER, PASSWORD, max_parallel_calls=parallel, batch_size=batch_size
    )
    return OptimizelyCampaignPlatform(client)


def setup_run_step(url: str, base_url: str, run_id: str, landing_dir: str) -> dict:
    """Open the sync run, import the emulator's (seed) feedback, mark the import done."""
    from include.crm_sync.audit.runs import mark_feedback_ok, start_sync_run
    from include.crm_sync.feedback.importer import import_feedback
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(url)
    start_sync_run(engine, run_id, dag_id="bench")
    started = time.perf_counter()
    with make_platform(base_url, 1) as platform:
        # {}: Optimizely's unsubscribes are client-wide (crm_sync_airflow.platforms.unsubscribe_consents)
        report = import_feedback(
            engine, platform, landing_dir=Path(landing_dir), run_id=run_id, list_consents={}
        )
    mark_feedback_ok(engine, run_id)
    engine.dispose()
    return {"seconds": round(time.perf_counter() - started, 2), "rows": report.totals.read}


def list_step(url: str, base_url: str, run_id: str, list_name: str, parallel: int, batch_size: int) -> dict:
    """extract → validate → clear → addAll3 → verify for one list; seconds per step, rates, window."""
    import sqlalchemy as sa

    from bench.scenarios.extraction import extract_and_validate
    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.staging.engine import create_staging_engine
    from include.crm_sync.staging.tables import list_run
    from include.crm_sync.sync.refill import RefillOptions, refill_list

    engine = create_staging_engine(url)
    list_def = load_lists().get(list_name)
    started = time.perf_counter()  # the whole chain's start (end to end)
    extracted, extract_s, validate_s = extract_and_validate(engine, list_def, run_id)

    with make_platform(base_url, parallel, batch_size) as platform:
        step = time.perf_counter()
        report = refill_list(
            engine,
            platform,
            extracted.list_run_id,
            RefillOptions(batch_size=batch_size, max_parallel_calls=parallel),
        )
        refill_s = time.perf_counter() - step
    total_s = time.perf_counter() - started
    with engine.connect() as conn:
        audit = conn.execute(
            sa.select(list_run.c.cleared_at, list_run.c.last_batch_at, list_run.c.status).where(
                list_run.c.list_run_id == extracted.list_run_id
            )
        ).one()
    engine.dispose()
    if audit.status != "synced" or report.platform_count != report.accepted:
        raise RuntimeError(
            f"{list_name}: refill ended {audit.status}, platform {report.platform_count} "
            f"!= accepted {report.accepted}"
        )
    rows = extracted.snapshot_rows
    return {
        "list": list_name,
        "list_run_id": extracted.list_run_id,
        "platform_list_id": list_def.platform_list_id,
        "selected": extracted.selected,
        "recipients": rows,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "codes": {str(k): v for k, v in sorted(report.result_codes.items())},
        "platform_count": report.platform_count,
        "previous_count": report.previous_count,
        "extract_s": round(extract_s, 2),
        "validate_s": round(validate_s, 2),
        "refill_s": round(refill_s, 2),
        # refill_s = preparation (lock, session, count, every batch read and encoded into the spool)
        # + the upload phase: clear -> addAll3 ... -> the final getCount's answer (refill.py)
        "upload_s": round(report.upload_seconds, 2),
        "prepare_s": round(refill_s - report.upload_seconds, 2),
        "spooled_mb": round(report.spooled_bytes / 2**20, 1),
        "seconds": round(total_s, 2),
        "rps": round(rows / total_s) if total_s else None,
        "upload_rps": round(rows / report.upload_seconds) if report.upload_seconds else None,
        "refill_rps": round(rows / refill_s) if refill_s else None,
        "window_s": round((audit.last_batch_at - audit.cleared_at).total_seconds(), 2),
        "parallel": parallel,
        "batch_size": batch_size,
    }

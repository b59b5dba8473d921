"""Feedback import (step 1 of every sync) of N events through the platform's ClosedLoop export.

``inject_step`` (not measured) puts N events into the emulator over its control endpoint, half
bounces, half unsubscribes, over the CRM's own recipients, two days old (bench/feedback_import.py
``inject_events``). ``import_step`` then runs ``import_feedback`` as the ``import_feedback``
task does: SOAP paging of both exports (1000 rows a call), the landing CSV files, the ledger, the
set-based apply. Its landed files are what the COPY limit loads (``bench.common.copy_limit``):
the same rows, the same CSV content.
"""

from __future__ import annotations

import time
from pathlib import Path


def inject_step(url: str, base_url: str, events: int) -> dict:
    from bench.feedback_import import entities, inject_events

    people = entities(url)
    injected, seconds = inject_events(base_url, events, people)
    return {"injected": injected, "seconds": round(seconds, 1), "crm_entities": len(people)}


def import_step(url: str, base_url: str, run_id: str, landing_dir: str) -> dict:
    from bench.scenarios.refill import make_platform
    from include.crm_sync.audit.runs import start_sync_run
    from include.crm_sync.feedback import import_feedback
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(url)
    start_sync_run(engine, run_id, dag_id="bench")
    with make_platform(base_url, 1) as platform:
        started = time.perf_counter()
        # {}: Optimizely's unsubscribes are client-wide (crm_sync_airflow.platforms.unsubscribe_consents)
        report = import_feedback(
            engine, platform, landing_dir=Path(landing_dir), run_id=run_id, list_consents={}
        )
        seconds = time.perf_counter() - started
        calls = dict(getattr(platform.client, "call_counts", {}) or {})
    engine.dispose()
    totals = report.totals
    return {
        "rows": totals.read,
        "seconds": round(seconds, 2),
        "rps": round(totals.read / seconds) if seconds else None,
        "counts": report.as_dict()["totals"],
        "soap_calls": sum(calls.values()) if calls else None,
        "files": [str(f.path) for f in report.files],
    }

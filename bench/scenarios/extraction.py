"""Extract and validate one list as the DAG's extract and validate tasks do, timing each: the first
two steps of every list scenario (refill, membership sync)."""

from __future__ import annotations

import time
from typing import Any


def extract_and_validate(engine: Any, list_def: Any, run_id: str) -> tuple[Any, float, float]:
    """(the extraction's report, extract seconds, validate seconds); raises if the snapshot is not
    valid, since a benchmark of an invalid list measures nothing."""
    from include.crm_sync.extract import extract_snapshot
    from include.crm_sync.validate.snapshot_validation import validate_snapshot

    started = time.perf_counter()
    extracted = extract_snapshot(engine, list_def, run_id=run_id)
    extract_s = time.perf_counter() - started
    step = time.perf_counter()
    validation = validate_snapshot(engine, list_def, extracted.list_run_id)
    validate_s = time.perf_counter() - step
    if not validation.passed:
        raise RuntimeError(f"{list_def.name}: snapshot {validation.status}; the benchmark needs a valid list")
    return extracted, extract_s, validate_s

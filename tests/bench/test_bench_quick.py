"""The benchmark command runs end to end (``bench/run.py --quick`` on tiny CRMs) and writes every
figure the results must hold. Speed itself is measured by the benchmark, never asserted here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.bench.bench_command import ROOT, run_bench


def test_bench_default_parallelism_is_the_connections_default() -> None:
    """The refill is benchmarked with the max_parallel_calls a connection gets by default."""
    from crm_sync_airflow.hooks.optimizely_campaign import OptimizelyConnectionSettings

    from bench.run import DEFAULT_PARALLEL

    assert DEFAULT_PARALLEL == OptimizelyConnectionSettings.__dataclass_fields__["max_parallel_calls"].default


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(1500)
def test_quick_run_writes_every_figure(pg_server_url: str, tmp_path: Path) -> None:
    from bench.report import NULLABLE_KEYS, REQUIRED_KEYS

    options = ("--quick", "--sizes", "2000,5000", "--parse-repeats", "2")
    results = run_bench(pg_server_url, tmp_path, *options, timeout=1480)

    figures = json.loads((results / "latest.json").read_text())
    dag_files = list((ROOT / "dags").glob("*.py"))
    parse_keys = [
        k for k in figures if k.startswith("parse.") and k.endswith("_ms") and k != "parse.empty_ms"
    ]
    assert len(parse_keys) >= len(dag_files), parse_keys
    for key in [*REQUIRED_KEYS, *parse_keys]:
        value = figures[key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value) and value >= 0, (key, value)
        if key.endswith("rps"):
            assert value > 0, (key, value)
    assert all(key in figures for key in NULLABLE_KEYS)
    from bench.report_membership import KEYS, PLATFORMS

    for key in (f"{platform}.{key}" for platform in PLATFORMS for key in KEYS):
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, (key, figures.get(key))
    assert figures["machine"] and figures["git_sha"]
    assert figures["detail"]["comparison"]["same_recipients"]
    table = (results / "latest.md").read_text()
    assert "refill vs naive baseline" in table
    assert table.count("| met |") + table.count("| **missed** |") >= 7 + 8 + len(dag_files)
    assert "Spotler night 2 (2 % churn) sync vs emulator-bound limit" in table
    assert "Mailjet calls vs minimum" in table

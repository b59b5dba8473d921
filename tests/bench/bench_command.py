"""Run ``bench/run.py`` end to end for a test: its own database prefix (two runs on one server stay
apart), its workdir and results folder under the test's tmp_path, the project on the path."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(pg_server_url: str, tmp_path: Path, *args: str, timeout: float) -> Path:
    """Run the bench with ``args``; returns its results folder, fails the test with its stderr."""
    results = tmp_path / "results"
    command = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        *args,
        "--pg-url",
        pg_server_url,
        "--db-prefix",
        f"crm_sync_bench_t{uuid.uuid4().hex[:8]}",
        "--workdir",
        str(tmp_path / "work"),
        "--results-dir",
        str(results),
    ]
    env = os.environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-5000:]
    return results

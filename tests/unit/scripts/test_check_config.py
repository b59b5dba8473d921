"""`make check-config` (scripts/check_config.py): the shipped configuration passes; a broken list
file or response settings file fails it, with exit status 1 and the file, list and field named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "check_config.py"

pytestmark = pytest.mark.slow


def check_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # as a newcomer runs it: no PYTHONPATH, no Airflow settings of their own (the script sets them)
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CRM_SYNC_")) and k != "PYTHONPATH"
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**base, "AIRFLOW_HOME": str(tmp_path / "airflow"), **env},
    )


def test_the_shipped_configuration_passes(tmp_path: Path) -> None:
    result = check_config(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout
    dags = sorted(path.stem for path in (ROOT / "dags").glob("*.py"))  # one DAG per file
    assert f"{len(dags)} DAG(s) parse: {', '.join(dags)}" in result.stdout
    assert result.stdout.rstrip().endswith("Configuration OK.")


def test_a_broken_list_file_and_settings_file_fail_with_what_is_wrong(tmp_path: Path) -> None:
    lists = tmp_path / "lists.yaml"
    shipped = (ROOT / "config" / "lists.yaml").read_text()
    lists.write_text(shipped.replace("consent:", "consentt:", 1))  # the first list loses its consent
    settings = tmp_path / "response_import.yaml"
    settings.write_text("file_lifetime_days: many\n")

    result = check_config(tmp_path, CRM_SYNC_LISTS_FILE=str(lists), CRM_SYNC_RESPONSE_CONFIG=str(settings))

    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert any(str(lists) in line for line in errors), result.stdout
    assert "consentt" in result.stdout or "consent" in result.stdout
    assert any(str(settings) in line for line in errors), result.stdout
    # the DAG reads the list file when it is parsed: its import error is listed too
    assert any(line.startswith("ERROR DAG file") and "crm_campaign_sync.py" in line for line in errors)
    assert "problem(s) found" in result.stdout


def test_a_list_marked_delete_passes_and_is_named_as_such(tmp_path: Path) -> None:
    lists = tmp_path / "lists.yaml"
    shipped = (ROOT / "config" / "lists.yaml").read_text()
    marked = shipped.replace("    platform: spotler\n", "    platform: spotler\n    delete: true\n", 1)
    assert marked != shipped, "the shipped file has no Spotler list to mark"
    lists.write_text(marked)

    result = check_config(tmp_path, CRM_SYNC_LISTS_FILE=str(lists))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(delete: true)" in result.stdout
    assert result.stdout.rstrip().endswith("Configuration OK.")

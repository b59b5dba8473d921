"""Every DAG imports cleanly, cheaply, and carries what operators rely on in the UI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import ParamValidationError

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
HEAVY_MODULES = ("great_expectations", "zeep", "pandas", "paramiko", "lxml.etree")


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert "crm_campaign_sync" in dagbag.dags


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS_DIR.glob("*.py")))
def test_dag_file_imports_nothing_heavy(dag_file: str) -> None:
    """Parsing runs often in the dag processor: no heavy libraries may load at import."""
    code = (
        "import sys, runpy, time; t = time.perf_counter();"
        f"runpy.run_path({str(DAGS_DIR / dag_file)!r});"
        "print(round((time.perf_counter() - t) * 1000, 1));"
        f"print('heavy=' + ','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    root = DAGS_DIR.parent
    env = os.environ | {"PYTHONPATH": f"{root}{os.pathsep}{root / 'plugins'}"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    parse_ms, heavy = out.strip().splitlines()[-2:]
    heavy = heavy.removeprefix("heavy=")
    print(f"{dag_file}: parsed in {parse_ms} ms (first parse, cold imports of airflow included)")
    assert heavy == "", f"{dag_file} imports {heavy} at parse time"


def test_dags_have_docs_tags_owner_retries(dagbag: DagBag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id}: doc_md missing"
        assert dag.tags, f"{dag_id}: no tags"
        assert dag.max_active_runs == 1, f"{dag_id}: runs must not overlap"
        for task in dag.tasks:
            assert task.owner == "crm-data", f"{dag_id}.{task.task_id}: owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id}: no retries"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id}: retries without backoff"
            assert task.doc_md or task.doc, f"{dag_id}.{task.task_id}: no task docs"
            assert task.on_failure_callback, f"{dag_id}.{task.task_id}: no failure notifier"


def test_sync_dag_shape(dagbag: DagBag) -> None:
    dag = dagbag.dags["crm_campaign_sync"]
    assert set(dag.params.keys()) == {"lists", "dry_run", "force", "full_resync", "allow_gap"}
    assert dag.params.get_param("full_resync").schema["type"] == "boolean"
    feedback = dag.get_task("import_feedback")
    extract = dag.get_task("sync_list.extract")
    # The ordering guarantee: extraction (and so refill) only after the feedback import.
    assert "import_feedback" in extract.upstream_task_ids or feedback.task_id in {
        t.task_id for t in extract.get_flat_relatives(upstream=True)
    }
    for task_id in ("sync_list.extract", "sync_list.validate", "sync_list.refill"):
        assert dag.get_task(task_id).map_index_template == "{{ list_name }}"
    assert dag.get_task("report").trigger_rule == "all_done"
    # feedback per platform: mapped and named after the platform; a list's extraction waits for all
    # of them to finish and goes on when its own platform's succeeded
    assert feedback.map_index_template == "{{ platform }}"
    assert extract.trigger_rule == "all_done"
    # the labels platform (Flexmail) syncs once for all its lists, after the mapped groups
    assert "sync_list.refill" in dag.get_task("sync_labels").upstream_task_ids


def test_optional_params_are_optional_in_the_trigger_form(dagbag: DagBag) -> None:
    """The UI marks a param required unless its schema allows null: `lists` (empty = all) is optional."""
    params = dagbag.dags["crm_campaign_sync"].params
    lists = params.get_param("lists")
    assert "null" in lists.schema["type"] and "array" in lists.schema["type"]
    assert lists.resolve(None) is None and lists.resolve([]) == [] and lists.resolve(["newsletter_nl"])
    with pytest.raises(ParamValidationError):
        lists.resolve(["no_such_list"])


def test_parse_time_reported(dagbag: DagBag) -> None:
    """Re-parsing the folder (airflow already imported) stays fast; the number is printed for the note."""
    started = time.perf_counter()
    bag = DagBag(dag_folder=str(DAGS_DIR))
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(f"DagBag parse of {len(bag.dags)} DAG(s): {elapsed_ms:.1f} ms")
    assert bag.import_errors == {}

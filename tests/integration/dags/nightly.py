"""Running ``crm_campaign_sync`` with ``dag.test()`` and reading its task states, for the night-by-night
scenario tests of the platforms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.dag_processing.dagbag import DagBag

DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"
DAG_ID = "crm_campaign_sync"


def run_dag(**conf: Any):
    """One DAG run, parsed afresh (the lists file may change between nights, and ``dag.test(run_conf=...)``
    leaves the conf in the DAG's params)."""
    bag = DagBag(dag_folder=str(DAGS_DIR / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID].test(run_conf=conf)


def task_states(run_id: str) -> dict[tuple[str, str | None], str]:
    """(task id, rendered map index) -> state"""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            (ti.task_id, ti.rendered_map_index): str(ti.state)
            for ti in session.query(TaskInstance).filter(
                TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id
            )
        }

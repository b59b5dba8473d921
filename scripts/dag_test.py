"""`airflow dags test`, with the run id and the run's start date true to the night it plays.

    python scripts/dag_test.py DAG_ID LOGICAL_DATE [--conf JSON]

``airflow dags test`` names its run after the wall-clock time (``manual__<now>``) beside the
logical date given, and records the run as started at its logical date: the demo's nights, played
one after the other within a minute, would show in the UI as runs whose id says today, whose
logical date says last night, and which lasted hours. This runs the same ``DAG.test`` with
``run_after`` = the logical date (run id ``manual__<logical date>``) and then records the run's
start as the start of its first task, as a scheduler would have. Exits 1 if the run failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dag_id")
    parser.add_argument("logical_date", type=datetime.fromisoformat, help="ISO 8601 with a time zone")
    parser.add_argument("--conf", type=json.loads, default=None, help="the run's conf as JSON")
    args = parser.parse_args(argv)
    if args.logical_date.tzinfo is None:
        parser.error("logical_date needs a time zone, e.g. 2026-11-24T03:00:00+00:00")
    return run(args.dag_id, args.logical_date, args.conf)


def run(dag_id: str, logical_date: datetime, conf: dict | None) -> int:
    # Imported here: `--help` and argument errors should not wait for Airflow.
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.providers_configuration_loader import providers_configuration_loaded
    from airflow.utils.state import DagRunState

    @providers_configuration_loaded
    def test() -> tuple[str, str]:
        dag = get_bagged_dag(bundle_names=None, dag_id=dag_id)
        dag_run = dag.test(run_after=logical_date, logical_date=logical_date, run_conf=conf)
        return dag_run.run_id, dag_run.state

    run_id, state = test()
    _start_at_first_task(dag_id, run_id)
    print(f"dag run {run_id}: {state}")
    return 0 if state == DagRunState.SUCCESS else 1


def _start_at_first_task(dag_id: str, run_id: str) -> None:
    """The run's start date = its first task's (``DAG.test`` sets it to the logical date)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        first = session.scalar(
            select(func.min(TaskInstance.start_date)).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        )
        dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if first is not None and dag_run is not None:
            dag_run.start_date = first


if __name__ == "__main__":
    sys.exit(main())

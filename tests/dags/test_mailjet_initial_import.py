"""The mailjet_initial_import DAG: its shape, and whole runs with ``dag.test()`` against the Mailjet
emulator and the staging database (SQLite and PostgreSQL), connections as ``AIRFLOW_CONN_...``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow.dag_processing.dagbag import DagBag

from include.crm_sync.staging.tables import crm_consent, crm_entity
from include.emulators.mailjet import MailjetEmulatorServer
from tests.integration.extract.crm_state import CrmState

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "mailjet_initial_import"


@pytest.fixture
def dag():
    bag = DagBag(dag_folder=str(DAGS_DIR / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def test_dag_shape(dag):
    assert dag.schedule is None and dag.max_active_runs == 1
    assert set(dag.params.keys()) == {"mailjet_list", "consent", "dry_run"}
    assert [t.task_id for t in dag.tasks] == ["import_list"]
    assert {"crm-sync", "mailjet"} <= set(dag.tags)


@pytest.fixture
def env(staging_url, tmp_path, monkeypatch, airflow_db):
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(staging_url)
    CrmState().entity("c1", "Known@Example.com", consent=None).write(engine, run_id="seed")
    with MailjetEmulatorServer(api_key="k", secret_key="s") as server:
        list_id = server.emulator.state.create_list("Newsletter", server.emulator.clock.now()).id
        assert list_id
        server.control.signup("Newsletter", "known@example.com")
        server.control.signup("Newsletter", "new@example.com")
        monkeypatch.setenv(
            "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
            json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": staging_url}}),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_MAILJET_DEFAULT",
            json.dumps({"conn_type": "mailjet", "host": server.api_url, "login": "k", "password": "s"}),
        )
        yield engine
    engine.dispose()


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(sa.func.count()).select_from(crm_entity)).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(crm_consent)).scalar_one(),
        )


def test_a_dry_run_then_the_import_then_a_second_run_that_changes_nothing(dag, env):
    conf = {"mailjet_list": "Newsletter", "consent": "newsletter", "dry_run": False}
    dry = dag.test(run_conf={**conf, "dry_run": True})
    assert str(dry.state) == "success" and _counts(env) == (1, 0)
    first = dag.test(run_conf=conf)
    assert str(first.state) == "success" and _counts(env) == (2, 2)
    second = dag.test(run_conf=conf)
    assert str(second.state) == "success" and _counts(env) == (2, 2)
    report = second.get_task_instance("import_list").xcom_pull(task_ids="import_list")
    assert report is None or report["changed"] == 0


def test_an_unknown_list_fails_at_once(dag, env):
    run = dag.test(run_conf={"mailjet_list": "Nope", "consent": "newsletter"})
    assert str(run.state) == "failed"

"""The mailjet_incremental_sync DAG: its shape and schedule setting, and one run with ``dag.test()``
against the Mailjet emulator and the staging database (config with a Mailjet newsletter list)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow.dag_processing.dagbag import DagBag

from include.crm_sync.staging.tables import crm_consent
from include.emulators.mailjet import MailjetEmulatorServer
from tests.integration.extract.crm_state import CrmState

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "mailjet_incremental_sync"


def _dag():
    bag = DagBag(dag_folder=str(DAGS_DIR / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def test_dag_shape_and_schedule_setting(monkeypatch):
    dag = _dag()
    assert dag.schedule == "*/15 * * * *" and dag.max_active_runs == 1 and not dag.catchup
    assert [t.task_id for t in dag.tasks] == ["sync_new"]
    monkeypatch.setenv("CRM_SYNC_MAILJET_INCREMENTAL_SCHEDULE", "*/5 * * * *")
    assert _dag().schedule == "*/5 * * * *"


@pytest.fixture
def env(staging_url, tmp_path, monkeypatch, airflow_db):
    from include.crm_sync.config import registry
    from include.crm_sync.staging.engine import create_staging_engine

    monkeypatch.setattr(registry, "SUPPORTED_PLATFORMS", registry.SUPPORTED_PLATFORMS | {"mailjet"})
    engine = create_staging_engine(staging_url)
    CrmState().entity("c1", "c1@example.com").write(engine, run_id="seed")
    lists = tmp_path / "lists.yaml"
    lists.write_text(
        "lists:\n  - name: news_mj\n    platform: mailjet\n    consent: newsletter\n"
        "    mailjet_list: {name: Newsletter}\n    selection: {filter: {}}\n"
    )
    with MailjetEmulatorServer(api_key="k", secret_key="s") as server:
        monkeypatch.setenv("CRM_SYNC_LISTS_FILE", str(lists))
        monkeypatch.setenv(
            "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
            json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": staging_url}}),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_MAILJET_DEFAULT",
            json.dumps({"conn_type": "mailjet", "host": server.api_url, "login": "k", "password": "s"}),
        )
        yield engine, server
    engine.dispose()


def test_a_run_brings_a_signup_in_and_a_new_profile_out(env):
    engine, server = env
    with engine.begin() as conn:  # c1's consent granted just now
        conn.execute(sa.update(crm_consent).values(updated_at=sa.func.current_timestamp()))
    server.emulator.state.create_list("Newsletter", server.emulator.clock.now())
    server.control.signup("Newsletter", "fresh@example.com")
    run = _dag().test()
    assert str(run.state) == "success"
    assert set(server.control.members("Newsletter")) == {"fresh@example.com", "c1@example.com"}
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(crm_consent)).scalar_one() == 2


def test_a_list_marked_delete_is_neither_created_again_nor_added_to(env, tmp_path, monkeypatch):
    engine, server = env
    lists = tmp_path / "lists_with_delete.yaml"
    lists.write_text(
        "lists:\n  - name: news_mj\n    platform: mailjet\n    consent: newsletter\n"
        "    mailjet_list: {name: Newsletter}\n    selection: {filter: {}}\n"
        "  - name: old_mj\n    platform: mailjet\n    consent: newsletter\n    delete: true\n"
        "    mailjet_list: {name: Old newsletter}\n    selection: {filter: {}}\n"
    )
    monkeypatch.setenv("CRM_SYNC_LISTS_FILE", str(lists))
    with engine.begin() as conn:
        conn.execute(sa.update(crm_consent).values(updated_at=sa.func.current_timestamp()))

    run = _dag().test()

    assert str(run.state) == "success"
    names = {item["name"] for item in server.control.state()["lists"]}
    assert names == {"Newsletter"}  # the marked list (gone, or about to go) was not made again
    assert set(server.control.members("Newsletter")) == {"c1@example.com"}

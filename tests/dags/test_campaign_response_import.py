"""The campaign_response_import DAG: its shape, and whole runs with ``dag.test()`` against the
emulator's SFTP server on loopback and the staging database (SQLite and PostgreSQL), with the
connections given as ``AIRFLOW_CONN_...`` environment variables (JSON form)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow.dag_processing.dagbag import DagBag

from include.crm_sync.staging.tables import (
    crm_campaign_response,
    export_watermark,
    file_ledger,
    response_event,
)
from tests.fixtures.sftp import sftp_connection_json
from tests.integration.responses.conftest import seed_crm, standard_events, write_file

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "campaign_response_import"


@pytest.fixture
def dag():
    """Parsed afresh for each test: ``dag.test(run_conf=...)`` leaves the conf in the DAG's params."""
    bag = DagBag(dag_folder=str(DAGS_DIR / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def test_dag_shape(dag):
    assert dag.schedule == "@daily"
    assert set(dag.params.keys()) == {"dry_run", "reimport_from", "reimport_to", "allow_gap"}
    assert dag.max_active_runs == 1 and not dag.catchup
    assert [t.task_id for t in dag.topological_sort()] == ["check_gap", "import_files", "tidy_remote"]
    assert dag.get_task("import_files").upstream_task_ids == {"check_gap"}
    assert dag.get_task("import_files").retries >= 3
    assert "data may be lost" in dag.doc_md.lower() or "may be lost" in dag.doc_md
    assert {"crm-sync", "sftp"} <= set(dag.tags)


def test_the_schedule_is_configurable(monkeypatch):
    monkeypatch.setenv("CRM_SYNC_RESPONSES_SCHEDULE", "@hourly")
    bag = DagBag(dag_folder=str(DAGS_DIR / f"{DAG_ID}.py"))
    assert bag.dags[DAG_ID].schedule == "@hourly"


@pytest.fixture
def dag_env(staging_url, sftp_emulator, tmp_path, monkeypatch, airflow_db):
    """Connections, settings and landing folder of a DAG run; the CRM seeded; returns the engine."""
    from include.crm_sync.staging.engine import create_staging_engine

    engine = create_staging_engine(staging_url)
    seed_crm(engine)
    settings = tmp_path / "response_import.yaml"
    settings.write_text(
        "remote_dir: /responses\nfile_lifetime_days: 14\nafter_import: move\n"
        "move_to: /responses/imported\nmailing_campaigns: {}\n"
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
        json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": staging_url}}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_OPTIMIZELY_SFTP_DEFAULT", sftp_connection_json(sftp_emulator))
    monkeypatch.setenv("CRM_SYNC_RESPONSE_CONFIG", str(settings))
    monkeypatch.setenv("CRM_SYNC_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no known_hosts: only the pinned key counts
    yield engine
    engine.dispose()


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_a_run_imports_the_new_files_and_moves_them_away(dag, dag_env, sftp_emulator, sftp_connect):
    events, _ = standard_events(sftp_emulator)
    name = write_file(sftp_emulator, events)

    run = dag.test()

    assert str(run.state) == "success", states(run)
    with dag_env.connect() as conn:
        ledger = conn.execute(
            sa.select(
                file_ledger.c.file_name,
                file_ledger.c.status,
                file_ledger.c.rows_read,
                file_ledger.c.rows_applied,
                file_ledger.c.rows_ignored,
                file_ledger.c.rows_rejected,
            )
        ).all()
        success = conn.execute(sa.select(export_watermark.c.last_success_at)).scalar_one()
    assert [tuple(r) for r in ledger] == [(name, "applied", 17, 10, 6, 1)]
    assert count(dag_env, crm_campaign_response) == 7 and count(dag_env, response_event) == 17
    assert success > datetime.now(UTC) - timedelta(hours=1)
    client = sftp_connect()
    assert client.listdir("/responses") == ["imported"] and client.listdir("/responses/imported") == [name]


def test_a_dry_run_changes_nothing(dag, dag_env, sftp_emulator, sftp_connect):
    events, _ = standard_events(sftp_emulator)
    name = write_file(sftp_emulator, events)

    run = dag.test(run_conf={"dry_run": True})

    assert str(run.state) == "success", states(run)
    assert (
        count(dag_env, file_ledger) == count(dag_env, response_event) == count(dag_env, export_watermark) == 0
    )
    assert sftp_connect().listdir("/responses") == [name]  # not moved either


def test_a_gap_fails_the_run_before_anything_is_imported(dag, dag_env, sftp_emulator):
    write_file(sftp_emulator, standard_events(sftp_emulator)[0])
    long_ago = datetime.now(UTC) - timedelta(days=20)
    with dag_env.begin() as conn:
        conn.execute(
            export_watermark.insert().values(
                export_name="optimizely:response_files",
                watermark=long_ago,
                last_success_at=long_ago,
                last_file_id=None,
            )
        )

    run = dag.test()

    assert str(run.state) == "failed"
    assert states(run) == {
        "check_gap": "failed",
        "import_files": "upstream_failed",
        "tidy_remote": "upstream_failed",
    }
    assert count(dag_env, file_ledger) == 0

    accepted = dag.test(run_conf={"allow_gap": True})
    assert str(accepted.state) == "success", states(accepted)
    assert count(dag_env, file_ledger) == 1

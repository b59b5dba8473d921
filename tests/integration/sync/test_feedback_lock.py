"""Feedback imports of one platform never run at once (issue 12 points 1 and 5): the nightly task
``import_feedback`` holds the platform's writer lock around the import, against the real emulator.

A second run's import finds the lock held, waits its bounded time, and fails naming the holder
(Airflow retries it); once the first has finished, it imports and marks its run's feedback done.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from include.crm_sync.audit.runs import feedback_ok
from include.crm_sync.staging.tables import writer_lock
from include.crm_sync.sync.writer_lock import LockKey, LockSettings, WriterLockBusy, hold_writer_lock
from tests.integration.extract.crm_state import add_sync_run


@pytest.fixture
def tasks(staging_url, optimizely_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_STAGING_DEFAULT",
        json.dumps({"conn_type": "crm_staging", "extra": {"sqlalchemy_url": staging_url}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPTIMIZELY_CAMPAIGN_DEFAULT",
        json.dumps(
            {
                "conn_type": "optimizely_campaign",
                "host": optimizely_emulator.base_url,
                "login": "demo",
                "password": "demo",
                "extra": {"mandator_id": 1},
            }
        ),
    )
    monkeypatch.setenv("CRM_SYNC_LANDING_DIR", str(tmp_path / "landing"))
    from crm_sync_airflow import sync_tasks

    monkeypatch.setattr(sync_tasks, "FEEDBACK_LOCK", LockSettings(wait_seconds=0))
    return sync_tasks


def test_a_second_feedback_import_of_a_platform_fails_naming_the_first_then_runs_after_it(
    tasks, staging_engine
):
    add_sync_run(staging_engine, "night-2", feedback_ok=False)
    first = "run night-1, feedback import of optimizely"
    with hold_writer_lock(
        staging_engine, LockKey.feedback("optimizely"), owner="feedback:night-1", holder=first
    ):
        with pytest.raises(WriterLockBusy, match="run night-1, feedback import of optimizely"):
            tasks.import_feedback({"params": {}, "run_id": "night-2"})
        assert not feedback_ok(staging_engine, "night-2")

    reports = tasks.import_feedback({"params": {}, "run_id": "night-2"})  # the task's retry

    assert set(reports) == {"optimizely"}
    assert feedback_ok(staging_engine, "night-2")
    with staging_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(writer_lock)).scalar_one() == 0

"""The nightly tasks around the writer lock (issue 12 points 1 and 5), against the real emulator.

Feedback imports of one platform never run at once: ``import_feedback`` holds the platform's
writer lock around the import. A second run's import finds the lock held, waits its bounded time,
and fails naming the holder (Airflow retries it); once the first has finished, it imports and
marks its run's feedback done. The ``refill`` task of a superseded snapshot ends skipped.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from include.crm_sync.audit.runs import feedback_platforms
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


class TaskInstance:
    """What the tasks pull from XCom: ``start_run``'s lists (the other tasks pushed nothing)."""

    def __init__(self, lists: list[str]) -> None:
        self.lists = lists

    def xcom_pull(self, task_ids: str) -> list[str] | None:
        return self.lists if task_ids == "start_run" else None


def test_a_second_feedback_import_of_a_platform_fails_naming_the_first_then_runs_after_it(
    tasks, staging_engine
):
    context = {"params": {}, "run_id": "night-2", "ti": TaskInstance(["newsletter_nl"])}
    add_sync_run(staging_engine, "night-2", feedback_ok=False)
    first = "run night-1, feedback import of optimizely"
    with hold_writer_lock(
        staging_engine, LockKey.feedback("optimizely"), owner="feedback:night-1", holder=first
    ):
        with pytest.raises(WriterLockBusy, match="run night-1, feedback import of optimizely"):
            tasks.import_feedback(dict(context), "optimizely")
        assert "optimizely" not in feedback_platforms(staging_engine, "night-2")

    tasks.import_feedback(dict(context), "optimizely")  # the task's retry

    assert "optimizely" in feedback_platforms(staging_engine, "night-2")
    with staging_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(writer_lock)).scalar_one() == 0


def test_the_refill_task_of_a_superseded_snapshot_ends_skipped_without_touching_the_platform(
    tasks, staging_engine, optimizely_emulator
):
    """The operator clears last night's failed refill after tonight's run validated the same platform
    list: the task is skipped (no failure, no retry, no asset event) and the report task passes."""
    from airflow.sdk.exceptions import AirflowSkipException

    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.staging.tables import list_run
    from tests.integration.sync.scenario import calls

    newsletter = load_lists().get("newsletter_nl")
    started = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    for n, run_id in enumerate(("night-1", "night-2")):
        add_sync_run(staging_engine, run_id)
        with staging_engine.begin() as conn:
            conn.execute(
                sa.insert(list_run).values(
                    run_id=run_id,
                    list_name=newsletter.name,
                    platform=newsletter.platform,
                    platform_list_id=newsletter.platform_list_id,
                    optin_process_id=newsletter.optin_process_id,
                    consent_id=newsletter.consent,
                    attribute_names=list(newsletter.attribute_names),
                    status="refilling" if n == 0 else "validated",
                    snapshot_rows=0,
                    started_at=started + timedelta(days=n),
                )
            )

    with pytest.raises(AirflowSkipException, match="superseded.*run night-2"):
        tasks.refill({"params": {}, "run_id": "night-1"}, newsletter.name, alias=None)

    assert (
        calls(optimizely_emulator, "Recipient.clear") == calls(optimizely_emulator, "Recipient.addAll3") == 0
    )

    result = tasks.report({"params": {}, "run_id": "night-1", "ti": TaskInstance([newsletter.name])})
    assert result["failed_lists"] == []
    assert [(item["list_name"], item["status"]) for item in result["lists"]] == [
        (newsletter.name, "superseded")
    ]

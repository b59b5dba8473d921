"""
### CRM → campaign platform: nightly list sync

Makes every platform recipient list defined in `config/lists.yaml` an exact, consent-correct copy
of its CRM selection.

1. **start_run** opens the audit row of this run and picks the lists to sync (param `lists`).
2. **import_feedback** pulls the platform's bounce and unsubscribe exports (SOAP), lands them as
   CSV files and applies them to the CRM. *Nothing is extracted or refilled unless this succeeded
   in this run*: otherwise someone who unsubscribed yesterday would be added again.
3. **sync_list**, one mapped group per list (each mapped task is named after its list, so one
   list's failure does not stop the others):
   *extract* a frozen snapshot (one consent; unsubscribed, bounced, blocklisted, invalid and
   duplicate addresses left out and counted) → *validate* it (great-expectations + volume guard)
   → *refill*: `clear`, then `addAll3` in batches, then `getCount` must equal the accepted rows.
   A failed validation or a tripped guard leaves the platform list as it was. A refill that fails
   half-way is resumed by the task's retry (or cleared and refilled), never left half-filled
   as successful. Each synced list emits its asset `crm-sync://<platform>/lists/<id>`.
4. **report** writes the run summary (per list: extracted, excluded by reason, validated,
   uploaded, codes 0–7, rejected, empty-list window) to `sync_run.summary` and the log, and fails
   the run if any list failed.

Trigger with **dry_run** to extract and validate only and see what would change (the platform
lists and the CRM's feedback state are not touched), with **force** to go past a tripped volume
guard (logged and recorded), and with **lists** to sync only some lists. Retries are safe: every
step resumes or redoes its work. Schedule: `CRM_SYNC_SCHEDULE` (cron, default 03:00 daily).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import AssetAlias, Param, dag, get_current_context, task, task_group

from crm_sync_airflow.notifiers.failure_log import build_notifier
from include.crm_sync.config.loader import load_lists

# Parsing reads config/lists.yaml (a small local file) on purpose: a broken list definition must
# fail the DAG import with a message naming the file, list and field, before anything runs.
LISTS = load_lists()
LIST_NAMES = LISTS.names
SYNCED_LISTS = AssetAlias("crm_sync_platform_lists")

default_args: dict[str, Any] = {
    "owner": "crm-data",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "on_failure_callback": [build_notifier()],
}


@dag(
    dag_id="crm_campaign_sync",
    schedule=os.environ.get("CRM_SYNC_SCHEDULE", "0 3 * * *"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    doc_md=__doc__,
    tags=["crm-sync", "optimizely", "nightly"],
    params={
        "lists": Param(
            [],
            # "null" too: the trigger form marks a param required unless its schema allows null
            type=["null", "array"],
            items={"type": "string", "enum": LIST_NAMES},
            title="Lists to sync",
            description=f"Empty = all lists. Known: {', '.join(LIST_NAMES)}.",
        ),
        "dry_run": Param(
            False, type="boolean", title="Dry run",
            description="Extract and validate, report what would change; the platform is not touched.",
        ),
        "force": Param(
            False, type="boolean", title="Force past guards",
            description="Refill even when a volume guard tripped (the override is logged and audited).",
        ),
        "allow_gap": Param(
            False, type="boolean", title="Accept a feedback gap",
            description="Import feedback although the last import is older than the platform keeps data.",
        ),
    },
)
def crm_campaign_sync() -> None:
    @task
    def start_run() -> list[str]:
        """Open the audit row of this run; return the lists to sync (all, or those in `lists`)."""
        from crm_sync_airflow.sync_tasks import start_run as run

        return run(get_current_context())

    @task(retries=5)
    def import_feedback() -> dict[str, Any]:
        """Apply today's bounces and unsubscribes to the CRM before any list is extracted."""
        from crm_sync_airflow.sync_tasks import import_feedback as run

        return run(get_current_context())

    @task_group(group_id="sync_list")
    def sync_list(list_name: str, feedback: dict[str, Any]) -> None:
        """Extract → validate → clear + refill one list (mapped: one group per list)."""

        @task(map_index_template="{{ list_name }}")
        def extract(list_name: str, feedback: dict[str, Any]) -> dict[str, Any]:
            """Freeze the list's consent-scoped snapshot; every exclusion is counted by reason.
            Takes the feedback import's result: it runs only after that import succeeded."""
            from crm_sync_airflow.sync_tasks import extract as run

            return run(get_current_context(), list_name, feedback)

        @task(map_index_template="{{ list_name }}")
        def validate(list_name: str, extracted: dict[str, Any]) -> dict[str, Any]:
            """great-expectations on the snapshot, then the volume guard (or `force`)."""
            from crm_sync_airflow.sync_tasks import validate as run

            return run(get_current_context(), list_name)

        @task(map_index_template="{{ list_name }}", outlets=[SYNCED_LISTS], retries=4)
        def refill(list_name: str, validated: dict[str, Any]) -> dict[str, Any]:
            """Clear the platform list and fill it with addAll3; resumes after a failure."""
            from crm_sync_airflow.sync_tasks import refill as run

            return run(get_current_context(), list_name, alias=SYNCED_LISTS)

        refill(list_name, validate(list_name, extract(list_name, feedback)))

    @task(trigger_rule="all_done", retries=2)
    def report() -> dict[str, Any]:
        """Write the run summary; fails the run if any list failed."""
        from crm_sync_airflow.sync_tasks import report as run

        return run(get_current_context())

    lists = start_run()
    feedback = import_feedback()
    lists >> feedback
    synced = sync_list.partial(feedback=feedback).expand(list_name=lists)
    synced >> report()


crm_campaign_sync()


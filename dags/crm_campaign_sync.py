"""
### CRM → campaign platforms: nightly list sync

Makes every platform list defined in `config/lists.yaml` an exact, consent-correct copy of its CRM
selection, on each list's platform: Optimizely Campaign recipient lists (refill), Spotler Mail+
audiences and Mailjet lists (membership sync) and Flexmail interest labels (label sync).

1. **start_run** opens the audit row of this run and picks the lists to sync (param `lists`) and
   the platforms they are on.
2. **import_feedback**, one mapped task per platform (named after it), brings that platform's
   bounces and unsubscribes (Optimizely's exports, Spotler's bounce and change feeds, Mailjet's list
   unsubscribes, exclusions and new sign-ups, Flexmail's blacklist) back to the CRM. *A list is
   extracted only if the feedback import of ITS platform succeeded in this run*: otherwise
   someone who unsubscribed yesterday would be added again. A
   failed Spotler feedback import stops the Spotler lists, not the Optimizely ones.
3. **sync_list**, one mapped group per list (each mapped task is named after its list, so one
   list's failure does not stop the others):
   *extract* a frozen snapshot (one consent; unsubscribed, bounced, blocklisted, invalid and
   duplicate addresses left out and counted) → *validate* it (great-expectations + volume guard)
   → *refill* writes the list its platform's way: Optimizely `clear`, `addAll3` in batches,
   `getCount`; Spotler and Mailjet removals first, then additions (a removal guard before any
   removal; Mailjet adds only with `addnoforce`);
   Flexmail lists wait for *sync_labels*. A failed validation or a tripped guard leaves the
   platform list as it was; a failed write is resumed by the task's retry. Each synced list emits
   its asset `crm-sync://<platform>/lists/<id>`.
4. **sync_labels** syncs all Flexmail lists of the run in one import, removals first (a removal
   backlog worked across runs, in the report with its drain time).
5. **delete_removed_lists** deletes the Spotler audiences and Mailjet lists of lists no longer in
   `lists.yaml` or marked `delete: true` there (such a list is never extracted or synced); one
   still in use is reported with what to do, not failed.
6. **report** writes the run summary (per list: extracted, excluded by reason, validated,
   uploaded, added/removed/refused, empty-list window) to `sync_run.summary` and the log, and
   fails the run if any list failed.

Trigger with **dry_run** to extract and validate only and see what would change (the platform
lists and the CRM's feedback state are not touched), with **force** to go past a tripped volume
guard (logged and recorded), with **full_resync** to empty and refill every membership list, and
with **lists** to sync only some lists. Retries are safe: every step resumes or redoes its work.
Schedule: `CRM_SYNC_SCHEDULE` (cron, default 03:00 daily).
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
#: the lists a run may sync: a list marked ``delete: true`` is not extracted, only deleted
LIST_NAMES = LISTS.synced_names
#: one feedback import task per platform the lists file names (a platform none of the chosen lists is
#: on skips its import)
PLATFORMS = sorted({item.platform for item in LISTS.lists})
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
    tags=["crm-sync", "optimizely", "spotler", "mailjet", "flexmail", "nightly"],
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
            False,
            type="boolean",
            title="Dry run",
            description="Extract and validate, report what would change; the platform is not touched.",
        ),
        "force": Param(
            False,
            type="boolean",
            title="Force past guards",
            description="Refill even when a volume guard tripped (the override is logged and audited).",
        ),
        "full_resync": Param(
            False,
            type="boolean",
            title="Full resync",
            description="Empty every membership list (Spotler audience) and add everyone again.",
        ),
        "allow_gap": Param(
            False,
            type="boolean",
            title="Accept a feedback gap",
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

    feedback_doc = "Apply this platform's bounces and unsubscribes to the CRM before its lists are extracted."

    # doc_md given: a task mapped with .expand() directly does not take its docstring as docs
    @task(retries=5, map_index_template="{{ platform }}", doc_md=feedback_doc)
    def import_feedback(platform: str) -> dict[str, Any]:
        """Apply this platform's bounces and unsubscribes to the CRM before its lists are extracted."""
        from crm_sync_airflow.sync_tasks import import_feedback as run

        return run(get_current_context(), platform)

    @task_group(group_id="sync_list")
    def sync_list(list_name: str) -> None:
        """Extract → validate → write one list to its platform (mapped: one group per list)."""

        # all_done: waits for every platform's feedback import, then goes on if ITS platform's
        # succeeded (checked in the task), so one platform's failure does not stop the others.
        @task(map_index_template="{{ list_name }}", trigger_rule="all_done")
        def extract(list_name: str) -> dict[str, Any]:
            """Freeze the list's consent-scoped snapshot; every exclusion is counted by reason.
            Only after this run's feedback import of the list's platform succeeded."""
            from crm_sync_airflow.sync_tasks import extract as run

            return run(get_current_context(), list_name)

        @task(map_index_template="{{ list_name }}")
        def validate(list_name: str, extracted: dict[str, Any]) -> dict[str, Any]:
            """great-expectations on the snapshot, then the volume guard (or `force`)."""
            from crm_sync_airflow.sync_tasks import validate as run

            return run(get_current_context(), list_name)

        @task(map_index_template="{{ list_name }}", outlets=[SYNCED_LISTS], retries=4)
        def refill(list_name: str, validated: dict[str, Any]) -> dict[str, Any]:
            """Write the list its platform's way (refill or membership sync); resumes after a failure."""
            from crm_sync_airflow.sync_tasks import refill as run

            return run(get_current_context(), list_name, alias=SYNCED_LISTS)

        refill(list_name, validate(list_name, extract(list_name)))

    @task(trigger_rule="all_done", outlets=[SYNCED_LISTS], retries=4)
    def sync_labels() -> dict[str, Any]:
        """All Flexmail lists of the run in one import, removals first (skipped when there are none)."""
        from crm_sync_airflow.sync_tasks import sync_labels as run

        return run(get_current_context(), alias=SYNCED_LISTS)

    @task(trigger_rule="all_done", retries=2)
    def delete_removed_lists() -> dict[str, Any]:
        """Delete the platform lists of lists no longer configured or marked `delete: true`; one in
        use is reported, not failed."""
        from crm_sync_airflow.sync_tasks import delete_removed_lists as run

        return run(get_current_context())

    @task(trigger_rule="all_done", retries=2)
    def report() -> dict[str, Any]:
        """Write the run summary; fails the run if any list failed."""
        from crm_sync_airflow.sync_tasks import report as run

        return run(get_current_context())

    lists = start_run()
    feedback = import_feedback.expand(platform=PLATFORMS)
    lists >> feedback
    synced = sync_list.expand(list_name=lists)
    feedback >> synced
    labels = sync_labels()
    synced >> labels >> delete_removed_lists() >> report()


crm_campaign_sync()

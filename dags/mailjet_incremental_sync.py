"""
### CRM ⇄ Mailjet: incremental adds (short schedule, default every 15 minutes)

Next to the nightly full membership sync, this run makes new profiles arrive quickly. For every
list of `config/lists.yaml` with `platform: mailjet` (connection `mailjet_default`):

1. **Sign-ups from Mailjet**: people who subscribed to the list in Mailjet since the last run reach
   the CRM with the list's one consent (address matched trimmed and case-insensitive, a lead made
   for an unknown address, source `mailjet:<list>`).
2. **New CRM profiles**: entities whose consent for the list was granted since the last run (with
   an address, not bounced, not blocklisted) are added to the Mailjet list of *that* consent with
   `addnoforce` -- someone who unsubscribed in Mailjet stays unsubscribed. Newsletter and service
   consent are two lists and never mix.

It only adds: removals, Mailjet's unsubscribes and exclusions, guards and the full selection are
the nightly sync's job. Each list is written under its writer lock, shared with the nightly sync
(one writer per list). Schedule: `CRM_SYNC_MAILJET_INCREMENTAL_SCHEDULE` (default `*/15 * * * *`).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task
from crm_sync_airflow.notifiers.failure_log import build_notifier

default_args: dict[str, Any] = {
    "owner": "crm-data",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
    "on_failure_callback": [build_notifier()],
}


@dag(
    dag_id="mailjet_incremental_sync",
    schedule=os.environ.get("CRM_SYNC_MAILJET_INCREMENTAL_SCHEDULE") or "*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    doc_md=__doc__,
    tags=["crm-sync", "mailjet", "incremental"],
)
def mailjet_incremental_sync() -> None:
    @task(retries=2, execution_timeout=timedelta(minutes=30))
    def sync_new() -> list[dict[str, Any]]:
        """Mailjet sign-ups to the CRM, then new consented CRM profiles to their Mailjet list."""
        from crm_sync_airflow.mailjet_tasks import incremental_sync as run

        return run(get_current_context())

    sync_new()


mailjet_incremental_sync()

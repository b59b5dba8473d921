"""
### Campaign platform → CRM: response data import (own schedule)

Brings the platform's response files (bounces, unsubscribes, opens, clicks, autoresponders of its
mailings) from its SFTP area into the CRM, independent of the nightly list sync.

1. **check_gap** fails the run when the last successful import is older than the platform keeps
   response files (`file_lifetime_days` in `config/response_import.yaml`, 14 by default): files
   nobody fetched may be gone and *data may be lost*. Trigger with **allow_gap** once the loss is
   understood.
2. **import_files** lists the remote folder (connection `optimizely_sftp_default`, host key
   pinned), downloads every file (temporary name, size verified, renamed) and knows it by its
   sha256, not its name or size: content the ledger has not applied (a new file, or new content
   under a known name) is stream-parsed in chunks, its events de-duplicated, and applied in one
   transaction per file:
   *bounces and unsubscribes* → the same apply as the nightly sync (entity bounced, consent
   revoked); *opens and clicks* → CRM campaign responses when the mailing maps to a CRM campaign
   (`mailing_campaigns` in the settings, or the closed-loop wave id in the file), otherwise
   counted as *ignored, no CRM campaign*. Per file: read = applied + known + ignored + rejected;
   malformed records are rejected with line and reason, the rest is loaded. A truncated file, a
   wrong header or bytes that are not UTF-8 refuse the whole file (it is retried next run and the
   run fails); a dropped connection leaves nothing partial and the task's retry completes it.
3. **tidy_remote** deletes or moves imported files on the server when `after_import` says so
   (off by default: the platform deletes them itself after their lifetime), only when their
   current content is the one imported.

Trigger with **dry_run** to see what would be applied (everything is rolled back, nothing landed is
kept), with
**reimport_from** / **reimport_to** (dates, UTC, of the files on the server) to import files again
(only what is missing is applied, e.g. opens of a mailing mapped to a campaign since), and with
**allow_gap** as above. Schedule: `CRM_SYNC_RESPONSES_SCHEDULE` (default `@daily`; `@hourly` works).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset, Param, dag, get_current_context, task
from crm_sync_airflow.notifiers.failure_log import build_notifier

CAMPAIGN_RESPONSES = Asset(name="crm_campaign_responses", uri="crm-sync://crm/campaign-responses")

default_args: dict[str, Any] = {
    "owner": "crm-data",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": [build_notifier()],
}


@dag(
    dag_id="campaign_response_import",
    schedule=os.environ.get("CRM_SYNC_RESPONSES_SCHEDULE", "@daily"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    doc_md=__doc__,
    tags=["crm-sync", "optimizely", "responses", "sftp"],
    params={
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description=(
                "Download and parse, report what would be applied; nothing is written to the CRM or ledger."
            ),
        ),
        "reimport_from": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Re-import from (date)",
            description=(
                "Import files of the server again whose date (UTC) is on or after this day (YYYY-MM-DD)."
            ),
        ),
        "reimport_to": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Re-import to (date)",
            description="... and on or before this day. One of the two alone means that single day.",
        ),
        "allow_gap": Param(
            False,
            type="boolean",
            title="Accept a gap",
            description=(
                "Import although the last import is older than the files' lifetime (data may be lost)."
            ),
        ),
    },
)
def campaign_response_import() -> None:
    @task(retries=2)
    def check_gap() -> dict[str, Any]:
        """Fail loudly if response files may have expired unimported since the last successful import."""
        from crm_sync_airflow.response_tasks import check_gap as run

        return run(get_current_context())

    @task(retries=5, outlets=[CAMPAIGN_RESPONSES])
    def import_files() -> dict[str, Any]:
        """List, land, parse and apply every new response file; counts per file add up."""
        from crm_sync_airflow.response_tasks import import_files as run

        return run(get_current_context())

    @task(retries=3)
    def tidy_remote() -> list[dict[str, str]]:
        """Delete or move imported files on the server if `after_import` says so (default: keep)."""
        from crm_sync_airflow.response_tasks import tidy_remote as run

        return run(get_current_context())

    check_gap() >> import_files() >> tidy_remote()


campaign_response_import()

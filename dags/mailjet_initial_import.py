"""
### Mailjet → CRM: one-off import of an existing Mailjet list (manual trigger)

Run once when connecting Mailjet (connection `mailjet_default`: host = API base URL, login = API
key, password = secret key): imports the members of **one Mailjet contact list** into the CRM.

* Addresses are matched to CRM entities trimmed and case-insensitive (every entity with that
  address); an address the CRM does not know becomes a new **lead**.
* The list carries **one consent** (param `consent`, e.g. `newsletter`; a service-messages list is
  imported in a second run with `consent: service`). A subscribed member -- and, for a marketing
  consent, one not excluded from campaigns -- gets that consent granted with source
  `mailjet:<list>` and the time Mailjet says they subscribed. A member who unsubscribed from the
  list has a granted consent revoked; a consent the CRM revoked is never re-granted.
* **Idempotent**: a second run changes nothing, and its report says so. **dry_run** reports what
  would change and writes nothing.

The task's return value (XCom) is the report: members read, matched, leads created, consents
granted / revoked / already granted / kept revoked, rejected addresses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task
from crm_sync_airflow.notifiers.failure_log import build_notifier

default_args: dict[str, Any] = {
    "owner": "crm-data",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": [build_notifier()],
}


@dag(
    dag_id="mailjet_initial_import",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    doc_md=__doc__,
    tags=["crm-sync", "mailjet", "import"],
    params={
        "mailjet_list": Param(
            "",
            type="string",
            minLength=1,
            maxLength=255,
            title="Mailjet list",
            description="The name of the Mailjet contact list to import (exactly as in Mailjet).",
        ),
        "consent": Param(
            "newsletter",
            type="string",
            minLength=1,
            maxLength=64,
            title="Consent the list carries",
            description="A CRM consent id (crm_consent_type), e.g. newsletter or service.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Read Mailjet and report what would change; nothing is written to the CRM.",
        ),
    },
)
def mailjet_initial_import() -> None:
    @task(retries=3)
    def import_list() -> dict[str, Any]:
        """Match the list's members to the CRM, create leads, record the list's consent."""
        from crm_sync_airflow.mailjet_tasks import initial_import as run

        return run(get_current_context())

    import_list()


mailjet_initial_import()

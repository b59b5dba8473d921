"""A failure notifier for the DAG tests: the default one's log line, plus a JSON line per failure in
the file named by ``CRM_SYNC_TEST_NOTIFICATIONS`` (proves the notifier is pluggable and called)."""

from __future__ import annotations

import json
import os
from typing import Any

from crm_sync_airflow.notifiers.failure_log import FailureLogNotifier


class RecordingNotifier(FailureLogNotifier):
    def notify(self, context: dict[str, Any]) -> None:
        super().notify(context)
        ti = context.get("ti") or context.get("task_instance")
        record = {
            "task_id": getattr(ti, "task_id", None),
            "map_index": getattr(ti, "map_index", None),
            "rendered_map_index": getattr(ti, "rendered_map_index", None),
            "exception": type(context.get("exception")).__name__,
        }
        with open(os.environ["CRM_SYNC_TEST_NOTIFICATIONS"], "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

"""The default on-failure notifier: one readable, masked line per failed task in the log.

Swap it for Slack/e-mail/Teams by pointing ``CRM_SYNC_FAILURE_NOTIFIER`` at another notifier
class (``module:Class``) that takes no arguments; the DAGs build it through ``build_notifier``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow.sdk import BaseNotifier

from include.crm_sync.masking import mask_text

log = logging.getLogger("crm_sync.failures")


class FailureLogNotifier(BaseNotifier):
    """Logs which DAG, run, task (and mapped list) failed, and why, with e-mail addresses masked."""

    template_fields = ()

    def notify(self, context: dict[str, Any]) -> None:
        ti = context.get("ti") or context.get("task_instance")
        dag_run = context.get("dag_run")
        exc = context.get("exception")
        where = f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')}"
        map_index = getattr(ti, "map_index", -1)
        if map_index is not None and map_index >= 0:
            where += f"[{getattr(ti, 'rendered_map_index', None) or map_index}]"
        reason = mask_text(f"{type(exc).__name__}: {exc}") if exc else "no exception recorded"
        log.error(
            "CRM sync task failed: %s in run %s (try %s): %s",
            where,
            getattr(dag_run, "run_id", "?"),
            getattr(ti, "try_number", "?"),
            reason,
        )


def build_notifier() -> BaseNotifier:
    """The configured notifier (``CRM_SYNC_FAILURE_NOTIFIER=module:Class``), else FailureLogNotifier."""
    target = os.environ.get("CRM_SYNC_FAILURE_NOTIFIER")
    if not target:
        return FailureLogNotifier()
    module_name, _, class_name = target.partition(":")
    import importlib

    return getattr(importlib.import_module(module_name), class_name)()

"""Bodies of the ``crm_campaign_sync`` tasks: read connections and params, call the domain.

The DAG file only wires tasks; each task imports this module lazily and hands over its context.
Everything here is thin: the work is done by ``include.crm_sync`` functions that tests call
directly. Each function is safe to retry (the domain functions are idempotent or resumable).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from sqlalchemy import select

from crm_sync_airflow.hooks.crm_staging import CrmStagingHook
from crm_sync_airflow.platforms import list_asset, platform_hook, refill_settings, unsubscribe_consents
from include.crm_sync.audit.runs import finish_sync_run, mark_feedback_ok, start_sync_run
from include.crm_sync.audit.summary import build_run_summary
from include.crm_sync.config.loader import load_lists
from include.crm_sync.config.paths import PROJECT_ROOT
from include.crm_sync.extract.retention import keep_runs_setting, prune_snapshots
from include.crm_sync.staging.tables import list_run
from include.crm_sync.sync.writer_lock import LockKey, LockSettings, hold_writer_lock

log = logging.getLogger(__name__)

LANDING_DIR_ENV = "CRM_SYNC_LANDING_DIR"

#: the wait for a platform's feedback lock held by another run's import (then the task fails, naming
#: it, and is retried); renewed by a thread while the import runs
FEEDBACK_LOCK = LockSettings(wait_seconds=300)


def landing_dir() -> Path:
    return Path(os.environ.get(LANDING_DIR_ENV) or PROJECT_ROOT / ".local" / "landing")


def _params(context: Any) -> dict[str, Any]:
    return dict(context["params"])


def start_run(context: Any) -> list[str]:
    params = _params(context)
    lists = load_lists()
    wanted = params.get("lists") or lists.names
    unknown = sorted(set(wanted) - set(lists.names))
    if unknown:
        raise AirflowFailException(f"unknown lists {unknown}; known: {lists.names}")
    engine = CrmStagingHook().get_conn()
    start_sync_run(
        engine, context["run_id"], dag_id=context["dag"].dag_id,
        dry_run=bool(params.get("dry_run")), forced=bool(params.get("force")),
    )
    log.info("Run %s: syncing %d list(s): %s%s", context["run_id"], len(wanted), ", ".join(wanted),
             " (dry run)" if params.get("dry_run") else "")
    return list(wanted)


def import_feedback(context: Any) -> dict[str, Any]:
    from include.crm_sync.feedback.importer import import_feedback as run_import

    params = _params(context)
    if params.get("dry_run"):
        log.info("Dry run: the feedback import is skipped; extraction uses the CRM as it is")
        return {"skipped": "dry_run"}
    engine = CrmStagingHook().get_conn()
    lists = load_lists()
    platforms = sorted({item.platform for item in lists.lists})
    reports = {}
    for name in platforms:
        hook = platform_hook(name)
        try:
            # One feedback import per platform at a time (another run, a second deployment): two at once
            # would race on the ledger and the watermarks. A retry of this run takes its own lock over.
            with hold_writer_lock(
                engine, LockKey.feedback(name), owner=f"feedback:{context['run_id']}",
                holder=f"run {context['run_id']}, feedback import of {name}", settings=FEEDBACK_LOCK,
                keep_alive=True,
            ):
                report = run_import(
                    engine, hook.get_platform(), landing_dir=landing_dir(), run_id=context["run_id"],
                    list_consents=unsubscribe_consents(name, lists.consent_by_platform_list_id(name)),
                    allow_gap=bool(params.get("allow_gap")),
                )
        finally:
            hook.close()
        reports[name] = report.as_dict() if hasattr(report, "as_dict") else str(report)
    mark_feedback_ok(engine, context["run_id"])
    return reports


def _name_map_index(context: Any, list_name: str) -> None:
    # Read by map_index_template="{{ list_name }}": mapped tasks show the list's name in the UI.
    context["list_name"] = list_name


def _list_run_id(engine: Any, run_id: str, list_name: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            select(list_run.c.list_run_id).where(list_run.c.run_id == run_id, list_run.c.list_name == list_name)
        ).scalar_one_or_none()
    if found is None:
        raise AirflowFailException(f"list {list_name}: no snapshot was extracted in run {run_id}")
    return found


#: list run statuses a snapshot only reaches after passing validation
ALREADY_VALIDATED = ("refilling", "synced", "dry_run")
#: a newer validated snapshot of the same platform list exists (include/crm_sync/sync/newest_snapshot.py)
SUPERSEDED = "superseded"


def _list_run_status(engine: Any, list_run_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(list_run.c.status).where(list_run.c.list_run_id == list_run_id)).scalar_one()


def extract(context: Any, list_name: str, feedback: dict[str, Any] | None = None) -> dict[str, Any]:
    """``feedback`` is the import_feedback task's result: the data dependency that orders the steps
    (the domain re-checks ``sync_run.feedback_ok`` itself before extracting)."""
    from include.crm_sync.extract.snapshot_writer import extract_snapshot

    _name_map_index(context, list_name)
    params = _params(context)
    if feedback and not params.get("dry_run"):
        totals = [report.get("totals", {}) for report in feedback.values() if isinstance(report, dict)]
        log.info("list %s: extracting after this run's feedback import (%s)", list_name,
                 ", ".join(f"{k} {sum(t.get(k, 0) for t in totals)}" for k in ("read", "applied", "known", "rejected")))
    engine = CrmStagingHook().get_conn()
    report = extract_snapshot(
        engine, load_lists().get(list_name), run_id=context["run_id"], require_feedback=not params.get("dry_run")
    )
    return {"list_run_id": report.list_run_id, "selected": report.selected,
            "snapshot_rows": report.snapshot_rows, "excluded": report.excluded}


def validate(context: Any, list_name: str) -> dict[str, Any]:
    from include.crm_sync.validate.snapshot_validation import validate_snapshot

    _name_map_index(context, list_name)
    params = _params(context)
    engine = CrmStagingHook().get_conn()
    list_run_id = _list_run_id(engine, context["run_id"], list_name)
    status = _list_run_status(engine, list_run_id)
    if status == SUPERSEDED:
        raise AirflowSkipException(f"list {list_name}: list run {list_run_id} is superseded by a newer run")
    if status in ALREADY_VALIDATED:
        # The task was cleared (or retried) after its refill had started: this frozen snapshot passed
        # validation then, and the refill task resumes or finishes it. Validating again is not allowed
        # (and would not change the data); failing here would strand a half-filled list.
        log.info("list %s: snapshot already validated (list run %d is %s); nothing to do", list_name, list_run_id, status)
        return {"list_run_id": list_run_id, "status": status, "forced": False}
    report = validate_snapshot(engine, load_lists().get(list_name), list_run_id, force=bool(params.get("force")))
    if not report.passed:
        # No retry can fix the data: fail at once, the platform list stays as it was.
        problems = [c.failure_text() for c in report.failed_expectations + report.tripped_guards]
        raise AirflowFailException(
            f"list {list_name}: snapshot {report.status}; the platform list is left untouched: " + "; ".join(problems)
        )
    if report.forced:
        log.warning("list %s: volume guard tripped and forced past by the 'force' param", list_name)
    return {"list_run_id": list_run_id, "status": report.status, "forced": report.forced}


def refill(context: Any, list_name: str, *, alias: Any) -> dict[str, Any]:
    from include.crm_sync.sync.preview import preview_refill
    from include.crm_sync.sync.refill import (
        RefillNotAllowed,
        RefillOptions,
        SnapshotIncomplete,
        SnapshotSuperseded,
        refill_list,
    )

    _name_map_index(context, list_name)
    params = _params(context)
    list_def = load_lists().get(list_name)
    engine = CrmStagingHook().get_conn()
    list_run_id = _list_run_id(engine, context["run_id"], list_name)
    hook = platform_hook(list_def.platform)
    try:
        platform = hook.get_platform()
        if params.get("dry_run"):
            preview = preview_refill(engine, platform, list_run_id)
            return {"dry_run": True, "platform_count": preview.platform_count, "snapshot_rows": preview.snapshot_rows}
        batch_size, parallel = refill_settings(hook)
        try:
            report = refill_list(
                engine, platform, list_run_id, RefillOptions(batch_size=batch_size, max_parallel_calls=parallel)
            )
        except SnapshotSuperseded as exc:
            # Not a failure and nothing to retry: a newer run owns the platform list. Skipped (not
            # success) so the grid shows that this run did not sync the list, and no asset event says so.
            raise AirflowSkipException(str(exc)) from exc
        except (RefillNotAllowed, SnapshotIncomplete) as exc:
            # The list was not touched and a retry cannot change that: fail now, no retries.
            raise AirflowFailException(str(exc)) from exc
        # Any other failure (platform, network, count mismatch, another writer holding the platform
        # list: WriterLockBusy names it) is retried by Airflow: the retry resumes after the last
        # confirmed batch, or clears and refills -- or ends superseded if a newer run took over.
    finally:
        hook.close()
    context["outlet_events"][alias].add(
        list_asset(list_def.platform, list_def.platform_list_id),
        extra={"run_id": context["run_id"], "accepted": report.accepted},
    )
    return {"accepted": report.accepted, "uploaded": report.uploaded, "platform_count": report.platform_count,
            "result_codes": {str(k): v for k, v in report.result_codes.items()},
            "window_seconds": round(report.window_seconds, 1), "resumed": report.resumed}


def report(context: Any) -> dict[str, Any]:
    engine = CrmStagingHook().get_conn()
    summary = build_run_summary(engine, context["run_id"])
    wanted = context["ti"].xcom_pull(task_ids="start_run") or []
    seen = {item.list_name for item in summary.lists}
    # A list that never got a list run (feedback failed, extraction crashed early) failed too.
    failed = sorted(set(summary.failed_lists) | (set(wanted) - seen))
    if not summary.dry_run and not summary.feedback_ok:
        failed = sorted(set(failed) | set(wanted))
    result = summary.as_dict() | {"failed_lists": failed}
    finish_sync_run(engine, context["run_id"], status="failed" if failed else "success", summary=result)
    # Snapshots of old runs go once the night is recorded (include/crm_sync/extract/retention.py).
    prune_snapshots(engine, keep_runs_setting())
    log.info("Run %s summary:\n%s", context["run_id"], summary.as_table())
    for item in summary.lists:
        for failure in item.validation_failures:
            log.warning("list %s (%s): %s", item.list_name, item.status, failure)
        if item.forced:
            log.warning("list %s: synced past a tripped guard because the run was forced", item.list_name)
    if failed:
        raise AirflowFailException(f"lists not synced: {', '.join(failed)} (see the audit of run {context['run_id']})")
    return result

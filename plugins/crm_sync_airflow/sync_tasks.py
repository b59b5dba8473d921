"""Bodies of the ``crm_campaign_sync`` tasks: read connections and params, call the domain.

The DAG file only wires tasks; each task imports this module lazily and hands over its context.
Everything here is thin: the work is done by ``include.crm_sync`` functions that tests call
directly. Each function is safe to retry (the domain functions are idempotent or resumable).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from sqlalchemy import select

from crm_sync_airflow.hooks.crm_staging import CrmStagingHook
from crm_sync_airflow.platforms import (
    PLATFORMS,
    FeedbackJob,
    list_asset,
    platform_hook,
    refill_settings,
    unsubscribe_consents,
    wiring,
)
from include.crm_sync.audit.runs import (
    feedback_ok,
    feedback_platforms,
    finish_sync_run,
    mark_feedback_ok,
    start_sync_run,
)
from include.crm_sync.audit.summary import build_run_summary, deletions_from_cleanups
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
    """Open the run's audit row; the lists to sync."""
    params = _params(context)
    lists = load_lists()
    wanted = params.get("lists") or lists.synced_names
    unknown = sorted(set(wanted) - set(lists.names))
    if unknown:
        raise AirflowFailException(f"unknown lists {unknown}; known: {lists.names}")
    # A list marked ``delete: true`` is never extracted or synced: delete_removed_lists deletes it.
    marked = sorted(set(wanted) - set(lists.synced_names))
    if marked:
        raise AirflowFailException(
            f"lists {marked} are marked 'delete: true' in lists.yaml: they are deleted, not synced"
        )
    engine = CrmStagingHook().get_conn()
    start_sync_run(
        engine,
        context["run_id"],
        dag_id=context["dag"].dag_id,
        dry_run=bool(params.get("dry_run")),
        forced=bool(params.get("force")),
    )
    platforms = sorted({lists.get(name).platform for name in wanted})
    log.info(
        "Run %s: syncing %d list(s) on %s: %s%s",
        context["run_id"],
        len(wanted),
        ", ".join(platforms),
        ", ".join(wanted),
        " (dry run)" if params.get("dry_run") else "",
    )
    return list(wanted)


def import_feedback(context: Any, platform: str) -> dict[str, Any]:
    """Apply ``platform``'s unsubscribes and bounces to the CRM, then record that THIS run's feedback
    of THAT platform succeeded: only its lists wait for it (mapped: one task per platform)."""
    from include.crm_sync.feedback.errors import FeedbackGapError, FeedbackImportError
    from include.crm_sync.platforms.base import PermanentPlatformError

    context["platform"] = platform  # map_index_template="{{ platform }}"
    params = _params(context)
    if platform not in _run_platforms(context):
        raise AirflowSkipException(f"no list of this run is on {platform}")
    if params.get("dry_run"):
        log.info("Dry run: the %s feedback import is skipped; extraction uses the CRM as it is", platform)
        return {"skipped": "dry_run"}
    engine = CrmStagingHook().get_conn()
    lists = load_lists()
    job = FeedbackJob(
        engine=engine,
        run_id=context["run_id"],
        landing_dir=landing_dir(),
        list_consents=unsubscribe_consents(platform, lists.consent_by_platform_list_id(platform)),
        allow_gap=bool(params.get("allow_gap")),
    )
    hook = platform_hook(platform)
    try:
        # One feedback import per platform at a time (another run, a second deployment): two at once
        # would race on the ledger and the watermarks. A retry of this run takes its own lock over.
        with hold_writer_lock(
            engine,
            LockKey.feedback(platform),
            owner=f"feedback:{context['run_id']}",
            holder=f"run {context['run_id']}, feedback import of {platform}",
            settings=FEEDBACK_LOCK,
            keep_alive=True,
        ):
            report = wiring(platform).feedback(hook, job)
    except (FeedbackGapError, PermanentPlatformError) as exc:
        # A gap needs the operator (allow_gap), refused credentials a fixed connection: a retry in
        # minutes changes neither. Only this platform's lists stop (their extraction checks it).
        raise AirflowFailException(f"{platform} feedback import: {exc}") from exc
    except FeedbackImportError as exc:
        if isinstance(exc.__cause__, PermanentPlatformError):
            raise AirflowFailException(f"{platform} feedback import: {exc}") from exc
        raise
    finally:
        hook.close()
    mark_feedback_ok(engine, context["run_id"], platform=platform)
    return report


def _name_map_index(context: Any, list_name: str) -> None:
    # Read by map_index_template="{{ list_name }}": mapped tasks show the list's name in the UI.
    context["list_name"] = list_name


def _list_run_id(engine: Any, run_id: str, list_name: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            select(list_run.c.list_run_id).where(
                list_run.c.run_id == run_id, list_run.c.list_name == list_name
            )
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
        return conn.execute(
            select(list_run.c.status).where(list_run.c.list_run_id == list_run_id)
        ).scalar_one()


def extract(context: Any, list_name: str) -> dict[str, Any]:
    """Runs once every platform's feedback import has finished (trigger rule all_done), and goes on
    only if the import of ITS platform succeeded in this run: a failed Spotler feedback import
    stops the Spotler lists, not the Optimizely ones (the domain checks the same again)."""
    from include.crm_sync.extract.snapshot_writer import extract_snapshot

    _name_map_index(context, list_name)
    params = _params(context)
    list_def = load_lists().get(list_name)
    engine = CrmStagingHook().get_conn()
    dry_run = bool(params.get("dry_run"))
    if not dry_run and not feedback_ok(engine, context["run_id"], list_def.platform):
        # No retry can help: the feedback task has given up. The platform list stays as it was.
        raise AirflowFailException(
            f"list {list_name}: the {list_def.platform} feedback import of run {context['run_id']} did not "
            "succeed; the list is not extracted or synced (it could re-add people who unsubscribed or "
            "bounced)"
        )
    report = extract_snapshot(engine, list_def, run_id=context["run_id"], require_feedback=not dry_run)
    return {
        "list_run_id": report.list_run_id,
        "selected": report.selected,
        "snapshot_rows": report.snapshot_rows,
        "excluded": report.excluded,
    }


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
        log.info(
            "list %s: snapshot already validated (list run %d is %s); nothing to do",
            list_name,
            list_run_id,
            status,
        )
        return {"list_run_id": list_run_id, "status": status, "forced": False}
    report = validate_snapshot(
        engine, load_lists().get(list_name), list_run_id, force=bool(params.get("force"))
    )
    if not report.passed:
        # No retry can fix the data: fail at once, the platform list stays as it was.
        problems = [c.failure_text() for c in report.failed_expectations + report.tripped_guards]
        raise AirflowFailException(
            f"list {list_name}: snapshot {report.status}; the platform list is left untouched: "
            + "; ".join(problems)
        )
    if report.forced:
        log.warning("list %s: volume guard tripped and forced past by the 'force' param", list_name)
    return {"list_run_id": list_run_id, "status": report.status, "forced": report.forced}


def refill(context: Any, list_name: str, *, alias: Any) -> dict[str, Any]:
    """Write one list to its platform the platform's way (``platforms.PLATFORMS``): a refill, or a
    membership sync; a labels platform's lists are synced together by ``sync_labels``."""
    _name_map_index(context, list_name)
    list_def = load_lists().get(list_name)
    kind = wiring(list_def.platform).sync_kind
    if kind == "labels":
        log.info("list %s: synced with the other %s lists by sync_labels", list_name, list_def.platform)
        return {"synced_by": "sync_labels"}
    engine = CrmStagingHook().get_conn()
    list_run_id = _list_run_id(engine, context["run_id"], list_name)
    if kind == "membership":
        return _membership_sync(context, list_def, engine, list_run_id, alias=alias)
    return _refill(context, list_def, engine, list_run_id, alias=alias)


def _refill(context: Any, list_def: Any, engine: Any, list_run_id: int, *, alias: Any) -> dict[str, Any]:
    from include.crm_sync.sync.preview import preview_refill
    from include.crm_sync.sync.refill import (
        RefillNotAllowed,
        RefillOptions,
        SnapshotIncomplete,
        SnapshotSuperseded,
        refill_list,
    )

    params = _params(context)
    hook = platform_hook(list_def.platform)
    try:
        platform = hook.get_platform()
        if params.get("dry_run"):
            preview = preview_refill(engine, platform, list_run_id)
            return {
                "dry_run": True,
                "platform_count": preview.platform_count,
                "snapshot_rows": preview.snapshot_rows,
            }
        batch_size, parallel = refill_settings(hook)
        try:
            report = refill_list(
                engine,
                platform,
                list_run_id,
                RefillOptions(batch_size=batch_size, max_parallel_calls=parallel),
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
    return {
        "accepted": report.accepted,
        "uploaded": report.uploaded,
        "platform_count": report.platform_count,
        "result_codes": {str(k): v for k, v in report.result_codes.items()},
        "window_seconds": round(report.window_seconds, 1),
        "resumed": report.resumed,
    }


def _membership_sync(
    context: Any, list_def: Any, engine: Any, list_run_id: int, *, alias: Any
) -> dict[str, Any]:
    from include.crm_sync.sync.membership import (
        MembershipOptions,
        MembershipSyncNotAllowed,
        RemovalGuardTripped,
        sync_membership,
    )
    from include.crm_sync.sync.membership_guard import MembershipSuperseded, newest_snapshot_writer_guard
    from include.crm_sync.sync.membership_optouts import crm_opt_out_sink
    from include.crm_sync.sync.membership_preview import preview_membership

    params = _params(context)
    full_resync = bool(getattr(list_def, "full_resync", False) or params.get("full_resync"))
    if params.get("dry_run"):
        preview = preview_membership(
            engine, list_def.platform, list_def.platform_list_id, list_run_id, full_resync=full_resync
        )
        return {"dry_run": True, **preview.as_dict()}
    if _list_run_status(engine, list_run_id) == SUPERSEDED:
        raise AirflowSkipException(
            f"list {list_def.name}: list run {list_run_id} is superseded by a newer run"
        )
    parts = wiring(list_def.platform)
    if parts.membership_target is None:
        raise AirflowFailException(f"platform {list_def.platform} names no membership target")
    target = parts.membership_target(list_def)
    hook = platform_hook(list_def.platform)
    try:
        platform = parts.membership_platform(hook, engine, list_def) if parts.membership_platform else None
        try:
            report = sync_membership(
                engine,
                platform or hook.get_platform(),
                list_run_id,
                target,
                # list-scoped rows (a Mailjet list unsubscribe found before a removal) revoke the
                # list's consent only; account-wide opt-outs (no list id) every marketing consent
                opt_outs=crm_opt_out_sink(
                    engine,
                    platform=list_def.platform,
                    landing_dir=landing_dir(),
                    run_id=context["run_id"],
                    list_consents={list_def.platform_list_id: list_def.consent},
                ),
                options=MembershipOptions(
                    full_resync=full_resync,
                    max_removal_ratio=list_def.guards.max_drop_ratio,
                    force=bool(params.get("force")),
                ),
                writer_guard=newest_snapshot_writer_guard(engine),
            )
        except MembershipSuperseded as exc:
            raise AirflowSkipException(str(exc)) from exc
        except (MembershipSyncNotAllowed, RemovalGuardTripped) as exc:
            # Nothing was removed and a retry cannot change that (force can, for the guard).
            raise AirflowFailException(str(exc)) from exc
        # Anything else (platform, network, another writer) is retried; the retry runs in full mode.
    finally:
        hook.close()
    context["outlet_events"][alias].add(
        list_asset(list_def.platform, list_def.platform_list_id),
        extra={"run_id": context["run_id"], "added": report.added, "removed": report.removed},
    )
    return report.as_dict()


def sync_labels(context: Any, *, alias: Any) -> dict[str, Any]:
    """Sync every validated list of this run whose platform syncs by labels (Flexmail) in ONE
    import, removals first (``include/crm_sync/sync/label_sync.py``). Each label's writer lock is
    held for the whole sync, and a list whose snapshot a newer run superseded is left out."""
    from contextlib import ExitStack

    from include.crm_sync.sync.label_sync import (
        LabelListsFailed,
        LabelSyncNotAllowed,
        LabelSyncOptions,
        RemovalBacklogTooLarge,
        sync_flexmail_labels,
    )
    from include.crm_sync.sync.membership_guard import MembershipSuperseded, raise_if_superseded

    params = _params(context)
    platforms = [name for name in _run_platforms(context) if wiring(name).sync_kind == "labels"]
    if not platforms:
        raise AirflowSkipException("no list of this run is synced by labels")
    engine = CrmStagingHook().get_conn()
    if params.get("dry_run"):
        return _preview_labels(engine, context["run_id"], platforms)
    reports: dict[str, Any] = {}
    for platform in platforms:
        runs = _validated_list_runs(engine, context["run_id"], platform)
        if not runs:
            log.info("%s: no validated list in this run; nothing to sync", platform)
            continue
        hook = platform_hook(platform)
        try:
            with ExitStack() as locks:
                syncable = []
                for list_run_id, list_name, label in runs:
                    # one writer per label: another run's label sync waits, then fails naming us
                    locks.enter_context(
                        hold_writer_lock(
                            engine,
                            LockKey.platform_list(platform, label),
                            owner=f"list_run:{list_run_id}",
                            holder=f"run {context['run_id']}, list {list_name} (list run {list_run_id})",
                            keep_alive=True,
                        )
                    )
                    try:
                        raise_if_superseded(engine, list_run_id, list_name)
                    except MembershipSuperseded:
                        continue  # marked superseded; the newer run syncs this label
                    syncable.append(list_run_id)
                if not syncable:
                    continue
                settings = hook.connection_settings().extras
                options = LabelSyncOptions(
                    source_id=settings.source_id,
                    requests_per_minute=settings.requests_per_minute,
                    poll_seconds=settings.import_poll_seconds,
                    max_removal_ratio=_max_drop_ratios(runs),
                    force=bool(params.get("force")),
                    # full_resync: when in doubt, repair the record from Flexmail's own label members
                    reconcile=bool(params.get("full_resync")),
                )
                try:
                    report = sync_flexmail_labels(
                        engine, hook.get_conn(engine), syncable, run_id=context["run_id"], options=options
                    )
                except (LabelListsFailed, RemovalBacklogTooLarge) as exc:
                    # A label name that does not exist, or a backlog that cannot drain in time: a retry
                    # changes neither. The synced lists' work is recorded; the report shows the rest.
                    reports[platform] = exc.report.as_dict()
                    _emit_label_assets(context, alias, platform, exc.report)
                    raise AirflowFailException(f"{platform}: {exc}") from exc
                except LabelSyncNotAllowed as exc:
                    raise AirflowFailException(f"{platform}: {exc}") from exc
        finally:
            hook.close()
        reports[platform] = report.as_dict()
        _emit_label_assets(context, alias, platform, report)
    return reports


def _preview_labels(engine: Any, run_id: str, platforms: list[str]) -> dict[str, Any]:
    """Dry run: what the label sync would do, counts from the record only; no platform call."""
    from include.crm_sync.sync.label_preview import preview_labels

    previews: dict[str, Any] = {}
    for platform in platforms:
        runs = _validated_list_runs(engine, run_id, platform)
        if runs:
            preview = preview_labels(engine, [list_run_id for list_run_id, _, _ in runs])
            log.info("%s labels, dry run: %s", platform, preview.as_dict())
            previews[platform] = {"dry_run": True, **preview.as_dict()}
    return previews


def _max_drop_ratios(runs: list[tuple[int, str, str]]) -> dict[str, float]:
    """list name -> the most of a label's recorded members one sync may remove (guards.max_drop_ratio)."""
    lists = load_lists()
    return {name: lists.get(name).guards.max_drop_ratio for _, name, _ in runs}


def _emit_label_assets(context: Any, alias: Any, platform: str, report: Any) -> None:
    for item in report.lists.values():
        if item.get("status") == "synced":
            context["outlet_events"][alias].add(
                list_asset(platform, item["label"]), extra={"run_id": context["run_id"]}
            )


def _run_platforms(context: Any) -> list[str]:
    wanted = context["ti"].xcom_pull(task_ids="start_run") or []
    lists = load_lists()
    return sorted({lists.get(name).platform for name in wanted if name in lists.names})


def _validated_list_runs(engine: Any, run_id: str, platform: str) -> list[tuple[int, str, str]]:
    """(list_run_id, list_name, platform_list_id) of this run's lists of ``platform`` that passed
    validation (a retry finds them syncing or synced)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(list_run.c.list_run_id, list_run.c.list_name, list_run.c.platform_list_id)
            .where(
                list_run.c.run_id == run_id,
                list_run.c.platform == platform,
                list_run.c.status.in_(("validated", "syncing", "synced")),
            )
            .order_by(list_run.c.list_name)
        ).all()
    return [(r.list_run_id, r.list_name, r.platform_list_id) for r in rows]


def delete_removed_lists(context: Any) -> dict[str, Any]:
    """Delete the platform lists (Spotler audiences, Mailjet lists) we made for lists no longer in
    lists.yaml, and those of lists marked ``delete: true``.

    One in use on the platform is not deleted: what the user must do first goes to the run report and
    the log as a warning, not a failure. Only platforms that sync by membership keep such lists."""
    from include.crm_sync.sync.membership_targets import delete_removed_lists as delete
    from include.crm_sync.sync.membership_targets import lists_to_delete

    if _params(context).get("dry_run"):
        raise AirflowSkipException("dry run: no platform list is deleted")
    engine = CrmStagingHook().get_conn()
    lists = load_lists()
    results: dict[str, Any] = {}
    for name, platform in sorted(PLATFORMS.items()):
        if platform.sync_kind != "membership":
            continue
        marked = lists.marked_delete(name)
        configured = [
            item.platform_list_id for item in lists.lists if item.platform == name and not item.delete
        ]
        if not lists_to_delete(engine, name, configured, marked):
            continue  # nothing to delete: no call, and no connection needed
        hook = platform_hook(name)
        try:
            cleanup = delete(engine, hook.get_platform(), configured=configured, marked_delete=marked)
        finally:
            hook.close()
        for list_id, action in cleanup.in_use.items():
            log.warning("%s list %s is in use and was not deleted; to delete it: %s", name, list_id, action)
        # the names of the lists marked delete, so the report can say which list each line is about
        results[name] = cleanup.as_dict() | {"list_names": {i: n for i, n in marked.items()}}
    return results


def report(context: Any) -> dict[str, Any]:
    engine = CrmStagingHook().get_conn()
    summary = build_run_summary(engine, context["run_id"])
    ti = context["ti"]
    wanted = ti.xcom_pull(task_ids="start_run") or []
    seen = {item.list_name for item in summary.lists}
    # A list that never got a list run (feedback failed, extraction crashed early) failed too.
    failed = set(summary.failed_lists) | (set(wanted) - seen)
    lists = load_lists()
    platforms_ok = set(feedback_platforms(engine, context["run_id"]))
    feedback_failed = sorted({lists.get(n).platform for n in wanted if n in lists.names} - platforms_ok)
    if not summary.dry_run and not summary.feedback_ok:
        # only the lists of the platforms whose feedback import failed
        failed |= {n for n in wanted if n in lists.names and lists.get(n).platform in feedback_failed}
    extra: dict[str, Any] = {"feedback_platforms_ok": sorted(platforms_ok)}
    if not summary.dry_run and not summary.feedback_ok:
        extra["feedback_failed_platforms"] = feedback_failed
    labels = ti.xcom_pull(task_ids="sync_labels")
    if labels:
        extra["label_sync"] = labels
    deleted = ti.xcom_pull(task_ids="delete_removed_lists")
    if deleted:
        extra["deleted_platform_lists"] = deleted
        # kept in the run's summary, where the report page and later summaries read them
        summary = replace(summary, deletions=deletions_from_cleanups(deleted))
        in_use = {f"{p}:{i}": a for p, d in deleted.items() for i, a in d.get("in_use", {}).items()}
        if in_use:
            extra["action_needed"] = {k: f"in use, not deleted: {a}" for k, a in in_use.items()}
    result = summary.as_dict() | extra | {"failed_lists": sorted(failed)}
    if feedback_failed and not summary.dry_run:
        result["feedback_ok"] = False  # a platform whose feedback failed has no list run to show it
    finish_sync_run(engine, context["run_id"], status="failed" if failed else "success", summary=result)
    # Snapshots of old runs go once the night is recorded (include/crm_sync/extract/retention.py).
    prune_snapshots(engine, keep_runs_setting())
    log.info("Run %s summary:\n%s", context["run_id"], summary.as_table())
    for item in summary.lists:
        for failure in item.validation_failures:
            log.warning("list %s (%s): %s", item.list_name, item.status, failure)
        if item.forced:
            log.warning("list %s: synced past a tripped guard because the run was forced", item.list_name)
    for key, action in extra.get("action_needed", {}).items():
        log.warning("%s: %s", key, action)
    if failed:
        raise AirflowFailException(
            f"lists not synced: {', '.join(sorted(failed))} (see the audit of run {context['run_id']})"
        )
    return result

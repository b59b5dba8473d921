"""Bodies of the ``campaign_response_import`` tasks: read connections, settings and params, call
``include.crm_sync.responses``. Thin on purpose; every function is safe to retry.

Failures are sorted for the scheduler: what a retry can fix (a dropped connection, a database
hiccup, a file whose apply failed) raises normally and is retried with backoff; what it cannot (a
retention gap, a refused or changed file, bad params or settings) raises ``AirflowFailException``
so the run fails at once and the notifier tells a human.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from crm_sync_airflow.hooks.crm_staging import CrmStagingHook
from crm_sync_airflow.platforms import unsubscribe_consents
from include.crm_sync.config.paths import PROJECT_ROOT

log = logging.getLogger(__name__)

#: the landing folder of the project (shared with the nightly sync); response files go under responses/
LANDING_DIR_ENV = "CRM_SYNC_LANDING_DIR"


def response_landing_dir() -> Path:
    return Path(os.environ.get(LANDING_DIR_ENV) or PROJECT_ROOT / ".local" / "landing") / "responses"


def _params(context: Any) -> dict[str, Any]:
    return dict(context["params"])


def _settings() -> Any:
    from include.crm_sync.responses import ResponseConfigError, load_response_settings

    try:
        return load_response_settings()
    except ResponseConfigError as exc:
        raise AirflowFailException(str(exc)) from exc


def reimport_range(params: dict[str, Any]) -> Any:
    """``ReimportRange`` from the ``reimport_from``/``reimport_to`` params, or None."""
    from include.crm_sync.responses import ReimportRange

    first, last = params.get("reimport_from") or None, params.get("reimport_to") or None
    if first is None and last is None:
        return None
    try:
        first_day = date.fromisoformat(str(first or last))
        last_day = date.fromisoformat(str(last or first))
        return ReimportRange(first_day, last_day)
    except ValueError as exc:
        raise AirflowFailException(f"params reimport_from/reimport_to: {exc} (expected YYYY-MM-DD)") from exc


def check_gap(context: Any) -> dict[str, Any]:
    from include.crm_sync.responses import ResponseGapError
    from include.crm_sync.responses import check_gap as run_check

    params = _params(context)
    settings = _settings()
    engine = CrmStagingHook().get_conn()
    try:
        with engine.connect() as conn:
            gap = run_check(
                conn,
                settings.export_name,
                now=datetime.now(UTC),
                lifetime=timedelta(days=settings.file_lifetime_days),
                allow_gap=bool(params.get("allow_gap")),
            )
    except ResponseGapError as exc:
        raise AirflowFailException(str(exc)) from exc
    return gap.as_dict()


def import_files(context: Any) -> dict[str, Any]:
    from crm_sync_airflow.hooks.optimizely_sftp import InsecureHostKeyPolicyError, OptimizelySftpHook
    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.responses import (
        ResponseConfigError,
        ResponseFilesFailedError,
        ResponseGapError,
        import_response_files,
    )
    from include.crm_sync.responses.report import FAILED
    from include.crm_sync.sync.writer_lock import LockKey, hold_writer_lock

    params = _params(context)
    settings = _settings()
    reimport = reimport_range(params)
    engine = CrmStagingHook().get_conn()
    list_consents = unsubscribe_consents(
        settings.platform, load_lists().consent_by_platform_list_id(settings.platform)
    )
    try:
        hook = OptimizelySftpHook()
    except InsecureHostKeyPolicyError as exc:
        raise AirflowFailException(str(exc)) from exc
    try:
        # One response import per platform at a time (overlapping runs, a second deployment): they
        # would race on the ledger and the watermark. A retry of this run takes its own lock over.
        with (
            hold_writer_lock(
                engine,
                LockKey(settings.platform, "responses"),
                owner=f"responses:{context['run_id']}",
                holder=f"run {context['run_id']}, response import of {settings.platform}",
                keep_alive=True,
            ),
            hook.get_managed_conn() as sftp,
        ):
            report = import_response_files(
                engine,
                sftp,
                settings=settings,
                landing_dir=response_landing_dir(),
                run_id=context["run_id"],
                list_consents=list_consents,
                dry_run=bool(params.get("dry_run")),
                reimport=reimport,
                allow_gap=bool(params.get("allow_gap")),
            )
    except (ResponseGapError, ResponseConfigError) as exc:
        raise AirflowFailException(str(exc)) from exc
    except ResponseFilesFailedError as exc:
        summary = exc.report.as_dict()  # type: ignore[attr-defined]
        log.error("response import incomplete: %s", summary["files_by_status"])
        if not any(f.status == FAILED for f in exc.report.files):  # type: ignore[attr-defined]
            raise AirflowFailException(str(exc)) from exc  # refused/changed files: a retry cannot help
        raise
    summary = report.as_dict()
    log.info("response import: %s files, totals %s", summary["files_by_status"], summary["totals"])
    return summary


def tidy_remote(context: Any) -> list[dict[str, str]]:
    from crm_sync_airflow.hooks.optimizely_sftp import InsecureHostKeyPolicyError, OptimizelySftpHook
    from include.crm_sync.responses import tidy_remote_files

    settings = _settings()
    if settings.after_import == "keep":
        log.info("after_import is keep: nothing to do on the server")
        return []
    engine = CrmStagingHook().get_conn()
    try:
        hook = OptimizelySftpHook()
    except InsecureHostKeyPolicyError as exc:
        raise AirflowFailException(str(exc)) from exc
    with hook.get_managed_conn() as sftp:
        actions = tidy_remote_files(engine, sftp, settings, dry_run=bool(_params(context).get("dry_run")))
    return [a.as_dict() for a in actions]

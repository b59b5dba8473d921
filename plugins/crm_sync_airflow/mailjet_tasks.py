"""Bodies of the Mailjet tasks (``mailjet_initial_import``, ``mailjet_incremental_sync``): read the
connections and params, call ``include.crm_sync.mailjet``. Thin on purpose; every function is safe
to retry (the domain is idempotent).

What a retry cannot fix (an unknown consent or list, a bad param, refused credentials) raises
``AirflowFailException`` so the run fails at once; anything else (a dropped connection, a job
that did not finish in time, 429s beyond their budget) raises normally and is retried.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from crm_sync_airflow.hooks.crm_staging import CrmStagingHook
from crm_sync_airflow.hooks.mailjet import MailjetConnectionError, MailjetHook

log = logging.getLogger(__name__)


def _text_param(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise AirflowFailException(f"param {name!r} is required (got {value!r})")
    return value.strip()


def initial_import(context: Any) -> dict[str, Any]:
    """Import the members of one Mailjet list with the consent it carries (params: ``mailjet_list``,
    ``consent``, ``dry_run``)."""
    from include.crm_sync.mailjet.initial_import import InitialImportError, import_mailjet_list
    from include.crm_sync.platforms.mailjet.errors import MailjetCredentialsError

    params = dict(context["params"])
    list_name, consent = _text_param(params, "mailjet_list"), _text_param(params, "consent")
    engine = CrmStagingHook().get_conn()
    try:
        with MailjetHook() as hook:
            report = import_mailjet_list(
                engine, hook.get_conn(), list_name=list_name, consent_id=consent,
                dry_run=bool(params.get("dry_run")),
            )
    except (InitialImportError, MailjetConnectionError, MailjetCredentialsError) as exc:
        raise AirflowFailException(str(exc)) from exc
    log.info("%s", report.summary())
    return report.as_dict()


def list_writer_lock(engine: Any, context: Any) -> Any:
    """The writer lock of each Mailjet list, shared with the nightly sync (one writer per list)."""
    from include.crm_sync.mailjet.list_lock import mailjet_list_lock

    run_id = context["run_id"]
    return mailjet_list_lock(
        engine, owner=f"mailjet_incremental_sync:{run_id}", holder=f"mailjet_incremental_sync {run_id}"
    )


def incremental_sync(context: Any) -> list[dict[str, Any]]:
    """Sign-ups to the CRM and new consented profiles to Mailjet, for every Mailjet list of the config."""
    from include.crm_sync.config.loader import ListsConfigError, load_lists
    from include.crm_sync.mailjet.incremental import run_incremental
    from include.crm_sync.platforms.mailjet.errors import MailjetCredentialsError

    try:
        lists = [(d.platform_list_id, d.consent) for d in load_lists().lists if d.platform == "mailjet"]
    except ListsConfigError as exc:
        raise AirflowFailException(str(exc)) from exc
    if not lists:
        log.info("no Mailjet lists in the config: nothing to do")
        return []
    engine = CrmStagingHook().get_conn()
    try:
        with MailjetHook() as hook:
            names = [name for name, _ in lists]
            platform = hook.get_platform(lists=names, engine=engine)
            reports = run_incremental(engine, platform, lists, list_lock=list_writer_lock(engine, context))
    except (MailjetConnectionError, MailjetCredentialsError) as exc:
        raise AirflowFailException(str(exc)) from exc
    return [r.as_dict() for r in reports]

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
                engine,
                hook.get_conn(),
                list_name=list_name,
                consent_id=consent,
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
        # a list marked delete: true is deleted by the nightly sync: adding to it (which creates it
        # again) would undo that
        lists = [
            (d.platform_list_id, d.consent)
            for d in load_lists().lists
            if d.platform == "mailjet" and not d.delete
        ]
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


# ---------------------------------------------------------------- the nightly sync's Mailjet pieces
# (registered in ``platforms.PLATFORMS["mailjet"]``; the nightly DAG's tasks call them through it)


def nightly_feedback(hook: Any, job: Any) -> dict[str, Any]:
    """Mailjet's "no" back to the CRM, then the sign-ups pre-step, in the nightly feedback task.

    1. List unsubscribes (``IsUnsubscribed``) revoke that list's consent; the global exclusion
       revokes every marketing consent (the import's own path: landing file, ledger, apply).
    2. Sign-ups made in Mailjet since the last incremental run reach the CRM with their list's
       consent (``run_incremental(add_profiles=False)``: nothing is added to Mailjet). Before
       extraction, because on a reconcile night a sign-up missing from the snapshot would be removed.

    Both in one task, so a failure of either leaves this run's Mailjet feedback not ok and stops the
    Mailjet lists (not the others). ``job.list_consents``: Mailjet list name -> consent.
    """
    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.feedback.importer import import_feedback
    from include.crm_sync.mailjet.incremental import run_incremental
    from include.crm_sync.mailjet.list_lock import mailjet_list_lock
    from include.crm_sync.platforms.mailjet.errors import MailjetCredentialsError

    lists = dict(job.list_consents)
    lock = mailjet_list_lock(
        job.engine,
        owner=f"crm_campaign_sync:{job.run_id}",
        holder=f"run {job.run_id}, Mailjet sign-ups pre-step",
    )
    try:
        platform = hook.get_platform(lists=list(lists), engine=job.engine)
        report = import_feedback(
            job.engine,
            platform,
            landing_dir=job.landing_dir,
            run_id=job.run_id,
            list_consents=lists,
            allow_gap=job.allow_gap,
        )
        # Unsubscribes are read from every configured list, also one marked delete: true (people
        # may unsubscribe from it until it is gone); sign-ups only for the lists still synced, as
        # reading them creates a missing list again.
        marked = load_lists().marked_delete("mailjet")
        synced = [(name, consent) for name, consent in lists.items() if name not in marked]
        signups = run_incremental(job.engine, platform, synced, list_lock=lock, add_profiles=False)
    except (MailjetConnectionError, MailjetCredentialsError) as exc:
        # a bad connection or refused keys: no retry can fix that; the Mailjet lists stop now
        raise AirflowFailException(str(exc)) from exc
    return report.as_dict() | {"signups": {r.list_name: r.signups for r in signups}}


def membership_platform(hook: Any, engine: Any, list_def: Any) -> Any:
    """The ``MembershipPlatform`` one Mailjet list is synced with (its unsubscribes and the uploaded
    addresses, looked up in the staging database, are the platform's to know)."""
    return hook.get_platform(lists=[list_def.platform_list_id], engine=engine)


def membership_target(list_def: Any) -> Any:
    """The Mailjet list of a list definition: found (or made) by its unique name."""
    from include.crm_sync.platforms.base import MembershipTarget

    return MembershipTarget(list_def.platform_list_id, list_def.platform_list_id)

"""The one registry of the campaign platforms the nightly sync drives, and the asset of a list.

Per platform it says which hook serves it, which way its lists are synced (``refill``: clear +
add all, Optimizely; ``membership``: removals first, then additions, Spotler; ``labels``: one
import for all lists plus a removal backlog, Flexmail), how its feedback (unsubscribes, bounces,
blacklist) comes back to the CRM, and whether its unsubscribes are account-wide. The DAG and the
task bodies ask this registry and never branch on a platform's name; adding Mailjet means one
entry here (and its hook), nothing in the DAG.

Light at import: hooks and domain modules are imported inside the functions (the DAG file imports
the task bodies lazily, and this module is read by them only).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import Asset

if TYPE_CHECKING:
    import sqlalchemy as sa

    from include.crm_sync.platforms.base import RecipientListPlatform

SyncKind = Literal["refill", "membership", "labels"]


@dataclass(frozen=True)
class FeedbackJob:
    """What one platform's feedback import needs (built by the feedback task from its context)."""

    engine: sa.Engine
    run_id: str
    landing_dir: Path
    #: platform list id -> consent, for unsubscribes scoped to one list
    list_consents: Mapping[str, str]
    allow_gap: bool = False


#: a platform's feedback import: applies its unsubscribes and bounces to the CRM, returns its report
FeedbackImport = Callable[[Any, FeedbackJob], dict[str, Any]]


@dataclass(frozen=True)
class PlatformWiring:
    """Everything the DAG's tasks need to know of one platform."""

    name: str
    #: "module:Class" of the hook (imported when used: DAG parsing stays cheap)
    hook_class: str
    sync_kind: SyncKind
    feedback: FeedbackImport
    #: the platform keeps one unsubscribe list per account: an unsubscribe there revokes every
    #: marketing consent (else the next night would upload that person to the other lists again)
    client_wide_unsubscribes: bool
    #: a membership platform's list as its target (a Spotler audience: external id, name, description)
    #: ``(hook, engine, list_def) -> platform`` a membership list is synced with, and ``list_def ->
    #: MembershipTarget``; None: ``hook.get_platform()`` and the list's ``audience`` (Spotler)
    membership_platform: Callable[[Any, Any, Any], Any] | None = None
    membership_target: Callable[[Any], Any] | None = None

    def hook(self) -> Any:
        """A hook on the platform's default connection (has ``close()``)."""
        module, _, cls = self.hook_class.partition(":")
        return getattr(importlib.import_module(module), cls)()


# --------------------------------------------------------------------------- feedback imports


def _exported_feedback(hook: Any, job: FeedbackJob) -> dict[str, Any]:
    """The platform's own bounce and unsubscribe exports (Optimizely, Spotler): the shared import."""
    from include.crm_sync.feedback.importer import import_feedback

    report = import_feedback(
        job.engine,
        hook.get_platform(),
        landing_dir=job.landing_dir,
        run_id=job.run_id,
        list_consents=job.list_consents,
        allow_gap=job.allow_gap,
    )
    return report.as_dict() if hasattr(report, "as_dict") else {"report": str(report)}


#: blacklisted contacts applied per landing file of this many rows (flat memory on a long blacklist)
FLEXMAIL_FEEDBACK_CHUNK = 10_000


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _flexmail_blacklist(hook: Any, job: FeedbackJob) -> dict[str, Any]:
    """Flexmail's blacklisted (unsubscribed) contacts, applied to the CRM as account-wide unsubscribes
    through the feedback import's own path (landing file, ledger, apply); idempotent."""
    from include.crm_sync.platforms.flexmail.feedback import blacklisted_feedback
    from include.crm_sync.sync.membership_optouts import crm_opt_out_sink

    sink = crm_opt_out_sink(job.engine, platform="flexmail", landing_dir=job.landing_dir, run_id=job.run_id)
    read = 0
    for chunk in _chunks(
        blacklisted_feedback(hook.get_conn(job.engine), datetime.now(UTC)), FLEXMAIL_FEEDBACK_CHUNK
    ):
        sink(chunk)
        read += len(chunk)
    return {"totals": {"read": read}, "blacklisted": read}


def _spotler_audience(list_def: Any) -> Any:
    from include.crm_sync.platforms.base import MembershipTarget

    audience = list_def.audience
    return MembershipTarget(audience.external_id, audience.name, audience.description or "")


def _mailjet_tasks(name: str) -> Callable[..., Any]:
    """A function of ``mailjet_tasks`` (the feedback + sign-ups pre-step, the platform and target of
    a list), imported when called."""

    def call(*args: Any) -> Any:
        return getattr(importlib.import_module("crm_sync_airflow.mailjet_tasks"), name)(*args)

    return call


PLATFORMS: dict[str, PlatformWiring] = {
    "optimizely": PlatformWiring(
        name="optimizely",
        hook_class="crm_sync_airflow.hooks.optimizely_campaign:OptimizelyCampaignHook",
        sync_kind="refill",
        feedback=_exported_feedback,
        # Optimizely Campaign keeps one unsubscribe list per client by default: whoever unsubscribes
        # from a mailing of list A is refused (code 2) on every list.
        client_wide_unsubscribes=True,
    ),
    "spotler": PlatformWiring(
        name="spotler",
        hook_class="crm_sync_airflow.hooks.spotler:SpotlerHook",
        sync_kind="membership",
        feedback=_exported_feedback,
        membership_target=_spotler_audience,
        # a Spotler opt-out is the contact's, for the whole account (Spotler keeps no per-audience opt-out)
        client_wide_unsubscribes=True,
    ),
    "flexmail": PlatformWiring(
        name="flexmail",
        hook_class="crm_sync_airflow.hooks.flexmail:FlexmailHook",
        sync_kind="labels",
        feedback=_flexmail_blacklist,
        # a blacklisted Flexmail contact gets no mail of the account at all
        client_wide_unsubscribes=True,
    ),
    "mailjet": PlatformWiring(
        name="mailjet",
        hook_class="crm_sync_airflow.hooks.mailjet:MailjetHook",
        sync_kind="membership",
        feedback=_mailjet_tasks("nightly_feedback"),
        # IsUnsubscribed is per list (that list's consent); the global exclusion revokes every
        # marketing consent itself (include/crm_sync/platforms/mailjet/feedback.py)
        client_wide_unsubscribes=False,
        membership_platform=_mailjet_tasks("membership_platform"),
        membership_target=_mailjet_tasks("membership_target"),
    ),
}


def wiring(platform: str) -> PlatformWiring:
    try:
        return PLATFORMS[platform]
    except KeyError:
        raise ValueError(
            f"platform {platform!r} is not wired into the sync; known: {', '.join(PLATFORMS)}"
        ) from None


def platform_hook(platform: str) -> Any:
    """A hook for ``platform`` on its default connection (has ``close()``)."""
    return wiring(platform).hook()


#: platforms whose unsubscribes apply to the whole account, not to one list
CLIENT_WIDE_UNSUBSCRIBES = frozenset(name for name, w in PLATFORMS.items() if w.client_wide_unsubscribes)


def unsubscribe_consents(platform: str, list_consents: dict[str, str]) -> dict[str, str]:
    """The platform-list -> consent mapping the feedback import attributes unsubscribes with.

    Empty for client-wide unsubscribes, so every unsubscribe revokes all marketing consents.
    """
    return {} if platform in CLIENT_WIDE_UNSUBSCRIBES else list_consents


def refill_settings(hook: Any) -> tuple[int, int]:
    """(batch_size, max_parallel_calls) from the platform connection's extras."""
    settings = hook.connection_settings()
    return settings.batch_size, settings.max_parallel_calls


def list_asset(platform: str, platform_list_id: str) -> Asset:
    """The asset a list's sync emits, e.g. ``crm-sync://optimizely/lists/1001``."""
    return Asset(
        name=f"{platform}_list_{platform_list_id}", uri=f"crm-sync://{platform}/lists/{platform_list_id}"
    )


__all__ = [
    "CLIENT_WIDE_UNSUBSCRIBES",
    "PLATFORMS",
    "FeedbackJob",
    "PlatformWiring",
    "RecipientListPlatform",
    "list_asset",
    "platform_hook",
    "refill_settings",
    "unsubscribe_consents",
    "wiring",
]

"""Which hook serves which platform name in ``config/lists.yaml``, and the asset of a list.

Adding Spotler, Mailjet or Flexmail means adding a hook with a ``get_platform()`` and one entry
here; nothing in the DAGs or the domain changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

if TYPE_CHECKING:
    from include.crm_sync.platforms.base import RecipientListPlatform


def platform_hook(platform: str) -> Any:
    """A hook for ``platform`` on its default connection (has ``get_platform()`` and ``close()``)."""
    if platform == "optimizely":
        from crm_sync_airflow.hooks.optimizely_campaign import OptimizelyCampaignHook

        return OptimizelyCampaignHook()
    raise ValueError(f"platform {platform!r} has no hook yet; known: optimizely")


#: Platforms whose unsubscribes apply to the whole client account, not to one list. Optimizely
#: Campaign keeps one unsubscribe list per client by default: whoever unsubscribes from a mailing of
#: list A is refused (code 2) on every list. The CRM must then revoke every marketing consent, or the
#: next night would upload that person to the other lists again.
CLIENT_WIDE_UNSUBSCRIBES = frozenset({"optimizely"})


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
    """The asset a list's refill emits, e.g. ``crm-sync://optimizely/lists/1001``."""
    return Asset(name=f"{platform}_list_{platform_list_id}", uri=f"crm-sync://{platform}/lists/{platform_list_id}")


__all__ = ["RecipientListPlatform", "list_asset", "platform_hook", "refill_settings", "unsubscribe_consents"]

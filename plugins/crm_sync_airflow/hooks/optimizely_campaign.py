"""Hook for Optimizely Campaign (SOAP API), reading the ``optimizely_campaign_default`` connection.

Connection fields:

==============  ==========================================================================
host            SOAP base URL, e.g. ``https://api.campaign.episerver.net/soap11`` (a bare
                host name means ``https://<host>[:<port>]/soap11``)
login           webservice user
password        its password
extra           JSON: ``mandator_id`` (required, integer), optional ``batch_size`` (1-1000,
                default 1000), ``timeout`` (seconds per request, default 60),
                ``connect_timeout`` (default 10), ``max_parallel_calls`` (1-10, default 4),
                ``verify`` (TLS verification: true/false or a CA bundle path, default true)
==============  ==========================================================================

Example (environment variable, JSON form)::

    AIRFLOW_CONN_OPTIMIZELY_CAMPAIGN_DEFAULT='{"conn_type": "optimizely_campaign",
        "host": "https://api.campaign.episerver.net/soap11", "login": "api-user",
        "password": "...", "extra": {"mandator_id": 123456, "max_parallel_calls": 4}}'

The extras are parsed by the pydantic model ``OptimizelyCampaignExtras``
(``crm_sync_airflow.connection_types``), which also defines the connection form's fields.
The password and session ids are never logged; ``test_connection`` logs in and out and reports
the outcome without either. zeep and the client are imported lazily (DAG parsing stays cheap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crm_sync_airflow.connection_types import (
    OPTIMIZELY_CAMPAIGN,
    ConnectionExtrasError,
    OptimizelyCampaignExtras,
    parse_extras,
)
from crm_sync_airflow.hooks.platform_hook import ConnectionTestFailed, PlatformHook

if TYPE_CHECKING:
    from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
    from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform
    from include.crm_sync.platforms.optimizely.retry import RetryPolicy


class OptimizelyConnectionError(ConnectionExtrasError):
    """The Airflow connection is incomplete or has an invalid value (names connection and field)."""


@dataclass(frozen=True)
class OptimizelyConnectionSettings:
    """Everything the client needs, parsed and validated from one Airflow connection."""

    base_url: str
    user: str
    password: str
    mandator_id: int
    batch_size: int = 1000
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_parallel_calls: int = 4
    verify: bool | str = True

    def __repr__(self) -> str:  # never show the password
        return (
            f"OptimizelyConnectionSettings(base_url={self.base_url!r}, user={self.user!r}, password='***', "
            f"mandator_id={self.mandator_id}, batch_size={self.batch_size}, timeout={self.timeout}, "
            f"max_parallel_calls={self.max_parallel_calls})"
        )


def parse_connection(
    conn_id: str,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    extra: dict[str, Any],
) -> OptimizelyConnectionSettings:
    """Validate the connection's fields and extras; errors name the connection and the field."""

    def fail(field: str, problem: str) -> OptimizelyConnectionError:
        return OptimizelyConnectionError(f"connection {conn_id!r}: {field} {problem}")

    try:
        extras = parse_extras(OptimizelyCampaignExtras, conn_id, OPTIMIZELY_CAMPAIGN.connection_type, extra)
    except ConnectionExtrasError as exc:
        raise OptimizelyConnectionError(str(exc)) from None
    if not host or not host.strip():
        raise fail("host", "(SOAP base URL) is required, e.g. https://api.campaign.episerver.net/soap11")
    host = host.strip()
    if "://" not in host:
        host = f"https://{host}{f':{port}' if port else ''}/soap11"
    split = urlsplit(host)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise fail("host", f"must be an http(s) URL, got {host!r}")
    if split.username or split.password:
        raise fail("host", "must not contain credentials; use the login and password fields")
    if not login:
        raise fail("login", "(webservice user) is required")
    if not password:
        raise fail("password", "is required")
    return OptimizelyConnectionSettings(
        base_url=host,
        user=login,
        password=password,
        mandator_id=extras.mandator_id,
        batch_size=extras.batch_size,
        timeout=extras.timeout,
        connect_timeout=extras.connect_timeout,
        max_parallel_calls=extras.max_parallel_calls,
        verify=extras.verify,
    )


class OptimizelyCampaignHook(PlatformHook["OptimizelyConnectionSettings", "OptimizelyCampaignClient"]):
    """Interact with Optimizely Campaign through its SOAP API.

    :param optimizely_campaign_conn_id: the Airflow connection to use
    :param retry_policy: override the client's retry policy (tests use tiny waits)
    """

    conn_name_attr = "optimizely_campaign_conn_id"
    default_conn_name = "optimizely_campaign_default"
    conn_type = "optimizely_campaign"
    hook_name = "Optimizely Campaign"
    platform_label = "Optimizely Campaign"
    connection_error = OptimizelyConnectionError
    _parse_connection = staticmethod(parse_connection)

    def __init__(
        self,
        optimizely_campaign_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(optimizely_campaign_conn_id, retry_policy=retry_policy, **kwargs)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form's standard fields (hidden, relabelled, placeholders), as the provider
        info gives them to Airflow (``crm_sync_airflow.connection_types``)."""
        return {
            "hidden_fields": OPTIMIZELY_CAMPAIGN.hidden_fields,
            "relabeling": OPTIMIZELY_CAMPAIGN.relabeling,
            "placeholders": OPTIMIZELY_CAMPAIGN.placeholders,
        }

    def _new_client(
        self, settings: OptimizelyConnectionSettings, **overrides: Any
    ) -> OptimizelyCampaignClient:
        from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient

        options: dict[str, Any] = {
            "timeout": settings.timeout,
            "connect_timeout": settings.connect_timeout,
            "batch_size": settings.batch_size,
            "max_parallel_calls": settings.max_parallel_calls,
            "retry_policy": self._retry_policy,
            "verify": settings.verify,
        }
        options.update(overrides)
        return OptimizelyCampaignClient(
            settings.base_url, settings.mandator_id, settings.user, settings.password, **options
        )

    def _describe(self, settings: OptimizelyConnectionSettings) -> str:
        return (
            f"{settings.base_url}, mandator {settings.mandator_id}, user {settings.user}, "
            f"batch size {settings.batch_size}, {settings.max_parallel_calls} parallel calls"
        )

    def get_platform(self) -> OptimizelyCampaignPlatform:
        """The ``RecipientListPlatform`` over the hook's client (closing it logs out; the hook
        still owns the connections)."""
        from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform

        return OptimizelyCampaignPlatform(self.get_conn(), owns_client=False)

    def _probe_overrides(self, settings: OptimizelyConnectionSettings) -> dict[str, Any]:
        from include.crm_sync.platforms.optimizely.retry import RetryPolicy

        return {
            "timeout": min(settings.timeout, 30.0),
            "retry_policy": self._retry_policy or RetryPolicy(max_attempts=2, initial_wait=0.5, max_wait=2.0),
        }

    def _probe(self, client: OptimizelyCampaignClient, settings: OptimizelyConnectionSettings) -> str:
        """Log in and out with the connection's credentials."""
        from include.crm_sync.platforms.base import PlatformError

        try:
            client.login()
            client.logout()
        except PlatformError as exc:
            raise ConnectionTestFailed(f"Optimizely Campaign login failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the UI wants a message, not a traceback
            raise ConnectionTestFailed(f"Optimizely Campaign login failed: {type(exc).__name__}") from None
        return f"Logged in to Optimizely Campaign as {settings.user!r} (mandator {settings.mandator_id})"

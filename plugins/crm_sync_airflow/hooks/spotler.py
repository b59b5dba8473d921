"""Hook for Spotler Mail+ (REST "integrationservice" API), reading the ``spotler_default`` connection.

Connection fields:

==============  ==========================================================================
host            base URL, e.g. ``https://restapi.mailplus.nl/integrationservice-1.1.0/``
                (a bare host name means ``https://<host>[:<port>]/integrationservice-1.1.0/``)
login           consumer key
password        consumer secret
extra           JSON, all optional: ``timeout`` (seconds per request, default 60),
                ``connect_timeout`` (default 10), ``max_attempts`` (tries per call on
                429/5xx/connection errors, 1-20, default 5), ``verify`` (TLS verification:
                true/false or a CA bundle path, default true), ``feed_page_size`` (items
                per page of the bounce and change feeds, 1-1000, default 1000)
==============  ==========================================================================

Example (environment variable, JSON form)::

    AIRFLOW_CONN_SPOTLER_DEFAULT='{"conn_type": "spotler",
        "host": "https://restapi.mailplus.nl/integrationservice-1.1.0/",
        "login": "<consumer key>", "password": "<consumer secret>", "extra": {"timeout": 60}}'

The consumer secret is never logged; ``test_connection`` makes two signed read calls (the
property list: credentials; an audience lookup: the Automation/eCommerce product) and reports the
outcome without it. requests and the client are imported lazily (DAG parsing stays cheap).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from crm_sync_airflow import connection_types
from crm_sync_airflow.hooks.platform_hook import ConnectionTestFailed, PlatformHook
from crm_sync_airflow.hooks.rest_connection import base_url, parse_extras

if TYPE_CHECKING:
    from include.crm_sync.platforms.spotler.client import RetryPolicy, SpotlerClient
    from include.crm_sync.platforms.spotler.platform import SpotlerPlatform

DEFAULT_PATH = "/integrationservice-1.1.0/"
#: an audience id nobody uses: looking it up answers 404 with the product, 403 without
_PROBE_AUDIENCE = "crm-sync-connection-test"


class SpotlerConnectionError(ValueError):
    """The Airflow connection is incomplete or has an invalid value (names connection and field)."""


# the extras model lives with the connection types: the provider registers its form fields
SpotlerExtras = connection_types.SpotlerExtras


class SpotlerConnectionSettings(BaseModel):
    """Everything the client needs, parsed and validated from one Airflow connection."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    consumer_key: str
    consumer_secret: str = Field(repr=False)
    extras: SpotlerExtras = SpotlerExtras()


def parse_connection(
    conn_id: str, host: str | None, port: int | None, login: str | None, password: str | None, extra: Any
) -> SpotlerConnectionSettings:
    """Validate the connection's fields and extras; errors name the connection and the field."""

    def fail(field: str, problem: str) -> SpotlerConnectionError:
        return SpotlerConnectionError(f"connection {conn_id!r}: {field} {problem}")

    extras = parse_extras(SpotlerExtras, extra, fail)
    host = base_url(
        host,
        port,
        fail,
        missing=f"(base URL) is required, e.g. https://restapi.mailplus.nl{DEFAULT_PATH}",
        path=DEFAULT_PATH,
    )
    if not login:
        raise fail("login", "(consumer key) is required")
    if not password:
        raise fail("password", "(consumer secret) is required")
    return SpotlerConnectionSettings(
        base_url=host, consumer_key=login, consumer_secret=password, extras=extras
    )


class SpotlerHook(PlatformHook["SpotlerConnectionSettings", "SpotlerClient"]):
    """Interact with Spotler Mail+ audiences and contacts through its REST API.

    :param spotler_conn_id: the Airflow connection to use
    :param retry_policy: override the client's retry policy (tests use tiny waits)
    """

    conn_name_attr = "spotler_conn_id"
    default_conn_name = "spotler_default"
    conn_type = "spotler"
    hook_name = "Spotler Mail+"
    platform_label = "Spotler"
    connection_error = SpotlerConnectionError
    _parse_connection = staticmethod(parse_connection)

    def __init__(
        self,
        spotler_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(spotler_conn_id, retry_policy=retry_policy, **kwargs)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "Base URL", "login": "Consumer key", "password": "Consumer secret"},
            "placeholders": {
                "host": f"https://restapi.mailplus.nl{DEFAULT_PATH}",
                "login": "consumer key",
                "extra": '{"timeout": 60, "max_attempts": 5}',
            },
        }

    def _new_client(self, settings: SpotlerConnectionSettings, **overrides: Any) -> SpotlerClient:
        from include.crm_sync.platforms.spotler.client import RetryPolicy, SpotlerClient

        extras = settings.extras
        options: dict[str, Any] = {
            "timeout": extras.timeout,
            "connect_timeout": extras.connect_timeout,
            "retry_policy": self._retry_policy or RetryPolicy(max_attempts=extras.max_attempts),
            "verify": extras.verify,
        }
        options.update(overrides)
        return SpotlerClient(settings.base_url, settings.consumer_key, settings.consumer_secret, **options)

    def _describe(self, settings: SpotlerConnectionSettings) -> str:
        return f"{settings.base_url}, consumer key {settings.consumer_key}"

    def get_platform(self) -> SpotlerPlatform:
        """The ``MembershipPlatform`` over the hook's client (the hook keeps owning the client)."""
        from include.crm_sync.platforms.spotler.platform import SpotlerPlatform

        settings = self.connection_settings()
        return SpotlerPlatform(
            self.get_conn(), owns_client=False, feed_page_size=settings.extras.feed_page_size
        )

    def _probe_overrides(self, settings: SpotlerConnectionSettings) -> dict[str, Any]:
        from include.crm_sync.platforms.spotler.client import RetryPolicy

        return {
            "timeout": min(settings.extras.timeout, 30.0),
            "retry_policy": self._retry_policy or RetryPolicy(max_attempts=2, initial_wait=0.5, max_wait=2.0),
        }

    def _probe(self, client: SpotlerClient, settings: SpotlerConnectionSettings) -> str:
        """Two signed read calls: the credentials, then the audience product."""
        from include.crm_sync.platforms.spotler.errors import ProductNotFound

        try:
            properties = client.contact_properties()
            client.get_audience(_PROBE_AUDIENCE)
        except ProductNotFound as exc:
            raise ConnectionTestFailed(str(exc)) from None
        return (
            f"Connected to Spotler at {settings.base_url} with consumer key {settings.consumer_key!r} "
            f"({len(properties)} contact properties; audiences available)"
        )

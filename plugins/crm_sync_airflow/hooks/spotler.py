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

from airflow.sdk.bases.hook import BaseHook
from pydantic import BaseModel, ConfigDict, Field

from crm_sync_airflow import connection_types
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


class SpotlerHook(BaseHook):
    """Interact with Spotler Mail+ audiences and contacts through its REST API.

    :param spotler_conn_id: the Airflow connection to use
    :param retry_policy: override the client's retry policy (tests use tiny waits)
    """

    conn_name_attr = "spotler_conn_id"
    default_conn_name = "spotler_default"
    conn_type = "spotler"
    hook_name = "Spotler Mail+"

    def __init__(
        self,
        spotler_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spotler_conn_id = spotler_conn_id
        self._retry_policy = retry_policy
        self._client: SpotlerClient | None = None

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

    def connection_settings(self) -> SpotlerConnectionSettings:
        """The connection, parsed and validated (raises ``SpotlerConnectionError``)."""
        conn = self.get_connection(self.spotler_conn_id)
        return parse_connection(
            self.spotler_conn_id, conn.host, conn.port, conn.login, conn.password, conn.extra_dejson
        )

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

    def get_conn(self) -> SpotlerClient:
        """The hook's client, created on first use and cached (close it with ``close``)."""
        if self._client is None:
            settings = self.connection_settings()
            self.log.info("Spotler: %s, consumer key %s", settings.base_url, settings.consumer_key)
            self._client = self._new_client(settings)
        return self._client

    def get_platform(self) -> SpotlerPlatform:
        """The ``MembershipPlatform`` over the hook's client (the hook keeps owning the client)."""
        from include.crm_sync.platforms.spotler.platform import SpotlerPlatform

        settings = self.connection_settings()
        return SpotlerPlatform(
            self.get_conn(), owns_client=False, feed_page_size=settings.extras.feed_page_size
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> SpotlerHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """Two signed read calls: the credentials, then the audience product; never raises."""
        from include.crm_sync.platforms.base import PlatformError
        from include.crm_sync.platforms.spotler.client import RetryPolicy
        from include.crm_sync.platforms.spotler.errors import ProductNotFound

        try:
            settings = self.connection_settings()
        except SpotlerConnectionError as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. the connection does not exist
            return False, f"connection {self.spotler_conn_id!r} could not be read: {type(exc).__name__}"
        try:
            client = self._new_client(
                settings,
                timeout=min(settings.extras.timeout, 30.0),
                retry_policy=self._retry_policy
                or RetryPolicy(max_attempts=2, initial_wait=0.5, max_wait=2.0),
            )
        except ValueError as exc:
            return False, f"connection {self.spotler_conn_id!r}: {exc}"
        try:
            properties = client.contact_properties()
            client.get_audience(_PROBE_AUDIENCE)
        except ProductNotFound as exc:
            return False, str(exc)
        except PlatformError as exc:
            return False, f"Spotler refused the connection test: {exc}"
        except Exception as exc:  # noqa: BLE001 - the UI wants a message, not a traceback
            return False, f"Spotler connection test failed: {type(exc).__name__}"
        finally:
            client.close()
        return True, (
            f"Connected to Spotler at {settings.base_url} with consumer key {settings.consumer_key!r} "
            f"({len(properties)} contact properties; audiences available)"
        )

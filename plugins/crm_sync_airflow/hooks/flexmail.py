"""Hook for Flexmail (REST API, legacy interest labels), reading the ``flexmail_default`` connection.

Connection fields:

==============  ==========================================================================
host            base URL, e.g. ``https://api.flexmail.eu`` (a bare host name means https)
login           the numeric account id
password        a personal access token
extra           JSON, all optional: ``timeout`` (seconds per request, default 60),
                ``connect_timeout`` (default 10), ``max_attempts`` (tries per call on
                429/5xx/connection errors, 1-20, default 6), ``verify`` (TLS verification,
                default true), ``requests_per_minute`` (the account's budget the shared
                token bucket hands out, default 55: under Flexmail's ~60), ``source_id``
                (the Flexmail source imported contacts get)
==============  ==========================================================================

Example (environment variable, JSON form)::

    AIRFLOW_CONN_FLEXMAIL_DEFAULT='{"conn_type": "flexmail", "host": "https://api.flexmail.eu",
        "login": "<account id>", "password": "<personal access token>", "extra": {"source_id": 1}}'

Flexmail's rate limit is per account, so every task must take its requests from ONE bucket:
``get_conn(staging_engine)`` gives a client whose limiter is the token bucket row
``flexmail:<account id>`` in the CRM staging database (shared by all tasks and workers). The token
is never logged; requests and the client are imported lazily (DAG parsing stays cheap).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.hook import BaseHook
from pydantic import BaseModel, ConfigDict, Field

from crm_sync_airflow import connection_types
from crm_sync_airflow.hooks.rest_connection import base_url, parse_extras

if TYPE_CHECKING:
    import sqlalchemy as sa

    from include.crm_sync.platforms.flexmail.client import FlexmailClient, RetryPolicy


class FlexmailConnectionError(ValueError):
    """The Airflow connection is incomplete or has an invalid value (names connection and field)."""


# the extras model lives with the connection types: the provider registers its form fields
FlexmailExtras = connection_types.FlexmailExtras


class FlexmailConnectionSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: str
    account_id: str
    token: str = Field(repr=False)
    extras: FlexmailExtras = FlexmailExtras()


def parse_connection(
    conn_id: str, host: str | None, port: int | None, login: str | None, password: str | None, extra: Any
) -> FlexmailConnectionSettings:
    """Validate the connection's fields and extras; errors name the connection and the field."""

    def fail(field: str, problem: str) -> FlexmailConnectionError:
        return FlexmailConnectionError(f"connection {conn_id!r}: {field} {problem}")

    extras = parse_extras(FlexmailExtras, extra, fail)
    host = base_url(host, port, fail, missing="(base URL) is required, e.g. https://api.flexmail.eu")
    if not login or not login.strip().isdigit():
        raise fail("login", "(the numeric Flexmail account id) is required")
    if not password:
        raise fail("password", "(a personal access token) is required")
    return FlexmailConnectionSettings(base_url=host, account_id=login.strip(), token=password, extras=extras)


class FlexmailHook(BaseHook):
    """Interact with Flexmail contacts, interest labels and imports through its REST API.

    :param flexmail_conn_id: the Airflow connection to use
    :param retry_policy: override the client's retry policy (tests use tiny waits)
    """

    conn_name_attr = "flexmail_conn_id"
    default_conn_name = "flexmail_default"
    conn_type = "flexmail"
    hook_name = "Flexmail"

    def __init__(
        self,
        flexmail_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.flexmail_conn_id = flexmail_conn_id
        self._retry_policy = retry_policy
        self._client: FlexmailClient | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "Base URL", "login": "Account id", "password": "Personal access token"},
            "placeholders": {
                "host": "https://api.flexmail.eu",
                "login": "account id (a number)",
                "extra": '{"requests_per_minute": 55, "source_id": 1}',
            },
        }

    def connection_settings(self) -> FlexmailConnectionSettings:
        conn = self.get_connection(self.flexmail_conn_id)
        return parse_connection(
            self.flexmail_conn_id, conn.host, conn.port, conn.login, conn.password, conn.extra_dejson
        )

    def _new_client(
        self, settings: FlexmailConnectionSettings, staging_engine: sa.Engine | None = None, **overrides: Any
    ) -> FlexmailClient:
        from include.crm_sync.platforms.flexmail.client import FlexmailClient, RetryPolicy
        from include.crm_sync.platforms.flexmail.rate_limit import TokenBucket

        extras = settings.extras
        limiter = None
        if staging_engine is not None:
            limiter = TokenBucket(
                staging_engine,
                f"flexmail:{settings.account_id}",
                requests_per_minute=extras.requests_per_minute,
            )
        options: dict[str, Any] = {
            "limiter": limiter,
            "timeout": extras.timeout,
            "connect_timeout": extras.connect_timeout,
            "retry_policy": self._retry_policy or RetryPolicy(max_attempts=extras.max_attempts),
            "verify": extras.verify,
        }
        options.update(overrides)
        return FlexmailClient(settings.base_url, settings.account_id, settings.token, **options)

    def get_conn(self, staging_engine: sa.Engine | None = None) -> FlexmailClient:
        """The hook's client, created on first use and cached. Pass the CRM staging engine (as every
        sync task must) so its requests come from the account's shared token bucket."""
        if self._client is None:
            settings = self.connection_settings()
            self.log.info("Flexmail: %s, account %s", settings.base_url, settings.account_id)
            self._client = self._new_client(settings, staging_engine)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> FlexmailHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """One read call (the interest labels); never raises, never shows the token."""
        from include.crm_sync.platforms.base import PlatformError
        from include.crm_sync.platforms.flexmail.client import RetryPolicy

        try:
            settings = self.connection_settings()
        except FlexmailConnectionError as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. the connection does not exist
            return False, f"connection {self.flexmail_conn_id!r} could not be read: {type(exc).__name__}"
        client = self._new_client(
            settings,
            timeout=min(settings.extras.timeout, 30.0),
            retry_policy=self._retry_policy or RetryPolicy(max_attempts=2, initial_wait=0.5, max_wait=2.0),
        )
        try:
            labels = client.interest_labels()
        except PlatformError as exc:
            return False, f"Flexmail refused the connection test: {exc}"
        except Exception as exc:  # noqa: BLE001 - the UI wants a message, not a traceback
            return False, f"Flexmail connection test failed: {type(exc).__name__}"
        finally:
            client.close()
        return True, (
            f"Connected to Flexmail at {settings.base_url} as account {settings.account_id} "
            f"({len(labels)} interest labels)"
        )

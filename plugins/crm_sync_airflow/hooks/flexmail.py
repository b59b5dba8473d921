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

from pydantic import BaseModel, ConfigDict, Field

from crm_sync_airflow import connection_types
from crm_sync_airflow.hooks.platform_hook import PlatformHook
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


class FlexmailHook(PlatformHook["FlexmailConnectionSettings", "FlexmailClient"]):
    """Interact with Flexmail contacts, interest labels and imports through its REST API.

    :param flexmail_conn_id: the Airflow connection to use
    :param retry_policy: override the client's retry policy (tests use tiny waits)
    """

    conn_name_attr = "flexmail_conn_id"
    default_conn_name = "flexmail_default"
    conn_type = "flexmail"
    hook_name = "Flexmail"
    platform_label = "Flexmail"
    connection_error = FlexmailConnectionError
    _parse_connection = staticmethod(parse_connection)

    def __init__(
        self,
        flexmail_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(flexmail_conn_id, retry_policy=retry_policy, **kwargs)

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
        return super().get_conn(staging_engine=staging_engine)

    def _describe(self, settings: FlexmailConnectionSettings) -> str:
        return f"{settings.base_url}, account {settings.account_id}"

    def _probe_overrides(self, settings: FlexmailConnectionSettings) -> dict[str, Any]:
        from include.crm_sync.platforms.flexmail.client import RetryPolicy

        return {
            "timeout": min(settings.extras.timeout, 30.0),
            "retry_policy": self._retry_policy or RetryPolicy(max_attempts=2, initial_wait=0.5, max_wait=2.0),
        }

    def _probe(self, client: FlexmailClient, settings: FlexmailConnectionSettings) -> str:
        """One read call (the interest labels)."""
        labels = client.interest_labels()
        return (
            f"Connected to Flexmail at {settings.base_url} as account {settings.account_id} "
            f"({len(labels)} interest labels)"
        )

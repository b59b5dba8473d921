"""Hook for Mailjet (v3 REST API), reading the ``mailjet_default`` connection.

Connection fields:

==============  ==========================================================================
host            API base URL, e.g. ``https://api.mailjet.com/`` (a bare host name means
                ``https://<host>[:<port>]/``)
login           API key
password        secret key
extra           JSON, all optional: ``timeout`` (seconds per request, default 60),
                ``max_attempts`` (tries per call on 5xx/connection errors, 1-20, default 5),
                ``rate_limit_budget`` (seconds one call may wait out 429s, default 600),
                ``job_poll_interval`` (default 2), ``job_max_wait`` (seconds a bulk job may
                take, default 1800), ``max_contacts_per_job`` (default 1000)
==============  ==========================================================================

Example (environment variable, JSON form)::

    AIRFLOW_CONN_MAILJET_DEFAULT='{"conn_type": "mailjet", "host": "https://api.mailjet.com/",
        "login": "<API key>", "password": "<secret key>", "extra": {"job_max_wait": 1800}}'

The secret key is never logged; ``test_connection`` makes one authenticated read call, which
Mailjet refuses (401) when either key is wrong, and reports the outcome without the secret.
The client (and mailjet-rest) are imported lazily, so DAG parsing stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from crm_sync_airflow import connection_types
from crm_sync_airflow.hooks.platform_hook import ConnectionTestFailed, PlatformHook
from crm_sync_airflow.hooks.rest_connection import base_url, parse_extras

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from include.crm_sync.platforms.mailjet.client import MailjetClient, RetryPolicy
    from include.crm_sync.platforms.mailjet.platform import MailjetPlatform


class MailjetConnectionError(ValueError):
    """The Airflow connection is incomplete or has an invalid value (names connection and field)."""


# the extras model lives with the connection types: the provider registers its form fields
MailjetExtras = connection_types.MailjetExtras


class MailjetConnectionSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: str
    api_key: str
    secret_key: str = Field(repr=False)
    extras: MailjetExtras = MailjetExtras()


def parse_connection(
    conn_id: str, host: str | None, port: int | None, login: str | None, password: str | None, extra: Any
) -> MailjetConnectionSettings:
    """Validate the connection's fields and extras; errors name the connection and the field."""

    def fail(field: str, problem: str) -> MailjetConnectionError:
        return MailjetConnectionError(f"connection {conn_id!r}: {field} {problem}")

    extras = parse_extras(MailjetExtras, extra, fail)
    host = base_url(
        host, port, fail, missing="(API base URL) is required, e.g. https://api.mailjet.com/", path="/"
    )
    if not login:
        raise fail("login", "(API key) is required")
    if not password:
        raise fail("password", "(secret key) is required")
    return MailjetConnectionSettings(base_url=host, api_key=login, secret_key=password, extras=extras)


class MailjetHook(PlatformHook["MailjetConnectionSettings", "MailjetClient"]):
    """Interact with Mailjet contact lists through its v3 REST API (official ``mailjet-rest`` client).

    :param mailjet_conn_id: the Airflow connection to use
    :param retry_policy: override the client's retry policy (tests use tiny waits)
    """

    conn_name_attr = "mailjet_conn_id"
    default_conn_name = "mailjet_default"
    conn_type = "mailjet"
    hook_name = "Mailjet"
    platform_label = "Mailjet"
    connection_error = MailjetConnectionError
    _parse_connection = staticmethod(parse_connection)

    def __init__(
        self,
        mailjet_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(mailjet_conn_id, retry_policy=retry_policy, **kwargs)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "API base URL", "login": "API key", "password": "Secret key"},
            "placeholders": {
                "host": "https://api.mailjet.com/",
                "login": "API key",
                "extra": '{"job_max_wait": 1800, "max_contacts_per_job": 1000}',
            },
        }

    def _new_client(self, settings: MailjetConnectionSettings, **overrides: Any) -> MailjetClient:
        from include.crm_sync.platforms.mailjet.client import JobPolicy, MailjetClient, RetryPolicy

        extras = settings.extras
        options: dict[str, Any] = {
            "timeout": extras.timeout,
            "retry_policy": self._retry_policy
            or RetryPolicy(max_attempts=extras.max_attempts, rate_limit_budget=extras.rate_limit_budget),
            "job_policy": JobPolicy(poll_interval=extras.job_poll_interval, max_wait=extras.job_max_wait),
            "max_contacts_per_job": extras.max_contacts_per_job,
        }
        options.update(overrides)
        return MailjetClient(settings.base_url, settings.api_key, settings.secret_key, **options)

    def _describe(self, settings: MailjetConnectionSettings) -> str:
        return f"{settings.base_url}, API key {settings.api_key}"

    def get_platform(self, lists: Sequence[str] = (), engine: Engine | None = None) -> MailjetPlatform:
        """The ``MembershipPlatform`` over the hook's client (the hook keeps owning the client).
        ``lists``: the managed Mailjet list names (their unsubscribes are read as feedback);
        ``engine``: the CRM staging database, where the uploaded address of a member is looked up
        (needed by the membership sync), and up to when the feedback import read the unsubscribes
        (so only newer ones are looked up before a removal)."""
        from include.crm_sync.mailjet.addresses import unsubscribes_read_until, uploaded_email_lookup
        from include.crm_sync.platforms.mailjet.platform import MailjetPlatform

        lookups: dict[str, Any] = {}
        if engine is not None:
            lookups = {
                "email_of": uploaded_email_lookup(engine),
                "uploaded_email_of": uploaded_email_lookup(engine, crm_fallback=False),
                "unsubscribes_read_until": unsubscribes_read_until(engine),
            }
        return MailjetPlatform(self.get_conn(), lists=lists, owns_client=False, **lookups)

    def _probe_overrides(self, settings: MailjetConnectionSettings) -> dict[str, Any]:
        from include.crm_sync.platforms.mailjet.client import RetryPolicy

        return {
            "timeout": min(settings.extras.timeout, 30.0),
            "retry_policy": self._retry_policy
            or RetryPolicy(max_attempts=2, initial_wait=0.5, max_wait=2.0, rate_limit_budget=10),
        }

    def _probe(self, client: MailjetClient, settings: MailjetConnectionSettings) -> str:
        """One authenticated read call proves the API key and the secret key."""
        from include.crm_sync.platforms.mailjet.errors import MailjetCredentialsError

        try:
            client.check_credentials()
        except MailjetCredentialsError:
            raise ConnectionTestFailed(
                "Mailjet refused the API key and secret key (401): check both in the connection"
            ) from None
        return f"Connected to Mailjet at {settings.base_url} with API key {settings.api_key!r}"

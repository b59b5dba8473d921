"""The base of the platforms' hooks: the connection read and validated in one place, a lazily
created and cached client, and a connection test that reports instead of raising."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, Self, TypeVar

from airflow.sdk.bases.hook import BaseHook

#: the hook's parsed connection (a pydantic model or a dataclass)
Settings = TypeVar("Settings")
Client = TypeVar("Client")


class ConnectionTestFailed(Exception):
    """Raised by a hook's ``_probe`` with the message ``test_connection`` shows the user."""


class PlatformHook(BaseHook, Generic[Settings, Client]):
    """What every platform's hook (Optimizely Campaign, Spotler, Mailjet, Flexmail) does alike, in
    the style of Airflow's provider hooks: the connection read and validated in one place
    (``_parse_connection``), a lazily created, cached client in ``get_conn``, ``close`` and the
    context manager, and a ``test_connection`` that never raises. A subclass names its platform
    (``platform_label``), its connection error, how it builds a client (``_new_client``) and what
    the connection test calls (``_probe``)."""

    #: the platform's name in log lines and connection-test messages
    platform_label: ClassVar[str]
    #: the exception ``_parse_connection`` raises for an incomplete or invalid connection
    connection_error: ClassVar[type[Exception]]
    #: ``staticmethod(parse_connection)`` of the platform's hook module
    _parse_connection: ClassVar[Callable[..., Any]]

    def __init__(self, conn_id: str, *, retry_policy: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        setattr(self, self.conn_name_attr, conn_id)
        self._retry_policy = retry_policy
        self._client: Client | None = None

    @property
    def conn_id(self) -> str:
        return getattr(self, self.conn_name_attr)

    def connection_settings(self) -> Settings:
        """The connection, parsed and validated (raises ``connection_error``)."""
        conn = self.get_connection(self.conn_id)
        return self._parse_connection(
            self.conn_id, conn.host, conn.port, conn.login, conn.password, conn.extra_dejson
        )

    def _new_client(self, settings: Settings, **overrides: Any) -> Client:
        raise NotImplementedError

    def _describe(self, settings: Settings) -> str:
        """Where the client goes, for the log: base URL and account, never a secret."""
        raise NotImplementedError

    def _probe_overrides(self, settings: Settings) -> dict[str, Any]:
        """Client options of the connection test: short timeouts, two tries."""
        raise NotImplementedError

    def _probe(self, client: Client, settings: Settings) -> str:
        """The connection test's calls; returns the success message, raises ``ConnectionTestFailed``
        (or a platform error) otherwise."""
        raise NotImplementedError

    def get_conn(self, **client_options: Any) -> Client:
        """The hook's client, created on first use and cached (close it with ``close``)."""
        if self._client is None:
            settings = self.connection_settings()
            self.log.info("%s: %s", self.platform_label, self._describe(settings))
            self._client = self._new_client(settings, **client_options)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """``(ok, message)`` for the UI's Test button; never raises, never shows a secret."""
        from include.crm_sync.platforms.base import PlatformError

        try:
            settings = self.connection_settings()
        except self.connection_error as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. the connection does not exist
            return False, f"connection {self.conn_id!r} could not be read: {type(exc).__name__}"
        try:
            client = self._new_client(settings, **self._probe_overrides(settings))
        except ValueError as exc:
            return False, f"connection {self.conn_id!r}: {exc}"
        try:
            return True, self._probe(client, settings)
        except ConnectionTestFailed as exc:
            return False, str(exc)
        except PlatformError as exc:
            return False, f"{self.platform_label} refused the connection test: {exc}"
        except Exception as exc:  # noqa: BLE001 - the UI wants a message, not a traceback
            return False, f"{self.platform_label} connection test failed: {type(exc).__name__}"
        finally:
            client.close()

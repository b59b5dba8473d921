"""Hook for the CRM staging database (SQLite embedded default, PostgreSQL in production).

The connection ``crm_staging_default`` holds a SQLAlchemy URL, either as the ``sqlalchemy_url``
extra (any dialect, e.g. ``sqlite:////data/crm.db``) or built from the usual host/login/password/
schema fields for a ``postgres`` connection. The extras are parsed by the pydantic model
``CrmStagingExtras`` (``crm_sync_airflow.connection_types``; an unknown key is an error naming it).
The password never leaves the engine: logs show the URL with the password hidden.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from crm_sync_airflow.connection_types import CRM_STAGING, CrmStagingExtras, parse_extras

if TYPE_CHECKING:
    from sqlalchemy import Engine


class CrmStagingHook(BaseHook):
    """Gives a SQLAlchemy engine on the CRM staging database."""

    conn_name_attr = "crm_staging_conn_id"
    default_conn_name = "crm_staging_default"
    conn_type = "crm_staging"
    hook_name = "CRM staging database"

    def __init__(self, crm_staging_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crm_staging_conn_id = crm_staging_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form's standard fields, as the provider info gives them to Airflow."""
        return {
            "hidden_fields": CRM_STAGING.hidden_fields,
            "relabeling": CRM_STAGING.relabeling,
            "placeholders": CRM_STAGING.placeholders,
        }

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The URL from the connection, with the password (if any) still in it: never log this."""
        from sqlalchemy.engine import URL

        conn = self.get_connection(self.crm_staging_conn_id)
        extras = parse_extras(
            CrmStagingExtras, self.crm_staging_conn_id, CRM_STAGING.connection_type, conn.extra_dejson
        )
        if extras.sqlalchemy_url:
            return extras.sqlalchemy_url
        if not conn.host:
            raise ValueError(
                f"connection {self.crm_staging_conn_id!r}: set the extra 'sqlalchemy_url' or host/schema "
                "of a PostgreSQL server"
            )
        return URL.create(
            "postgresql+psycopg2",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host,
            port=conn.port or None,
            database=conn.schema or None,
        ).render_as_string(hide_password=False)

    def get_conn(self) -> Engine:
        """A cached SQLAlchemy engine (pooled connections; dispose with ``close``)."""
        if getattr(self, "_engine", None) is None:
            from include.crm_sync.staging.engine import create_staging_engine

            self._engine = create_staging_engine(self.sqlalchemy_url)
            self.log.info("CRM staging database: %s", self._engine.url.render_as_string(hide_password=True))
        return self._engine

    def close(self) -> None:
        if getattr(self, "_engine", None) is not None:
            self._engine.dispose()
            self._engine = None

    def test_connection(self) -> tuple[bool, str]:
        try:
            with self.get_conn().connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:
            return False, f"CRM staging database not reachable: {type(exc).__name__}"
        return True, "Connection successfully tested"

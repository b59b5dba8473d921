"""This project as an Airflow provider, so the UI's connection form knows its connection types.

Registered in pyproject.toml (entry point group ``apache_airflow_provider``) and installed editable
by ``make install``. Airflow's ProvidersManager calls ``get_provider_info`` in every process it
starts; the answer is built from ``connection_types`` without importing a hook. Each connection
type carries its custom form fields (``conn-fields``, from the pydantic model that also parses its
extras) and which standard fields are hidden, relabelled or given placeholders
(``ui-field-behaviour``): Airflow 3.2+ reads these declaratively; the hooks' former
``get_connection_form_widgets`` / ``get_ui_field_behaviour`` methods are deprecated there.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from crm_sync_airflow.connection_types import CONNECTION_TYPES

PACKAGE_NAME = "crm-campaign-sync"


def _version() -> str:
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:  # run from a checkout that was not installed
        return "0+unknown"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "CRM campaign sync",
        "description": "Keeps a CRM's recipient lists in sync with e-mail campaign platforms "
        "(Optimizely Campaign, Spotler Mail+, Mailjet, Flexmail).",
        "versions": [_version()],
        "connection-types": [
            {
                "connection-type": ct.connection_type,
                "hook-class-name": ct.hook_class_name,
                "hook-name": ct.hook_name,
                "conn-fields": ct.conn_fields(),
                "ui-field-behaviour": ct.ui_field_behaviour(),
            }
            for ct in CONNECTION_TYPES
        ],
        # Airflow < 2.2 read only this; kept so older tools list the hooks too
        "hook-class-names": [ct.hook_class_name for ct in CONNECTION_TYPES],
    }

"""Where the project's editable files live: ``config/lists.yaml`` and the ``sql/`` tree.

Paths are derived from this file's location (``include/crm_sync/config/`` sits three levels under
the project root), which holds both in a checkout and in an Airflow deployment where ``dags/``,
``include/``, ``config/`` and ``sql/`` are shipped side by side.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SQL_ROOT = PROJECT_ROOT / "sql"
DEFAULT_LISTS_PATH = PROJECT_ROOT / "config" / "lists.yaml"

#: environment variable naming another lists file (tests, staging set-ups)
LISTS_FILE_ENV = "CRM_SYNC_LISTS_FILE"

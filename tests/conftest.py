"""Shared pytest configuration: fixtures live in tests/fixtures/ and are registered here.

Airflow reads its configuration when first imported, so the test session's Airflow home (a
throw-away folder: SQLite metadata, no example DAGs, this project's dags/ and plugins/) is set
here, before any test module imports airflow.
"""

import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="crm-sync-test-airflow-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT_ROOT / "plugins")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

pytest_plugins = [
    "tests.fixtures.optimizely",
    "tests.fixtures.staging",
    "tests.fixtures.airflow",
    "tests.fixtures.sftp",
]

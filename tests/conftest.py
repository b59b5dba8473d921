"""Shared pytest configuration: fixtures live in tests/fixtures/ and are registered here.

Airflow reads its configuration when first imported, so the test session's Airflow home (a
throw-away folder: SQLite metadata, no example DAGs, this project's dags/ and plugins/) is set
here, before any test module imports airflow.

Nothing in the suite may depend on how fast the machine is (CI is a busy 2-core machine, the
suite may run twice at once): Hypothesis gets no per-example deadline and no "too slow" health
check outside CI too (its built-in "ci" profile already drops both), and a DAG file may take as
long to import as a starved CPU needs.
"""

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="crm-sync-test-airflow-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT_ROOT / "plugins")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Airflow's default is 30 s per DAG file, a limit a loaded machine can reach on a cold import.
os.environ["AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT"] = "300"

if not os.environ.get("CI"):  # under CI, Hypothesis loads its "ci" profile, which does the same
    settings.register_profile("no-timing", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("no-timing")

pytest_plugins = [
    "tests.fixtures.optimizely",
    "tests.fixtures.staging",
    "tests.fixtures.airflow",
    "tests.fixtures.sftp",
]

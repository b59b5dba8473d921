"""`make check-config`: is the project's configuration sound, as Airflow will see it?

Checks, each reported with what is wrong and where:

1. the list definitions (``$CRM_SYNC_LISTS_FILE``, default config/lists.yaml): every problem with
   its file, list, field and line;
2. the response import settings (``$CRM_SYNC_RESPONSE_CONFIG``, default config/response_import.yaml);
3. the DAG files: parsed as Airflow's dag-processor parses them (dags/ with the project root and
   plugins/ on the path), every import error with its file and traceback tail;
4. the UI plugins in plugins/: import errors.

Exit status 0 when everything is sound, 1 otherwise. Nothing is written but Airflow's default
config in ``$AIRFLOW_HOME`` (default .local/check-config, when not set).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project_environment() -> None:
    """The environment `make demo`/`make ui` give Airflow: project root and plugins/ importable,
    this project's dags/ and plugins/ folders, no example DAGs."""
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "plugins"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".local" / "check-config"))
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def check_lists() -> list[str]:
    from include.crm_sync.config.loader import ListsConfigError, load_lists, resolve_lists_path

    try:
        lists = load_lists()
    except ListsConfigError as exc:
        return [str(exc)]
    # a list marked delete: true is valid but no longer synced: say so, so nobody expects it filled
    names = [f"{item.name} (delete: true)" if item.delete else item.name for item in lists.lists]
    return _ok(f"{resolve_lists_path()}: {len(names)} list(s): {', '.join(names)}")


def check_response_settings() -> list[str]:
    from include.crm_sync.responses import ResponseConfigError, load_response_settings
    from include.crm_sync.responses.settings import resolve_settings_path

    try:
        load_response_settings()
    except ResponseConfigError as exc:
        return [str(exc)]
    return _ok(f"{resolve_settings_path()}: valid")


def check_dags() -> list[str]:
    from airflow.dag_processing.dagbag import DagBag

    folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    bag = DagBag(dag_folder=folder)
    problems = [
        f"DAG file {path}: import error:\n{_indent(_tail(error))}"
        for path, error in sorted(bag.import_errors.items())
    ]
    if not problems and not bag.dags:
        problems.append(f"{folder}: no DAG found")
    return problems or _ok(f"{folder}: {len(bag.dags)} DAG(s) parse: {', '.join(sorted(bag.dag_ids))}")


def check_plugins() -> list[str]:
    from airflow import plugins_manager

    plugins_manager.ensure_plugins_loaded()
    errors = plugins_manager.get_import_errors()
    problems = [
        f"plugin {path}: import error:\n{_indent(_tail(error))}" for path, error in sorted(errors.items())
    ]
    return problems or _ok(f"{os.environ['AIRFLOW__CORE__PLUGINS_FOLDER']}: plugins load")


def _ok(message: str) -> list[str]:
    print(f"ok    {message}", flush=True)
    return []


def _tail(error: str, lines: int = 12) -> str:
    return "\n".join(str(error).strip().splitlines()[-lines:])


def _indent(text: str) -> str:
    return "\n".join(f"      {line}" for line in text.splitlines())


CHECKS: tuple[tuple[str, Callable[[], list[str]]], ...] = (
    ("list definitions", check_lists),
    ("response import settings", check_response_settings),
    ("DAG files", check_dags),
    ("plugins", check_plugins),
)


def main() -> int:
    project_environment()
    problems: list[str] = []
    for name, check in CHECKS:
        try:
            found = check()
        except Exception as exc:  # noqa: BLE001 - a check that cannot run is a problem to report, not a crash
            found = [f"{name}: the check itself failed: {type(exc).__name__}: {exc}"]
        for problem in found:
            print(f"ERROR {problem}", flush=True)
        problems += found
    if problems:
        print(f"\n{len(problems)} problem(s) found.", flush=True)
        return 1
    print("\nConfiguration OK.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

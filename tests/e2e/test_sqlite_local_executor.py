"""crm_campaign_sync on the SQLite CRM under the LocalExecutor (what ``make ui`` runs): no retries.

The mapped ``extract`` tasks of every list of config/lists.yaml (Optimizely, Spotler, Flexmail and Mailjet,
then their ``validate`` and write tasks) run at once as separate processes writing one SQLite file.
Before write transactions began as writers (``BEGIN IMMEDIATE``, include/crm_sync/staging/engine.py),
two of three extractions failed their first try with ``database is locked`` on
``INSERT INTO list_run`` and only their retries passed. Here every task instance must succeed at
its first try, and every list be synced.

The deployment is this module's own (LocalExecutor; metadata on the PostgreSQL test server, the
CRM in a SQLite file, the emulator of the e2e package), started and stopped around its test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.crm_sync.generate import generate
from include.crm_sync.staging import tables as t
from include.crm_sync.staging.migrate import upgrade
from scripts.demo_platforms import flexmail_connection_env, mailjet_connection_env, spotler_connection_env
from scripts.local_stack import LocalAirflowStack, demo_env
from tests.e2e.conftest import CONTACTS, DAG_ID, LIST_IDS, platform_lists
from tests.fixtures.staging import throwaway_pg_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def sqlite_staging_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite-crm") / "crm_staging.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    generate(url, contacts=CONTACTS, seed=7)
    return url


@pytest.fixture(scope="module")
def local_stack(
    e2e_pg_server_url: str,
    sqlite_staging_url: str,
    e2e_emulator,
    e2e_spotler,
    e2e_flexmail,
    e2e_mailjet,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalAirflowStack]:
    home = tmp_path_factory.mktemp("airflow-local")
    with throwaway_pg_database(e2e_pg_server_url, "airflow_e2e_local") as metadata_url:
        stack = LocalAirflowStack(
            home=home,
            metadata_url=metadata_url,
            executor="LocalExecutor",
            extra_env=demo_env(sqlite_staging_url, e2e_emulator, landing_dir=home / "landing")
            | spotler_connection_env(e2e_spotler)  # as the demo gives them
            | flexmail_connection_env(e2e_flexmail)
            | mailjet_connection_env(e2e_mailjet),
        )
        print(f"\nAirflow LocalExecutor stack: home {home}, process logs {stack.log_dir}")
        try:
            stack.start()
            stack.wait_until_healthy(timeout=300)
            stack.wait_for_dag(DAG_ID, timeout=180)
            stack.unpause(DAG_ID)
            yield stack
        finally:
            stack.stop()


@pytest.mark.timeout(900)
def test_every_list_in_parallel_on_sqlite_needs_no_retry(local_stack, sqlite_staging_url, e2e_emulator):
    all_lists = set(LIST_IDS) | {
        name for platform in ("spotler", "flexmail", "mailjet") for name in platform_lists(platform)
    }
    run_id = local_stack.trigger(DAG_ID, conf={})

    assert local_stack.wait_for_run(DAG_ID, run_id, timeout=600) == "success", local_stack.log_tails()

    tis = local_stack.task_instances(DAG_ID, run_id)
    mapped = [ti for ti in tis if ti["map_index"] >= 0 and ti["task_id"].startswith("sync_list.")]
    assert sorted({ti["rendered_map_index"] for ti in mapped}) == sorted(all_lists)
    assert len(mapped) == 3 * len(all_lists)
    tries = {f"{ti['task_id']}[{ti['rendered_map_index'] or ''}]": ti["try_number"] for ti in tis}
    assert set(tries.values()) == {1}, tries  # no task needed a retry
    assert {ti["state"] for ti in tis} == {"success"}

    engine = sa.create_engine(sqlite_staging_url)
    try:
        with engine.connect() as conn:
            runs = {
                r.list_name: r
                for r in conn.execute(sa.select(t.list_run).where(t.list_run.c.run_id == run_id))
            }
    finally:
        engine.dispose()
    assert set(runs) == all_lists
    assert {name: run.status for name, run in runs.items()} == dict.fromkeys(all_lists, "synced")
    for name, list_id in LIST_IDS.items():
        assert runs[name].status == "synced", (name, runs[name].error)
        on_platform = e2e_emulator.control.recipients(list_id, limit=0)["count"]
        assert on_platform == runs[name].accepted == runs[name].platform_count > 0, name

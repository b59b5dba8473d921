"""Migration 0012 on a PostgreSQL database that already holds snapshots: every row moves into its
list run's partition, one run's partition can be dropped on its own, and a downgrade gives the rows back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from include.crm_sync.extract.partitions import run_table
from include.crm_sync.staging.engine import create_staging_engine
from include.crm_sync.staging.migrate import alembic_config, upgrade

pytestmark = pytest.mark.postgres


def _fill_0011(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO sync_run (run_id, dry_run, forced, feedback_ok, status, started_at) "
            "VALUES ('old', false, false, true, 'success', now())"
        )
        for list_run_id in (1, 2):
            conn.exec_driver_sql(
                "INSERT INTO list_run (list_run_id, run_id, list_name, platform, platform_list_id, "
                "optin_process_id, consent_id, attribute_names, status, started_at) VALUES "
                f"({list_run_id}, 'old', 'l{list_run_id}', 'optimizely', '100{list_run_id}', '1', 'n', "
                "'[]', 'synced', now())"
            )
            conn.exec_driver_sql(
                "INSERT INTO list_snapshot SELECT %(r)s, g, 'C' || g, 'p' || g || '@example.com', '[\"x\"]' "
                "FROM generate_series(0, 9) AS g",
                {"r": list_run_id},
            )
        conn.exec_driver_sql("SELECT setval('list_run_list_run_id_seq', 2)")


def _rows(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT list_run_id, seq, recipient_id, email, attr_values::text FROM list_snapshot ORDER BY 1, 2"
        ).all()


def test_existing_snapshots_move_into_partitions_and_back(fresh_pg_url: str) -> None:
    config = alembic_config(fresh_pg_url)
    command.upgrade(config, "0011")
    engine = create_staging_engine(fresh_pg_url)
    try:
        _fill_0011(engine)
        before = _rows(engine)
        upgrade(fresh_pg_url)
        assert _rows(engine) == before
        with engine.connect() as conn:
            in_partition = conn.exec_driver_sql(f"SELECT count(*) FROM {run_table(1)}").scalar()
            kind = conn.exec_driver_sql(
                "SELECT relkind FROM pg_class WHERE relname = 'list_snapshot'"
            ).scalar()
        assert (in_partition, kind) == (10, "p")
        # an old run's partition is dropped on its own, as a retry or a pruning of that run does
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {run_table(2)}")
        assert len(_rows(engine)) == 10

        command.downgrade(config, "0011")
        assert _rows(engine) == before[:10]
        with engine.connect() as conn:
            kind = conn.exec_driver_sql(
                "SELECT relkind FROM pg_class WHERE relname = 'list_snapshot'"
            ).scalar()
        assert kind == "r"
    finally:
        engine.dispose()

"""Migration 0002 (response data) matches the table metadata on SQLite and PostgreSQL, and
downgrades cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from include.crm_sync.staging.engine import create_staging_engine
from include.crm_sync.staging.migrate import alembic_config, current_revision, head_revision, upgrade
from include.crm_sync.staging.tables import metadata

MINE = ("response_event", "mailing_campaign", "crm_campaign_response", "rows_ignored")


def test_the_migrated_database_matches_the_metadata_for_the_response_tables(staging_engine):
    with staging_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        inspector = sa.inspect(conn)
        columns = {c["name"] for c in inspector.get_columns("response_event")}
        unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("crm_campaign_response")}
    assert [d for d in diff if any(name in repr(d) for name in MINE)] == []
    assert {"event_key", "file_id", "line_no", "status", "crm_entity_id", "occurred_at"} <= columns
    assert ("event_key",) in unique


def test_0002_downgrades_and_upgrades_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    assert current_revision(url) == head_revision()
    engine = create_staging_engine(url)
    try:
        with engine.connect() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert not {"response_event", "mailing_campaign", "crm_campaign_response"} & set(
                inspector.get_table_names()
            )
            assert "rows_ignored" not in {c["name"] for c in inspector.get_columns("file_ledger")}
    finally:
        engine.dispose()
    upgrade(url)
    assert current_revision(url) == head_revision()

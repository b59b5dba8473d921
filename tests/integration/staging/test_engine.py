"""The staging engine on real databases: SQLite PRAGMAs and transactions, PostgreSQL settings."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from include.crm_sync.staging.engine import SQLITE_BUSY_TIMEOUT_MS, create_staging_engine
from include.crm_sync.staging.tables import crm_consent, crm_consent_type, crm_entity

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = create_staging_engine(f"sqlite:///{tmp_path / 'not' / 'yet' / 'there' / 'x.db'}")
    yield engine
    engine.dispose()


def test_sqlite_file_folder_is_created_and_pragmas_are_set(sqlite_engine, tmp_path):
    with sqlite_engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert (tmp_path / "not" / "yet" / "there" / "x.db").exists()
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "synchronous": 1,
    }  # 1 = NORMAL


def test_sqlite_ddl_is_transactional(sqlite_engine):
    with sqlite_engine.connect() as conn:
        with conn.begin() as tx:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            tx.rollback()
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 't'").scalar() == 0


def test_sqlite_transaction_starts_at_the_first_read(sqlite_engine):
    """A read-then-write transaction sees one snapshot: BEGIN is sent before the first SELECT."""
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with sqlite_engine.connect() as reader, sqlite_engine.connect() as writer:
        # a deferred (read) transaction: an explicit begin() would hold the write lock (test_sqlite_writers)
        with reader.execution_options(sqlite_begin="DEFERRED").begin():
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
            with writer.begin():
                writer.exec_driver_sql("INSERT INTO t VALUES (1)")
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0  # still its snapshot
        assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1


def test_sqlite_begin_immediate_takes_the_write_lock(sqlite_engine):
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    path = sqlite_engine.url.database
    with sqlite_engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        conn.exec_driver_sql("SELECT 1")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


def test_sqlite_autocommit_connections_commit_each_statement(sqlite_engine):
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with sqlite_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with sqlite_engine.connect() as other:
            assert other.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    # ... and the pooled connection is a transactional one again afterwards.
    with sqlite_engine.connect() as conn:
        with conn.begin() as tx:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            tx.rollback()
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1


def test_foreign_keys_are_enforced(staging_engine):
    with staging_engine.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(
                crm_consent.insert().values(
                    entity_id="C404", consent_id="newsletter", status="granted", source="crm", updated_at=NOW
                )
            )
        conn.rollback()


def test_timestamps_round_trip_as_aware_utc(staging_engine):
    with staging_engine.begin() as conn:
        conn.execute(crm_consent_type.insert().values(consent_id="newsletter", name="N"))
        conn.execute(
            crm_entity.insert().values(
                entity_id="C1", entity_type="contact", created_at=NOW, updated_at=NOW, attributes=None
            )
        )
    with staging_engine.connect() as conn:
        row = conn.execute(sa.select(crm_entity.c.created_at, crm_entity.c.is_bounced)).one()
        # NULLABLE_JSON: Python None is stored as SQL NULL, not as the JSON text 'null'.
        assert conn.execute(sa.select(sa.func.count()).where(crm_entity.c.attributes.is_(None))).scalar() == 1
    assert row.created_at == NOW and row.created_at.tzinfo is not None and row.is_bounced is False


@pytest.mark.postgres
def test_postgres_engine_pings_and_uses_psycopg2(pg_staging_url):
    engine = create_staging_engine(pg_staging_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        assert engine.dialect.driver == "psycopg2" and engine.pool._pre_ping
    finally:
        engine.dispose()

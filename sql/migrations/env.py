"""Alembic environment for the CRM staging database (no alembic.ini: see staging/migrate.py).

``include.crm_sync.staging.migrate`` builds the Alembic config in code and hands over either an
open connection (``config.attributes["connection"]``) or a URL (``config.attributes["url"]``).

All pending revisions run in one transaction, so a failed upgrade leaves the database as it was
on both dialects (our SQLite engine issues real BEGINs, so SQLite DDL is transactional too).
Concurrent migrators -- e.g. several Airflow tasks starting at once -- are serialised: an
advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite. The second one then finds the
database at head and does nothing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.pool import NullPool

from include.crm_sync.extract.partitions import include_name
from include.crm_sync.staging.engine import create_staging_engine, resolve_staging_url
from include.crm_sync.staging.tables import metadata

# Arbitrary but fixed: every migrator of any staging database takes this advisory lock key.
_PG_MIGRATION_LOCK_KEY = 0x43524D53  # "CRMS"

config = context.config


def _url() -> str:
    return resolve_staging_url(config.attributes.get("url") or config.get_main_option("sqlalchemy.url"))


def run_migrations_offline() -> None:
    """``--sql`` mode: print the DDL instead of running it (for a DBA to review)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    dbapi_connection = connection.connection.dbapi_connection
    if is_sqlite:
        # SQLite's documented procedure for schema changes: foreign keys off (only possible
        # outside a transaction) so batch-mode table rebuilds don't cascade or fail, then a
        # foreign_key_check before commit, then back on.
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        connection = connection.execution_options(sqlite_begin="IMMEDIATE")
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
                )
            # Configured inside our transaction, Alembic treats it as external and adds none.
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=is_sqlite,
                transactional_ddl=True,  # true on SQLite too, given the engine's explicit BEGIN
                compare_type=True,
                include_name=include_name,  # list_snapshot's partitions are not in the metadata
            )
            context.run_migrations()
            if is_sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left foreign-key violations: {broken[:10]}")
    finally:
        if is_sqlite:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_staging_engine(_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""Fixtures for the staging-schema tests: a database that has never been migrated, per dialect."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url


def _fresh_postgres_database(server_url: str) -> Iterator[str]:
    name = f"crm_sync_fresh_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of an empty database with no schema at all (a new SQLite file or PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'staging.db'}"
    else:
        yield from _fresh_postgres_database(request.getfixturevalue("pg_server_url"))


@pytest.fixture
def fresh_pg_url(pg_server_url: str) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database (for PostgreSQL-only behaviour)."""
    yield from _fresh_postgres_database(pg_server_url)

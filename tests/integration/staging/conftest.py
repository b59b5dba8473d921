"""Fixtures for the staging-schema tests: a database that has never been migrated, per dialect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.staging import throwaway_pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of an empty database with no schema at all (a new SQLite file or PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'staging.db'}"
    else:
        with throwaway_pg_database(request.getfixturevalue("pg_server_url"), "crm_sync_fresh") as url:
            yield url


@pytest.fixture
def fresh_pg_url(pg_server_url: str) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database (for PostgreSQL-only behaviour)."""
    with throwaway_pg_database(pg_server_url, "crm_sync_fresh") as url:
        yield url

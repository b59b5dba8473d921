"""Fixtures of the Spotler tests: one emulator per session over real HTTP, reset before each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from include.crm_sync.staging.engine import create_staging_engine
from include.emulators.spotler.runner import SpotlerEmulatorServer
from tests.integration.spotler.scenario import KEY, SECRET


@pytest.fixture(scope="session")
def spotler_server() -> Iterator[SpotlerEmulatorServer]:
    with SpotlerEmulatorServer(port=0, consumer_key=KEY, consumer_secret=SECRET) as server:
        yield server


@pytest.fixture
def spotler(spotler_server: SpotlerEmulatorServer) -> SpotlerEmulatorServer:
    control = spotler_server.control
    control.reset()
    control.clear_faults()
    return spotler_server


@pytest.fixture
def sqlite_engine(sqlite_template, tmp_path) -> Iterator[sa.Engine]:
    """A migrated SQLite staging database only: for the wider sweeps (the staging_engine tests cover
    PostgreSQL)."""
    path = tmp_path / "staging.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_staging_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()

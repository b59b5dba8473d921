"""Fixtures of the refill tests (the emulator and staging fixtures come from tests/fixtures/)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from include.crm_sync.staging.engine import create_staging_engine


@pytest.fixture
def sqlite_engine(sqlite_template, tmp_path) -> Iterator[sa.Engine]:
    """A migrated SQLite staging database only: for the wider fault sweeps (the staging_engine
    variants cover PostgreSQL for each kind of fault)."""
    path = tmp_path / "staging.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_staging_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()

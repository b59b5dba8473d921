"""Staging URL resolution and engine construction (no database is opened here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.crm_sync.staging import engine as staging_engine
from include.crm_sync.staging.engine import (
    DEFAULT_STAGING_URL,
    STAGING_URL_ENV,
    create_staging_engine,
    masked_url,
    resolve_staging_url,
    sqlite_database_path,
)


def test_default_url_is_a_sqlite_file_in_the_projects_local_folder():
    root = Path(staging_engine.__file__).resolve().parents[3]
    assert (root / "pyproject.toml").exists()
    assert DEFAULT_STAGING_URL == f"sqlite:///{root / '.local' / 'crm_staging.db'}"


def test_resolve_prefers_argument_then_environment_then_default(monkeypatch):
    monkeypatch.delenv(STAGING_URL_ENV, raising=False)
    assert resolve_staging_url(None) == DEFAULT_STAGING_URL
    assert resolve_staging_url("") == DEFAULT_STAGING_URL
    monkeypatch.setenv(STAGING_URL_ENV, "sqlite:////tmp/from-env.db")
    assert resolve_staging_url(None) == "sqlite:////tmp/from-env.db"
    assert resolve_staging_url("sqlite:////tmp/given.db") == "sqlite:////tmp/given.db"


def test_masked_url_hides_the_password():
    shown = masked_url("postgresql+psycopg2://crm:s3cr%40t@db.example:5432/staging")
    assert "s3cr" not in shown and "***" in shown and "crm@" not in shown


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg2://u@h/db"])
def test_postgres_urls_use_psycopg2_with_pre_ping(url):
    engine = create_staging_engine(url)
    try:
        assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg2"
        assert engine.pool._pre_ping
    finally:
        engine.dispose()


def test_other_postgres_drivers_and_dialects_are_refused():
    with pytest.raises(ValueError, match="psycopg2"):
        create_staging_engine("postgresql+pg8000://u@h/db")
    with pytest.raises(ValueError, match="unsupported staging database"):
        create_staging_engine("mysql://u:pw@h/db")


@pytest.mark.parametrize(
    "url, expected",
    [
        ("sqlite:////tmp/x/staging.db", Path("/tmp/x/staging.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql://u@h/db", None),
    ],
)
def test_sqlite_database_path(url, expected):
    assert sqlite_database_path(url) == expected

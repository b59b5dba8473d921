"""Fixtures of the Flexmail tests: one emulator per session over real HTTP, reset before each test
with its clock frozen, so time moves only when the limiter or the client waits (they wait by
advancing the emulated clock: a minute of rate limit costs no wall time)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from include.crm_sync.staging.engine import create_staging_engine
from include.emulators.flexmail.runner import FlexmailEmulatorServer
from tests.integration.flexmail.scenario import ACCOUNT, TOKEN


@pytest.fixture(scope="session")
def flexmail_server() -> Iterator[FlexmailEmulatorServer]:
    with FlexmailEmulatorServer(port=0, account_id=ACCOUNT, token=TOKEN, requests_per_minute=60) as server:
        yield server


@pytest.fixture
def flexmail(flexmail_server: FlexmailEmulatorServer) -> FlexmailEmulatorServer:
    flexmail_server.control.reset()
    flexmail_server.control.set_clock("2026-12-07T01:00:00Z", frozen=True)
    return flexmail_server


@pytest.fixture
def sqlite_engine(sqlite_template, tmp_path) -> Iterator[sa.Engine]:
    path = tmp_path / "staging.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_staging_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def flexmail_enabled(monkeypatch):
    """Flexmail lists are behind the SUPPORTED_PLATFORMS switch until the DAG wires them."""
    from include.crm_sync.config import registry

    monkeypatch.setattr(registry, "SUPPORTED_PLATFORMS", registry.SUPPORTED_PLATFORMS | {"flexmail"})

"""One Flexmail emulator per session over real HTTP, reset before each test; a frozen clock so the
rate limit and import progress depend on moves of the emulated clock only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from include.emulators.flexmail.runner import FlexmailEmulatorServer

ACCOUNT, TOKEN = "4242", "pat-secret"


@pytest.fixture(scope="session")
def flexmail_server() -> Iterator[FlexmailEmulatorServer]:
    with FlexmailEmulatorServer(port=0, account_id=ACCOUNT, token=TOKEN, requests_per_minute=60) as server:
        yield server


@pytest.fixture
def flexmail(flexmail_server: FlexmailEmulatorServer) -> FlexmailEmulatorServer:
    flexmail_server.control.reset()
    flexmail_server.control.set_clock("2026-12-07T02:00:00Z", frozen=True)
    return flexmail_server


@pytest.fixture
def api(flexmail: FlexmailEmulatorServer) -> requests.Session:
    session = requests.Session()
    session.auth = (ACCOUNT, TOKEN)
    session.base_url = flexmail.base_url  # type: ignore[attr-defined]
    return session

"""Fixtures for the Mailjet emulator tests: one emulator per module on an ephemeral loopback port,
reset before each test, and the official ``mailjet_rest`` client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import mailjet_rest
import pytest

from include.emulators.mailjet import MailjetEmulatorServer

KEY, SECRET = "mj-test-key", "mj-test-secret"


@pytest.fixture(scope="module")
def mailjet_server() -> Iterator[MailjetEmulatorServer]:
    with MailjetEmulatorServer(api_key=KEY, secret_key=SECRET) as server:
        yield server


@pytest.fixture
def mailjet(mailjet_server: MailjetEmulatorServer) -> MailjetEmulatorServer:
    mailjet_server.control.reset()
    mailjet_server.emulator.state.job_seconds = 0.0
    mailjet_server.emulator.requests_per_second = None
    return mailjet_server


@pytest.fixture
def client(mailjet: MailjetEmulatorServer) -> Iterator[mailjet_rest.Client]:
    with mailjet_rest.Client(auth=(KEY, SECRET), version="v3", api_url=mailjet.api_url) as mj:
        yield mj


def make_list(client: mailjet_rest.Client, name: str) -> int:
    return client.contactslist.create(data={"Name": name}).json()["Data"][0]["ID"]

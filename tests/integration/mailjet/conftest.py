"""Fixtures for the Mailjet client/platform tests: one emulator per module (reset per test) and a
``MailjetClient`` whose waits move the emulator clock instead of sleeping (no real waiting, nothing
that depends on the machine's speed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from include.crm_sync.platforms.mailjet import JobPolicy, MailjetClient, RetryPolicy
from include.emulators.mailjet import MailjetEmulatorServer

KEY, SECRET = "mj-key", "mj-secret"


class FakeTime:
    """A monotonic clock and a sleep that advance together and move the emulator clock too."""

    def __init__(self, server: MailjetEmulatorServer) -> None:
        self.server, self.now, self.slept = server, 0.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.server.emulator.clock.advance(seconds)


@pytest.fixture(scope="module")
def mailjet_server() -> Iterator[MailjetEmulatorServer]:
    with MailjetEmulatorServer(api_key=KEY, secret_key=SECRET) as server:
        yield server


@pytest.fixture
def mailjet(mailjet_server: MailjetEmulatorServer) -> MailjetEmulatorServer:
    mailjet_server.control.reset()
    mailjet_server.control.set_clock("2026-12-01T02:00:00Z", frozen=True)
    mailjet_server.emulator.state.job_seconds = 0.0
    mailjet_server.emulator.requests_per_second = None
    return mailjet_server


@pytest.fixture
def fake_time(mailjet: MailjetEmulatorServer) -> FakeTime:
    return FakeTime(mailjet)


@pytest.fixture
def client(mailjet: MailjetEmulatorServer, fake_time: FakeTime) -> Iterator[MailjetClient]:
    mj = MailjetClient(
        mailjet.api_url,
        KEY,
        SECRET,
        retry_policy=RetryPolicy(max_attempts=3, initial_wait=0.5, max_wait=5, rate_limit_budget=120),
        job_policy=JobPolicy(poll_interval=1, max_interval=4, max_wait=60),
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
    )
    yield mj
    mj.close()


@pytest.fixture
def mailjet_enabled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Mailjet lists accepted, as once the lead wires the Mailjet sync into the DAG."""
    from include.crm_sync.config import registry

    monkeypatch.setattr(registry, "SUPPORTED_PLATFORMS", registry.SUPPORTED_PLATFORMS | {"mailjet"})
    yield

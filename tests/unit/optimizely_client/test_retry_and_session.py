"""Retry policy and session manager, exercised with plain callables (no network)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from include.crm_sync.platforms.base import PermanentPlatformError, TransientPlatformError
from include.crm_sync.platforms.optimizely.errors import (
    InvalidCredentialsError,
    InvalidSessionError,
    Scrubber,
    ServerFaultError,
    TooManyRequestsError,
)
from include.crm_sync.platforms.optimizely.retry import RetryPolicy
from include.crm_sync.platforms.optimizely.session import SessionManager

FAST = RetryPolicy(max_attempts=4, initial_wait=0.0, max_wait=0.0, jitter=0.0)


def _fault(cls, text="x"):
    return cls(
        text, operation="Recipient.addAll3", faultcode="soapenv:Server.userException", exception_class=None
    )


def failing(times: int, exc: Exception):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= times:
            raise exc
        return "ok"

    return fn, calls


@pytest.mark.parametrize(
    "exc", [_fault(ServerFaultError), _fault(TooManyRequestsError), TransientPlatformError("x")]
)
def test_transient_errors_are_retried_until_success(exc):
    fn, calls = failing(3, exc)
    assert FAST.call("op", fn) == "ok" and len(calls) == 4


def test_attempts_are_bounded_and_the_last_error_is_raised_unchanged():
    error = _fault(ServerFaultError, "still broken")
    fn, calls = failing(100, error)
    with pytest.raises(ServerFaultError) as info:
        FAST.call("op", fn)
    assert info.value is error and len(calls) == 4


@pytest.mark.parametrize(
    "exc", [_fault(InvalidCredentialsError), PermanentPlatformError("x"), ValueError("x")]
)
def test_permanent_and_programming_errors_are_not_retried(exc):
    fn, calls = failing(100, exc)
    with pytest.raises(type(exc)):
        FAST.call("op", fn)
    assert len(calls) == 1


def test_waits_grow_exponentially_with_bounded_jitter():
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=6, initial_wait=1.0, max_wait=5.0, jitter=0.5)
    fn, _ = failing(100, TransientPlatformError("x"))
    with pytest.raises(TransientPlatformError):
        policy.retrying("op", sleep=sleeps.append)(fn)
    assert len(sleeps) == 5
    bases = [min(1.0 * 2**n, 5.0) for n in range(5)]
    for slept, base in zip(sleeps, bases, strict=True):
        assert base <= slept <= min(base + 0.5, 5.0)


def test_policy_validation():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    assert RetryPolicy.no_retries().max_attempts == 1


class FakePlatform:
    """Logins hand out numbered ids; ``valid`` is the set of ids the 'server' accepts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.logins = 0
        self.logouts: list[str] = []
        self.valid: set[str] = set()

    def login(self) -> str:
        with self.lock:
            self.logins += 1
            session_id = f"session-{self.logins:04d}-abcdef"
            self.valid.add(session_id)
            return session_id

    def logout(self, session_id: str) -> None:
        self.logouts.append(session_id)

    def call(self, session_id: str) -> str:
        if session_id not in self.valid:
            raise _fault(InvalidSessionError, "Invalid sessionId")
        return session_id


def test_login_on_first_use_and_cached():
    fake = FakePlatform()
    manager = SessionManager(fake.login, fake.logout, scrubber=Scrubber())
    assert not manager.active
    assert manager.call(fake.call) == manager.call(fake.call) == "session-0001-abcdef"
    assert fake.logins == 1
    manager.close()
    assert fake.logouts == ["session-0001-abcdef"] and not manager.active
    manager.close()  # idempotent
    assert fake.logouts == ["session-0001-abcdef"]


def test_expired_session_relogs_in_once_and_repeats_the_call():
    fake = FakePlatform()
    manager = SessionManager(fake.login, fake.logout, scrubber=Scrubber())
    manager.call(fake.call)
    fake.valid.clear()  # the platform expired every session
    assert manager.call(fake.call) == "session-0002-abcdef"
    assert fake.logins == 2 and manager.relogins == 1


def test_a_second_invalid_session_after_relogin_is_raised():
    fake = FakePlatform()
    manager = SessionManager(fake.login, fake.logout, scrubber=Scrubber())

    def always_invalid(session_id):
        raise _fault(InvalidSessionError, "Invalid sessionId")

    with pytest.raises(InvalidSessionError):
        manager.call(always_invalid)
    assert fake.logins == 2  # first use + one re-login, no loop


def test_concurrent_expiry_causes_a_single_relogin():
    fake = FakePlatform()
    manager = SessionManager(fake.login, fake.logout, scrubber=Scrubber())
    manager.call(fake.call)
    fake.valid.clear()
    barrier = threading.Barrier(8)

    def work(_):
        session_id = manager.current()
        barrier.wait()  # all eight threads fail with the same stale id
        try:
            return fake.call(session_id)
        except InvalidSessionError:
            return fake.call(manager.renew(session_id))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    assert set(results) == {"session-0002-abcdef"}
    assert fake.logins == 2


def test_session_replaced_after_max_age():
    now = [0.0]
    fake = FakePlatform()
    manager = SessionManager(
        fake.login, fake.logout, scrubber=Scrubber(), max_age_seconds=900, clock=lambda: now[0]
    )
    manager.call(fake.call)
    now[0] = 899.0
    manager.call(fake.call)
    assert fake.logins == 1
    now[0] = 900.0
    assert manager.call(fake.call) == "session-0002-abcdef"


def test_session_ids_are_registered_for_scrubbing():
    fake = FakePlatform()
    scrubber = Scrubber(["the-password"])
    manager = SessionManager(fake.login, fake.logout, scrubber=scrubber)
    session_id = manager.current()
    text = scrubber(f"fault for {session_id} with the-password from jane@example.com")
    assert session_id not in text and "the-password" not in text and "jane@example.com" not in text
    assert "***ef" in text  # mask_secret keeps the last two characters only


def test_failed_logout_is_swallowed():
    fake = FakePlatform()

    def broken_logout(session_id):
        raise TransientPlatformError("network down")

    manager = SessionManager(fake.login, broken_logout, scrubber=Scrubber())
    manager.current()
    manager.close()  # no exception
    assert not manager.active

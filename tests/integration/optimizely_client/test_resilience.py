"""Failures on the wire: session expiry, HTTP 500, dropped connections, faults, overload, timeouts.

End states are checked on the emulator: the final list is exact and the number of addAll3 calls
it received says which batches were sent more than once.
"""

from __future__ import annotations

import logging

import pytest

from include.crm_sync.platforms.base import AddOutcome, PermanentPlatformError, TransientPlatformError
from include.crm_sync.platforms.optimizely.client import BatchResult, OptimizelyCampaignClient
from include.crm_sync.platforms.optimizely.errors import (
    ConnectionFailedError,
    InvalidCredentialsError,
    InvalidRequestError,
    ServerFaultError,
)
from include.crm_sync.platforms.optimizely.retry import RetryPolicy
from include.emulators.optimizely.runner import EmulatorServer
from tests.integration.optimizely_client.conftest import (
    ATTRIBUTES,
    FAST_RETRY,
    LIST_ID,
    emulator_calls,
    list_contents,
    recipient,
    recipients,
)

N = 4500  # five batches of 1000, the last one short
BATCHES = 5
EXPECTED_IDS = {recipient(i).recipient_id for i in range(N)}


def _upload(client: OptimizelyCampaignClient, on_batch=None):
    return client.add_all(LIST_ID, 0, ATTRIBUTES, recipients(N), on_batch=on_batch)


def test_session_expiring_mid_upload_relogs_in_without_losing_or_repeating_batches(
    optimizely_emulator, make_client
):
    client = make_client(max_parallel_calls=1)

    def expire_after_second_batch(batch: BatchResult) -> None:
        if batch.index == 1:
            optimizely_emulator.control.advance_clock(21 * 60)  # past the 20-minute session lifetime

    report = _upload(client, on_batch=expire_after_second_batch)

    assert report.accepted == N and report.counts == {AddOutcome.ADDED: N}
    assert set(list_contents(optimizely_emulator)) == EXPECTED_IDS
    # batch 3 was refused once for the expired session and repeated after the re-login
    assert emulator_calls(optimizely_emulator) == BATCHES + 1
    assert emulator_calls(optimizely_emulator, "Session.login") == 2
    assert client.logins == 2


def test_injected_session_expiry_with_parallel_batches(optimizely_emulator, make_client):
    client = make_client(max_parallel_calls=4)
    optimizely_emulator.control.add_fault("addAll3", "expire_session", nth=3)

    report = _upload(client)

    assert report.accepted == N and report.counts == {AddOutcome.ADDED: N}
    assert set(list_contents(optimizely_emulator)) == EXPECTED_IDS
    # the invalidated session may have been used by up to 4 calls in flight; each refused one is
    # repeated once, and no successful batch is ever sent again
    assert BATCHES + 1 <= emulator_calls(optimizely_emulator) <= BATCHES + 4
    assert emulator_calls(optimizely_emulator, "Session.login") == 2  # one re-login, not one per thread


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("kind", ["http500", "drop", "soap_fault"])
def test_transient_failure_on_nth_batch_is_retried_and_list_is_exact(
    optimizely_emulator, make_client, kind, when
):
    client = make_client(max_parallel_calls=2)
    optimizely_emulator.control.add_fault("addAll3", kind, nth=3, when=when)
    outcomes: dict[str, AddOutcome] = {}

    report = _upload(
        client, on_batch=lambda b: outcomes.update((r.recipient_id, r.outcome) for r in b.results)
    )

    assert set(list_contents(optimizely_emulator)) == EXPECTED_IDS
    assert emulator_calls(optimizely_emulator) == BATCHES + 1  # only the failed call was repeated
    assert report.accepted == N and len(outcomes) == N
    if when == "after":
        # the platform had applied the batch before failing: the repeat answers "already in list",
        # which counts as accepted
        assert report.counts == {AddOutcome.ADDED: N - 1000, AddOutcome.ALREADY_IN_LIST: 1000}
    else:
        assert report.counts == {AddOutcome.ADDED: N}


def test_retries_are_bounded_and_the_error_is_transient(optimizely_emulator, make_client):
    client = make_client(
        max_parallel_calls=1,
        retry_policy=RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.002, jitter=0.001),
    )
    optimizely_emulator.control.add_fault(
        "addAll3", "http500", nth=2, times=0
    )  # from the 2nd call on, always
    reported: list[BatchResult] = []

    with pytest.raises(TransientPlatformError) as info:
        _upload(client, on_batch=reported.append)

    assert "HTTP 500" in str(info.value)
    assert emulator_calls(optimizely_emulator) == 1 + 3  # batch 0, then batch 1 three times; nothing after
    assert [b.index for b in reported] == [0]
    assert set(list_contents(optimizely_emulator)) == {recipient(i).recipient_id for i in range(1000)}
    assert any("stopped" in note for note in getattr(info.value, "__notes__", []))


def test_server_fault_on_every_call_gives_up_with_a_server_fault(optimizely_emulator, make_client):
    client = make_client()
    optimizely_emulator.control.add_fault("getCount", "soap_fault", times=0, message="boom")
    with pytest.raises(ServerFaultError, match="RuntimeException: boom"):
        client.count(LIST_ID)
    assert emulator_calls(optimizely_emulator, "Recipient.getCount") == FAST_RETRY.max_attempts


def test_bad_credentials_fail_once_without_retries(optimizely_emulator, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(password="Wr0ng-Secret-Passw0rd")
    with pytest.raises(InvalidCredentialsError) as info:
        client.count(LIST_ID)
    assert isinstance(info.value, PermanentPlatformError)
    assert "Invalid credentials" in str(info.value)
    assert emulator_calls(optimizely_emulator, "Session.login") == 1
    assert emulator_calls(optimizely_emulator, "Recipient.getCount") == 0
    assert "Wr0ng-Secret-Passw0rd" not in caplog.text + str(info.value)


def test_unknown_list_fails_once_without_retries(optimizely_emulator, make_client):
    client = make_client()
    with pytest.raises(InvalidRequestError, match="Unknown recipient list: 4242") as info:
        client.add_all(4242, 0, ATTRIBUTES, recipients(10))
    assert isinstance(info.value, PermanentPlatformError)
    assert emulator_calls(optimizely_emulator) == 1


def test_unknown_optin_process_is_permanent(optimizely_emulator, make_client):
    with pytest.raises(InvalidRequestError, match="opt-in process"):
        make_client().add_batch(LIST_ID, 9999, ATTRIBUTES, [recipient(1)])
    assert emulator_calls(optimizely_emulator) == 1


def test_batch_too_large_for_the_server_is_permanent():
    # a platform with a lower limit than ours: refused once, never retried
    with EmulatorServer(port=0, max_batch_size=10) as emulator:
        client = OptimizelyCampaignClient(
            emulator.base_url, 1, "demo", "demo", batch_size=20, max_parallel_calls=1, retry_policy=FAST_RETRY
        )
        with client, pytest.raises(InvalidRequestError, match="Too many recipients: 20 > 10"):
            client.add_all(LIST_ID, 0, ATTRIBUTES, recipients(40))
        assert emulator_calls(emulator) == 1


def test_too_many_concurrent_requests_backs_off_and_completes():
    # the platform allows a fixed number of simultaneous requests per session; with 1 allowed and
    # 4 parallel batches most calls are refused at first and must be retried with backoff
    with EmulatorServer(port=0, max_concurrent_per_session=1) as emulator:
        policy = RetryPolicy(max_attempts=60, initial_wait=0.002, max_wait=0.02, jitter=0.01)
        with OptimizelyCampaignClient(
            emulator.base_url, 1, "demo", "demo", max_parallel_calls=4, batch_size=100, retry_policy=policy
        ) as client:
            report = client.add_all(LIST_ID, 0, ATTRIBUTES, recipients(1500))
        assert report.counts == {AddOutcome.ADDED: 1500}
        assert len(list_contents(emulator)) == 1500


def test_read_timeout_is_retried(optimizely_emulator, make_client):
    # The slow answer comes far too late to beat the client's timeout even on a stalled machine,
    # and the timeout is long enough for a normal answer on a loaded one: exactly one retry.
    client = make_client(timeout=3)
    optimizely_emulator.control.add_fault("getCount", "slow", delay_seconds=120)
    assert client.count(LIST_ID) == 0
    assert emulator_calls(optimizely_emulator, "Recipient.getCount") == 2


def test_connection_refused_is_transient_and_bounded():
    with EmulatorServer(port=0) as emulator:
        base_url = emulator.base_url
    client = OptimizelyCampaignClient(base_url, 1, "demo", "demo", retry_policy=FAST_RETRY, connect_timeout=1)
    with client, pytest.raises(ConnectionFailedError) as info:
        client.count(LIST_ID)
    assert isinstance(info.value, TransientPlatformError)


def test_logs_carry_no_secret_and_no_full_address_on_failure_paths(optimizely_emulator, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(password="demo", max_parallel_calls=2)
    optimizely_emulator.control.add_fault(
        "addAll3", "soap_fault", nth=2, message="bad address user1500@example.com"
    )
    optimizely_emulator.control.add_fault("addAll3", "expire_session", nth=4)
    optimizely_emulator.control.add_fault("addAll3", "drop", nth=5, when="after")
    _upload(client)
    assert set(list_contents(optimizely_emulator)) == EXPECTED_IDS

    session_ids = [s["id_prefix"] for s in optimizely_emulator.control.state()["sessions"]]
    text = caplog.text
    assert "retrying" in text  # the failures were logged ...
    assert "u***@e***.com" in text  # ... with the address from the fault masked
    assert "@example.com" not in text.replace("***@e***.com", "")
    assert "<in2>" not in text and "<item>" not in text  # no request bodies
    for prefix in session_ids:
        assert prefix not in text


def test_wrong_base_url_is_a_permanent_configuration_error(optimizely_emulator, make_client):
    client = make_client(base_url=f"{optimizely_emulator.base_url}/not-here")
    with pytest.raises(PermanentPlatformError, match="HTTP 404.*check the SOAP base URL"):
        client.count(LIST_ID)


def test_a_failing_recipient_source_still_reports_the_batches_in_flight(optimizely_emulator, make_client):
    client = make_client(max_parallel_calls=4)

    def source():
        yield from recipients(3000)
        raise ConnectionError("CRM cursor lost")

    reported: list[BatchResult] = []
    with pytest.raises(ConnectionError, match="CRM cursor lost"):
        client.add_all(LIST_ID, 0, ATTRIBUTES, source(), on_batch=reported.append)
    # the three full batches were sent before the source failed; all of them were reported
    assert sorted(b.index for b in reported) == [0, 1, 2]
    assert sum(len(b.results) for b in reported) == 3000 == len(list_contents(optimizely_emulator))

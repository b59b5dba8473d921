"""Fault injection through the control endpoint, each kind observed by a real client."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import zeep.exceptions

from include.emulators.optimizely import ControlError, EmulatorServer
from tests.integration.emulator import offline_zeep
from tests.integration.emulator.conftest import LIST_ID

IDS = [f"f{i}@example.com" for i in range(5)]


def _count(soap, sid):
    return soap.service("Recipient").getCount(sid, LIST_ID, 0)


def test_http500_on_the_nth_call_only(soap, sid, optimizely_emulator):
    optimizely_emulator.control.add_fault("getCount", "http500", nth=2)
    recipient = soap.service("Recipient")
    assert recipient.getCount(sid, LIST_ID, 0) == 0
    with pytest.raises(zeep.exceptions.TransportError) as excinfo:
        recipient.getCount(sid, LIST_ID, 0)
    assert excinfo.value.status_code == 500
    assert recipient.getCount(sid, LIST_ID, 0) == 0  # times=1 by default: only the 2nd call failed
    [rule] = optimizely_emulator.control.faults()
    assert (rule["seen"], rule["fired"]) == (3, 1)


def test_http500_is_a_plain_http_error_page(optimizely_emulator):
    optimizely_emulator.control.add_fault("login", "http500")
    response = requests.post(
        f"{optimizely_emulator.base_url}/soap11/RpcSession",
        data=b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><login>'
        b"<in0>1</in0><in1>demo</in1><in2>demo</in2></login></e:Body></e:Envelope>",
        timeout=10,
    )
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Fault" not in response.text
    assert optimizely_emulator.emulator.sessions.summary() == []


def test_soap_fault_before_applies_nothing(soap, sid, optimizely_emulator):
    optimizely_emulator.control.add_fault("addAll3", "soap_fault", message="Database unavailable")
    with pytest.raises(zeep.exceptions.Fault) as excinfo:
        soap.add_all3(sid, LIST_ID, 0, IDS)
    assert excinfo.value.message == "java.lang.RuntimeException: Database unavailable"
    assert _count(soap, sid) == 0


def test_soap_fault_after_applies_the_call(soap, sid, optimizely_emulator):
    optimizely_emulator.control.add_fault("addAll3", "soap_fault", when="after")
    with pytest.raises(zeep.exceptions.Fault):
        soap.add_all3(sid, LIST_ID, 0, IDS)
    assert _count(soap, sid) == len(IDS)


def test_drop_before_closes_the_connection_and_applies_nothing(soap, sid, optimizely_emulator):
    optimizely_emulator.control.add_fault("addAll3", "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        soap.add_all3(sid, LIST_ID, 0, IDS)
    assert _count(soap, sid) == 0
    assert soap.add_all3(sid, LIST_ID, 0, IDS) == [0] * len(IDS)  # the next call works


def test_drop_after_applies_the_batch_but_the_client_never_hears(soap, sid, optimizely_emulator):
    optimizely_emulator.control.add_fault("addAll3", "drop", when="after")
    with pytest.raises(requests.exceptions.ConnectionError):
        soap.add_all3(sid, LIST_ID, 0, IDS)
    assert _count(soap, sid) == len(IDS)
    # A naive retry now reports "already in the list" for the whole batch.
    assert soap.add_all3(sid, LIST_ID, 0, IDS) == [5] * len(IDS)


def test_slow_delays_the_response(soap, sid, optimizely_emulator):
    optimizely_emulator.control.add_fault("getCount", "slow", delay_seconds=0.3)
    started = time.monotonic()
    assert _count(soap, sid) == 0
    assert time.monotonic() - started >= 0.3


def test_slow_trips_a_client_timeout(optimizely_emulator):
    optimizely_emulator.control.add_fault("login", "slow", delay_seconds=1.0)
    impatient = offline_zeep.client(optimizely_emulator.base_url, "Session", timeout=0.2)
    with pytest.raises(requests.exceptions.Timeout):
        impatient.service.login(1, "demo", "demo")
    # The emulator still completes the login the client gave up on, a second later. Wait for it here:
    # left running, it created its session in whatever test came next (after that test's reset), and
    # test_session's "a failed login leaves no session" then saw it.
    deadline = time.monotonic() + 30
    while not optimizely_emulator.emulator.sessions.summary():
        assert time.monotonic() < deadline, "the delayed login never completed"
        time.sleep(0.02)


def test_expire_session_invalidates_the_callers_session(soap, sid, optimizely_emulator):
    optimizely_emulator.control.add_fault("addAll3", "expire_session")
    with pytest.raises(zeep.exceptions.Fault, match="Invalid sessionId"):
        soap.add_all3(sid, LIST_ID, 0, IDS)
    with pytest.raises(zeep.exceptions.Fault, match="Invalid sessionId"):
        _count(soap, sid)  # really gone, not just this one call
    fresh = soap.login()
    assert soap.add_all3(fresh, LIST_ID, 0, IDS) == [0] * len(IDS)


def test_rate_with_seed_is_reproducible(soap, sid, optimizely_emulator):
    def failing_calls() -> list[int]:
        optimizely_emulator.control.clear_faults()
        optimizely_emulator.control.add_fault("getCount", "soap_fault", rate=0.5, times=0, seed=7)
        failed = []
        for call in range(20):
            try:
                _count(soap, sid)
            except zeep.exceptions.Fault:
                failed.append(call)
        return failed

    first = failing_calls()
    assert 0 < len(first) < 20
    assert failing_calls() == first


def test_qualified_operation_names_pick_one_webservice(soap, sid, optimizely_emulator):
    optimizely_emulator.control.add_fault("RecipientList.getCount", "soap_fault", times=0)
    assert _count(soap, sid) == 0  # Recipient.getCount is not affected
    with pytest.raises(zeep.exceptions.Fault, match="Injected fault"):
        soap.service("RecipientList").getCount(sid, LIST_ID)


def test_invalid_rules_are_rejected(optimizely_emulator):
    for bad in (
        {"kind": "explode"},
        {"kind": "slow"},
        {"kind": "drop", "when": "later"},
        {"kind": "drop", "rate": 2},
    ):
        with pytest.raises(ControlError) as excinfo:
            optimizely_emulator.control.add_fault("addAll3", **bad)
        assert excinfo.value.status == 400
    assert optimizely_emulator.control.faults() == []


def test_more_than_max_concurrent_requests_on_one_session_fault():
    # A dedicated server with a small limit; "slow ... after" holds each call's slot -- here until the
    # test lets go (its delay replaced by a wait on an event), so the third call arrives while both
    # slots are held however slowly a loaded machine gets there.
    with EmulatorServer(port=0, max_concurrent_per_session=2) as server:
        let_go = threading.Event()
        server.emulator._inject = lambda injection: let_go.wait(60) and None  # instance attribute only
        sid = offline_zeep.client(server.base_url, "Session").service.login(1, "demo", "demo")
        server.control.add_fault("getCount", "slow", delay_seconds=1.0, when="after", times=2)
        clients = [offline_zeep.client(server.base_url, "Recipient") for _ in range(3)]
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda c=c: results.append(c.service.getCount(sid, LIST_ID, 0)))
            for c in clients[:2]
        ]
        for thread in threads:
            thread.start()
        # Wait (on a condition, not a guess; the bound only ends a broken test) until both hold slots.
        deadline = time.monotonic() + 60
        while (
            not server.emulator.sessions.summary() or server.emulator.sessions.summary()[0]["in_flight"] < 2
        ):
            assert time.monotonic() < deadline, "the two slow calls never got in flight"
            time.sleep(0.005)
        try:
            with pytest.raises(zeep.exceptions.Fault) as excinfo:
                clients[2].service.getCount(sid, LIST_ID, 0)
        finally:
            let_go.set()
        assert excinfo.value.message == (
            "com.optivo.webservice.TooManyConcurrentRequestsException: Too many concurrent requests"
        )
        for thread in threads:
            thread.join(60)
        assert results == [0, 0]
        assert clients[2].service.getCount(sid, LIST_ID, 0) == 0  # slots are released again

"""The control endpoint over HTTP: state, recipients, reset, feedback, validation, loopback-only."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from include.emulators.optimizely import ControlClient, ControlError, EmulatorServer
from include.emulators.optimizely.server import is_loopback
from tests.integration.emulator.conftest import LIST_ID


def test_state_summary_lists_sessions_faults_and_call_counters(soap, sid, optimizely_emulator):
    soap.add_all3(sid, LIST_ID, 0, ["a@example.com", "b@example.com"])
    optimizely_emulator.control.add_fault("getAll", "slow", delay_seconds=1)
    state = optimizely_emulator.control.state()
    assert [(lst["id"], lst["count"]) for lst in state["lists"]] == [(1001, 2), (1002, 0), (1003, 0)]
    assert [s["user"] for s in state["sessions"]] == ["demo"]
    assert sid not in str(state)  # never hands out usable session ids
    assert {"entry": "*@blocked.example", "reason": "Domain blocked by compliance"} in state["blocklist"]
    assert {u["recipient_id"] for u in state["unsubscribes"]} >= {"jan.unsub@example.nl"}
    assert [r["kind"] for r in state["fault_rules"]] == ["slow"]
    assert state["calls"] == {"Recipient.addAll3": 1, "Session.login": 1}


def test_recipients_endpoint_shows_ids_emails_attributes(soap, sid, optimizely_emulator):
    soap.add_all3(
        sid,
        LIST_ID,
        0,
        ["crm-1", "crm-2"],
        ["one@example.com", "two@example.com"],
        ["city"],
        [["Gent"], ["Wien"]],
    )
    listed = optimizely_emulator.control.recipients(LIST_ID)
    assert listed["count"] == 2
    assert [(r["recipient_id"], r["email"], r["attributes"]) for r in listed["recipients"]] == [
        ("crm-1", "one@example.com", {"city": "Gent"}),
        ("crm-2", "two@example.com", {"city": "Wien"}),
    ]
    assert [
        r["recipient_id"]
        for r in optimizely_emulator.control.recipients(LIST_ID, offset=1, limit=5)["recipients"]
    ] == ["crm-2"]
    with pytest.raises(ControlError) as excinfo:
        optimizely_emulator.control.recipients(4242)
    assert excinfo.value.status == 404


def test_reset_returns_to_the_seed(soap, sid, optimizely_emulator):
    soap.add_all3(sid, LIST_ID, 0, ["a@example.com"])
    soap.service("Unsubscribe").remove(sid, "jan.unsub@example.nl")
    optimizely_emulator.control.advance_clock(5000)
    optimizely_emulator.control.reset()
    state = optimizely_emulator.control.state()
    assert state["lists"][0]["count"] == 0
    assert state["sessions"] == [] and state["calls"] == {} and state["fault_rules"] == []
    assert "jan.unsub@example.nl" in {u["recipient_id"] for u in state["unsubscribes"]}
    assert state["clock"]["offset_seconds"] == 0


def test_feedback_endpoint_validates_and_records(optimizely_emulator):
    control = optimizely_emulator.control
    created = control.add_feedback(
        "bounce", "x@example.com", category="softbounce", list_id=LIST_ID, occurred_at="-1h"
    )
    assert created["created"] == 1 and created["events"][0]["category"] == "softbounce"
    for bad in ({"kind": "bounce", "category": "weird"}, {"kind": "explode"}, {"kind": "open"}):
        with pytest.raises(ControlError) as excinfo:
            control._call("POST", "/feedback", {"recipient_id": "" if bad["kind"] == "open" else "r", **bad})
        assert excinfo.value.status == 400
    assert control.events("response")["count"] == 6  # 5 seed responses + this one


def test_bad_requests_are_4xx(optimizely_emulator):
    base = optimizely_emulator.base_url
    request = urllib.request.Request(f"{base}/_control/faults", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5)
    assert excinfo.value.code == 400
    with pytest.raises(ControlError) as excinfo:
        optimizely_emulator.control._call("GET", "/nope")
    assert excinfo.value.status == 404
    with pytest.raises(ControlError) as excinfo:
        optimizely_emulator.control.send_mailing(4242)
    assert excinfo.value.status == 404


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.1.2.3") and not is_loopback("192.168.0.10") and not is_loopback("garbage")


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent for a UDP connect
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if is_loopback(address) else address


@pytest.mark.parametrize("allow_remote_control, expected", [(False, 403), (True, 200)])
def test_control_endpoint_refuses_remote_clients_unless_allowed(allow_remote_control, expected):
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with EmulatorServer(host="0.0.0.0", port=0, allow_remote_control=allow_remote_control) as server:
        remote = f"http://{address}:{server.port}"
        assert urllib.request.urlopen(f"{remote}/soap11/RpcSession?wsdl", timeout=5).status == 200
        try:
            status = urllib.request.urlopen(f"{remote}/_control/state", timeout=5).status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == expected
        # Loopback is always allowed.
        assert ControlClient(f"http://127.0.0.1:{server.port}").state()["lists"]

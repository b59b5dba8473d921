"""The control endpoint: state shape, reset back to the seed, in-use, opt-outs and bounces made
"in Spotler", call counters, fault injection, and loopback-only access."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest
import requests

from include.emulators.kit import is_loopback
from include.emulators.spotler import ControlError, SpotlerControlClient, SpotlerEmulatorServer
from tests.integration.emulator_spotler.conftest import KEY, SECRET, Api, contact

SEED = """
properties:
  - {name: email, type: email}
contacts:
  - {externalId: s1, properties: {email: s1@example.com}}
  - {externalId: s2, properties: {email: s2@example.com}, opted_out: true}
audiences:
  - {externalId: seeded, name: Seeded, members: [s1, s2], in_use: true, in_use_reason: automailer}
bounces:
  - {externalId: s1, type: SOFTBOUNCE, date: "-1d"}
"""


def test_state_and_reset_back_to_the_seed(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    with SpotlerEmulatorServer(consumer_key=KEY, consumer_secret=SECRET, seed_path=seed) as server:
        api = Api(server.api_url)
        control = server.control
        state = control.state()
        assert state["audiences"][0]["externalId"] == "seeded"
        assert state["audiences"][0]["members"] == ["s1", "s2"]
        assert state["audiences"][0]["in_use"] is True
        assert [(c["externalId"], c["opted_out"]) for c in state["contacts"]] == [("s1", False), ("s2", True)]
        assert api.delete("/audience/seeded").status_code == 417
        assert api.delete("/audience/seeded/contact").status_code == 204
        api.create_audience("new")
        control.reset()
        state = control.state()
        assert [a["externalId"] for a in state["audiences"]] == ["seeded"]
        assert state["audiences"][0]["members"] == ["s1", "s2"]
        assert state["calls"] == {}
        assert "members" not in control.state(members=False, contacts=False)["audiences"][0]


def test_a_bad_seed_names_the_file_and_field(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("properties: [{name: email, type: email}]\naudiences: [{name: X}]\n")
    with pytest.raises(ValueError, match=r"seed.yaml: audiences\[0\].externalId is required"):
        SpotlerEmulatorServer(seed_path=seed)


def test_injected_fault_after_the_call_applies_it_then_fails(spotler, api):
    spotler.control.add_contacts([contact("c1")])
    api.create_audience("a1")
    spotler.control.add_fault("audience.contacts.*", "http500", when="after")
    response = api.post("/audience/a1/contact", {"contacts": ["c1"]})
    assert response.status_code == 500
    assert spotler.control.members("a1") == ["c1"]  # applied before the failure
    spotler.control.add_fault("audience.contacts.add", "drop", nth=2)
    assert api.post("/audience/a1/contact", {"contacts": ["c1"]}).status_code == 204
    with pytest.raises(requests.ConnectionError):
        api.post("/audience/a1/contact", {"contacts": ["c1"]})
    assert [r["fired"] for r in spotler.control.faults()] == [1, 1]


def test_unknown_control_requests(spotler):
    with pytest.raises(ControlError) as excinfo:
        spotler.control.set_in_use("nope")
    assert excinfo.value.status == 404
    with pytest.raises(ControlError) as excinfo:
        spotler.control.opt_out("nope")
    assert excinfo.value.status == 404
    with pytest.raises(ControlError) as excinfo:
        spotler.control.add_bounce("nope")
    assert excinfo.value.status == 404
    with pytest.raises(ControlError) as excinfo:
        spotler.control.add_fault("*", "explode")
    assert excinfo.value.status == 400


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
    with SpotlerEmulatorServer(
        host="0.0.0.0", consumer_key=KEY, consumer_secret=SECRET, allow_remote_control=allow_remote_control
    ) as server:
        remote = f"http://{address}:{server.port}"
        assert Api(f"{remote}/integrationservice-1.1.0").get("/contact/properties/list").status_code == 200
        try:
            status = urllib.request.urlopen(f"{remote}/_control/state", timeout=5).status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == expected
        assert SpotlerControlClient(f"http://127.0.0.1:{server.port}").state()["audiences"] == []

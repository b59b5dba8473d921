"""The wire format with hand-written XML: Axis leniency, hardened parsing, faults, WSDLs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from lxml import etree

from include.emulators.optimizely.services import ALL as ALL_SERVICES
from tests.integration.emulator import offline_zeep

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
RECIPIENT_NS = "urn:api.broadmail.de/soap11/RpcRecipient"


def _envelope(body: str, extra_ns: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{ENV}" {extra_ns}>'
        f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def _post(server, service: str, payload: bytes, **headers: str) -> requests.Response:
    return requests.post(
        f"{server.base_url}/soap11/Rpc{service}",
        data=payload,
        headers={"Content-Type": "text/xml; charset=utf-8", **headers},
        timeout=10,
    )


def _return_text(response: requests.Response) -> list[str]:
    root = etree.fromstring(response.content)
    result = root.find(f"{{{ENV}}}Body")[0][0]
    return [item.text or "" for item in result] if len(result) else [result.text or ""]


def _faultstring(response: requests.Response) -> str:
    assert response.status_code == 500
    return etree.fromstring(response.content).findtext(f".//{{{ENV}}}Fault/faultstring")


def _login_raw(server) -> str:
    response = _post(
        server, "Session", _envelope("<login><in0>1</in0><in1>demo</in1><in2>demo</in2></login>")
    )
    assert response.status_code == 200
    return _return_text(response)[0]


def test_unqualified_operation_without_xsi_types_or_array_types_is_accepted(optimizely_emulator):
    sid = _login_raw(optimizely_emulator)
    body = (
        f"<addAll3><in0>{sid}</in0><in1>1001</in1><in2>0</in2>"
        "<in3><item>a@example.com</item><item>b@example.com</item></in3>"
        "<in4><item>a@example.com</item><item>b@example.com</item></in4>"
        "<in5><item>city</item></in5>"
        "<in6><item><item>Gent</item></item><item><item>Wien</item></item></in6></addAll3>"
    )
    response = _post(optimizely_emulator, "Recipient", _envelope(body))  # and no SOAPAction header
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    assert _return_text(response) == ["0", "0"]
    assert list(optimizely_emulator.state.lists[1001].recipients) == ["a@example.com", "b@example.com"]


_ARRAY1 = 'xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[1]"'
_ARRAY2 = 'xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[2]"'


def _typed(value: str) -> str:
    return f'<item xsi:type="xsd:string">{value}</item>'


def test_axis_style_typed_request_with_named_params_and_multirefs_is_accepted(optimizely_emulator):
    sid = _login_raw(optimizely_emulator)
    ns = (
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"'
    )
    # Documented names in a shuffled order, qualified operation, xsi:type and arrayType everywhere,
    # and the 2-D array sent as Axis multi-refs.
    body = (
        f'<ns1:addAll3 xmlns:ns1="{RECIPIENT_NS}" soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
        '<attributeValues href="#id0"/>'
        '<recipientListId xsi:type="xsd:long">1001</recipientListId>'
        f'<sessionId xsi:type="xsd:string">{sid}</sessionId>'
        '<optinProcessId xsi:type="xsd:long">0</optinProcessId>'
        f"<recipientIds {_ARRAY1}>{_typed('crm-7')}</recipientIds>"
        f"<emailAddresses {_ARRAY1}>{_typed('seven@example.com')}</emailAddresses>"
        f"<attributeNames {_ARRAY2}>{_typed('city')}{_typed('language')}</attributeNames>"
        "</ns1:addAll3>"
        '<multiRef id="id0" soapenc:root="0" xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[][1]">'
        '<item href="#id1"/></multiRef>'
        '<multiRef id="id1" soapenc:root="0" xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[2]">'
        '<item xsi:type="xsd:string">Köln</item><item xsi:nil="true"/></multiRef>'
    )
    response = _post(optimizely_emulator, "Recipient", _envelope(body, ns), SOAPAction='"addAll3"')
    assert response.status_code == 200, response.text
    assert _return_text(response) == ["0"]
    described = optimizely_emulator.state.lists[1001].describe("crm-7")
    assert (described["email"], described["attributes"]) == (
        "seven@example.com",
        {"city": "Köln"},
    )  # nil -> ""


def test_dtd_with_entities_is_refused_and_nothing_happens(optimizely_emulator):
    payload = (
        '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        f'<soapenv:Envelope xmlns:soapenv="{ENV}"><soapenv:Body>'
        "<login><in0>1</in0><in1>&b;</in1><in2>demo</in2></login></soapenv:Body></soapenv:Envelope>"
    ).encode()
    response = _post(optimizely_emulator, "Session", payload)
    assert "DOCTYPE is not allowed" in _faultstring(response)
    assert optimizely_emulator.emulator.sessions.summary() == []


def test_external_entity_is_never_resolved(optimizely_emulator, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    payload = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        f'<soapenv:Envelope xmlns:soapenv="{ENV}"><soapenv:Body>'
        "<login><in0>1</in0><in1>&xxe;</in1><in2>demo</in2></login></soapenv:Body></soapenv:Envelope>"
    ).encode()
    response = _post(optimizely_emulator, "Session", payload)
    assert "DOCTYPE is not allowed" in _faultstring(response)
    assert "TOP-SECRET" not in response.text


@pytest.mark.parametrize(
    "payload, fragment",
    [
        (b"", "empty request"),
        (b"<not-xml", "Could not parse"),
        (b"<Envelope/>", "Not a SOAP 1.1 envelope"),
        (_envelope("<fly><in0>x</in0></fly>"), "No such operation 'fly'"),
        (_envelope("<login><in0>one</in0><in1>demo</in1><in2>demo</in2></login>"), 'For input string: "one"'),
        (_envelope("<login><in0>1</in0><in1>demo</in1></login>"), "Missing parameter in2 (password)"),
    ],
)
def test_malformed_requests_get_axis_faults(optimizely_emulator, payload, fragment):
    assert fragment in _faultstring(_post(optimizely_emulator, "Session", payload))


def test_fault_shape_is_axis_like(optimizely_emulator):
    response = _post(
        optimizely_emulator,
        "Recipient",
        _envelope("<getCount><in0>nope</in0><in1>1001</in1><in2>0</in2></getCount>"),
    )
    assert response.status_code == 500
    fault = etree.fromstring(response.content).find(f".//{{{ENV}}}Fault")
    assert fault.findtext("faultcode") == "soapenv:Server.userException"
    assert (
        fault.findtext("faultstring")
        == "com.optivo.webservice.InvalidWebserviceSessionException: Invalid sessionId"
    )
    assert fault.findtext(".//{http://xml.apache.org/axis/}exceptionName") == (
        "com.optivo.webservice.InvalidWebserviceSessionException"
    )


def test_response_encoding_is_rpc_encoded_with_array_types(optimizely_emulator):
    sid = _login_raw(optimizely_emulator)
    body = f"<getAllIds><in0>{sid}</in0></getAllIds>"
    response = _post(optimizely_emulator, "RecipientList", _envelope(body))
    root = etree.fromstring(response.content)
    operation = root.find(f"{{{ENV}}}Body")[0]
    assert operation.tag == "{urn:api.broadmail.de/soap11/RpcRecipientList}getAllIdsResponse"
    result = operation[0]
    assert result.tag == "getAllIdsReturn"
    assert result.get("{http://schemas.xmlsoap.org/soap/encoding/}arrayType") == "xsd:long[3]"
    assert [(i.tag, i.text) for i in result] == [("item", "1001"), ("item", "1002"), ("item", "1003")]


@pytest.mark.parametrize("service", [s.name for s in ALL_SERVICES])
def test_every_wsdl_loads_in_zeep_with_all_operations(optimizely_emulator, service):
    url = f"{optimizely_emulator.base_url}/soap11/Rpc{service}"
    wsdl = requests.get(url + "?wsdl", timeout=10)
    assert wsdl.status_code == 200
    tree = etree.fromstring(wsdl.content)
    wsdl_ns = "http://schemas.xmlsoap.org/wsdl/"
    assert tree.get("targetNamespace") == f"urn:api.broadmail.de/soap11/Rpc{service}"
    location = tree.find(f".//{{{wsdl_ns}}}port/{{http://schemas.xmlsoap.org/wsdl/soap/}}address").get(
        "location"
    )
    assert location == url
    client = offline_zeep.client(optimizely_emulator.base_url, service)
    declared = {s.name: s for s in ALL_SERVICES}[service]
    binding = next(iter(client.wsdl.bindings.values()))
    assert set(binding._operations) == set(declared.operations)
    for name, operation in declared.operations.items():
        parts = [p.get("name") for p in tree.find(f"{{{wsdl_ns}}}message[@name='{name}Request']")]
        assert parts == [f"in{i}" for i in range(len(operation.params))]


def test_wsdl_documents_the_export_column_orders(optimizely_emulator):
    text = requests.get(f"{optimizely_emulator.base_url}/soap11/RpcClosedLoop?wsdl", timeout=10).text
    assert (
        "Columns (by position): recipient_id, email, mailing_id, recipient_list_id, category, occurred_at"
        in text
    )
    assert re.search(r"getUnsubscribes\(.*recipient_id, email, recipient_list_id, unsubscribed_at", text)


def test_plain_get_of_a_service_and_unknown_paths(optimizely_emulator):
    assert (
        "AXIS service" in requests.get(f"{optimizely_emulator.base_url}/soap11/RpcSession", timeout=10).text
    )
    assert requests.get(f"{optimizely_emulator.base_url}/soap11/RpcNope?wsdl", timeout=10).status_code == 404
    index = requests.get(f"{optimizely_emulator.base_url}/", timeout=10).json()
    assert index["services"]["RpcRecipient"].endswith("/soap11/RpcRecipient?wsdl")


def test_keep_alive_connection_serves_many_calls(optimizely_emulator):
    with requests.Session() as http:
        for _ in range(20):
            response = http.post(
                f"{optimizely_emulator.base_url}/soap11/RpcSession",
                data=_envelope("<login><in0>1</in0><in1>demo</in1><in2>demo</in2></login>"),
                timeout=10,
            )
            assert response.status_code == 200
        assert response.raw.version == 11
    assert optimizely_emulator.control.state()["calls"]["Session.login"] == 20


def test_rows_wrapped_in_a_string_item_are_refused_like_axis(optimizely_emulator):
    # What zeep sends for String[][] when given "ready item elements" with the WSDL type.
    sid = _login_raw(optimizely_emulator)
    body = (
        f"<addAll3><in0>{sid}</in0><in1>1001</in1><in2>0</in2>"
        "<in3><item>a@example.com</item></in3><in4><item>a@example.com</item></in4>"
        "<in5><item>city</item></in5>"
        '<in6><item xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">'
        "<item><item>Gent</item></item></item></in6></addAll3>"
    )
    fault = _faultstring(_post(optimizely_emulator, "Recipient", _envelope(body)))
    assert (
        fault
        == "org.xml.sax.SAXException: SimpleDeserializer encountered a child element, which is NOT expected"
    )
    assert optimizely_emulator.state.lists[1001].recipients == {}


def test_readme_documents_every_operation():
    readme = (Path(__file__).resolve().parents[3] / "include/emulators/optimizely/README.md").read_text()
    for service in ALL_SERVICES:
        assert f"Rpc{service.name}" in readme
        for name in service.operations:
            assert re.search(rf"\b{name}\b", readme), f"{service.name}.{name} missing from the README"

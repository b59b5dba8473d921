"""String[] / String[][] request values: the XML zeep writes with ``soap_arrays`` is SOAP-encoded
correctly (namespaces resolvable, arrayType dimensions right, values exact)."""

from __future__ import annotations

import io

import pytest
import requests
import zeep
from lxml import etree

from include.crm_sync.platforms.optimizely.soap_arrays import string_array, string_matrix
from include.crm_sync.platforms.optimizely.transport import OfflineSchemaTransport, hardened_settings
from tests.unit.optimizely_client.axis_wsdl import RECIPIENT_WSDL

XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"


@pytest.fixture(scope="module")
def client():
    transport = OfflineSchemaTransport(
        session=requests.Session(), allowed_prefix="https://api.example.invalid/soap11", timeout=5
    )
    return zeep.Client(io.BytesIO(RECIPIENT_WSDL), transport=transport, settings=hardened_settings())


def _qname(element: etree._Element, attribute: str) -> tuple[str, str]:
    """Resolve a QName-valued attribute (``prefix:local[dims]``) -> (namespace, local+dims)."""
    prefix, _, local = element.get(attribute).partition(":")
    return element.nsmap[prefix], local


def _message(client, ids, emails, names, rows) -> etree._Element:
    envelope = client.create_message(
        client.service,
        "addAll3",
        "sid",
        1001,
        0,
        string_array(ids),
        string_array(emails),
        string_array(names),
        string_matrix(rows),
    )
    # round-trip through bytes so we test what goes on the wire
    return etree.fromstring(etree.tostring(envelope, encoding="utf-8"))


def _parts(envelope):
    operation = envelope.find(".//{urn:api.broadmail.de/soap11/RpcRecipient}addAll3")
    return {child.tag: child for child in operation}


def test_one_and_two_dimensional_arrays_are_soap_encoded(client):
    rows = [["Ä ö ü ß", "中文", "🎉"], ["& < > ]]> \" '", "", "x\r\ny\tz"]]
    envelope = _message(
        client, ["r1", "r2"], ["a@example.com", "b@example.com"], ["first-name", "city", "x"], rows
    )
    parts = _parts(envelope)

    ids = parts["in3"]
    assert _qname(ids, f"{{{XSI}}}type") == (ENC, "Array")
    assert _qname(ids, f"{{{ENC}}}arrayType") == (XSD, "string[2]")
    assert [item.tag for item in ids] == ["item", "item"]
    assert [item.text for item in ids] == ["r1", "r2"]

    matrix = parts["in6"]
    assert _qname(matrix, f"{{{XSI}}}type") == (ENC, "Array")
    assert _qname(matrix, f"{{{ENC}}}arrayType") == (XSD, "string[][2]")
    assert len(matrix) == 2
    for row_element, row in zip(matrix, rows, strict=True):
        assert row_element.tag == "item"
        assert _qname(row_element, f"{{{XSI}}}type") == (ENC, "Array")
        assert _qname(row_element, f"{{{ENC}}}arrayType") == (XSD, f"string[{len(row)}]")
        assert [(cell.text or "") for cell in row_element] == row


def test_empty_arrays_and_nil_members(client):
    envelope = _message(client, [], [], [], [])
    parts = _parts(envelope)
    assert len(parts["in3"]) == 0 and _qname(parts["in3"], f"{{{ENC}}}arrayType") == (XSD, "string[0]")
    assert len(parts["in6"]) == 0 and _qname(parts["in6"], f"{{{ENC}}}arrayType") == (XSD, "string[][0]")

    envelope = _message(client, ["r1"], [None], [], [])
    assert parts is not None
    item = _parts(envelope)["in4"][0]
    assert item.get(f"{{{XSI}}}nil") == "true" and item.text is None


def test_large_batch_is_serialised_completely(client):
    n, width = 1000, 10
    rows = [[f"v{i}-{j}" for j in range(width)] for i in range(n)]
    envelope = _message(
        client,
        [str(i) for i in range(n)],
        [f"u{i}@example.com" for i in range(n)],
        [f"a{j}" for j in range(width)],
        rows,
    )
    matrix = _parts(envelope)["in6"]
    assert len(matrix) == n
    assert [[c.text for c in row] for row in matrix] == rows


def test_zeep_stock_two_dimensional_array_is_still_broken(client):
    """Canary: why soap_arrays exists. If zeep ever serialises nested lists for String[][]
    correctly, the custom type could go (see the soap_arrays module docstring)."""
    matrix_type = client.get_type("ns0:ArrayOfArrayOf_xsd_string")
    string_type = client.get_type("ns0:ArrayOf_xsd_string")
    with pytest.raises((TypeError, zeep.exceptions.ValidationError)):
        client.create_message(
            client.service,
            "addAll3",
            "sid",
            1,
            0,
            string_type(["r1"]),
            string_type(["a@example.com"]),
            string_type(["n"]),
            matrix_type([string_type(["v"])]),
        )

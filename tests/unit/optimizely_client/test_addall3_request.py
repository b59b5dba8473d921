"""The hand-written addAll3 envelope says exactly what the zeep-built one says.

Both are parsed with lxml and reduced to a canonical tree: element names, attributes and texts,
with QName-valued attributes (``xsi:type``, ``soapenc:arrayType``) resolved to their namespace,
so the comparison does not depend on prefixes or where namespaces are declared. The zeep side
is the client's former path (``soap_arrays`` values through ``client.create_message``), on the
Axis-style Recipient WSDL.
"""

from __future__ import annotations

import io

import pytest
import requests
import zeep
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from include.crm_sync.platforms.base import Recipient
from include.crm_sync.platforms.optimizely.addall3_request import AddAll3Envelope, encode_batch
from include.crm_sync.platforms.optimizely.errors import InvalidRecipientDataError
from include.crm_sync.platforms.optimizely.soap_arrays import string_array, string_matrix
from include.crm_sync.platforms.optimizely.transport import OfflineSchemaTransport, hardened_settings
from include.crm_sync.platforms.recipient_batch import RecipientBatch
from tests.unit.optimizely_client.axis_wsdl import RECIPIENT_WSDL

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"
QNAME_ATTRIBUTES = {f"{{{XSI}}}type", f"{{{ENC}}}arrayType"}
SESSION = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

TRICKY = [
    "Ä ö ü ß é",
    "中文",
    "🎉 \U00010000 \U0010fffd",
    "& < > ]]> \" ' &amp; &#13;",
    "",
    " leading and trailing ",
    "x\r\ny\tz\r",
    "\n",
    "a\u0085b\u2028c\x7f\x9f",
    "\ue000\ufffd",
    "<![CDATA[x]]>",
    "<item>y</item>",
]


@pytest.fixture(scope="module")
def zeep_client():
    transport = OfflineSchemaTransport(
        session=requests.Session(), allowed_prefix="https://api.example.invalid/soap11", timeout=5
    )
    return zeep.Client(io.BytesIO(RECIPIENT_WSDL), transport=transport, settings=hardened_settings())


@pytest.fixture(scope="module")
def template(zeep_client) -> AddAll3Envelope:
    binding = next(iter(zeep_client.wsdl.bindings.values()))
    return AddAll3Envelope.from_operation(binding.get("addAll3"))


def _canonical(element: etree._Element) -> tuple:
    attributes = []
    for name, value in element.attrib.items():
        if name in QNAME_ATTRIBUTES:
            prefix, _, local = value.rpartition(":")
            value = f"{{{element.nsmap.get(prefix or None)}}}{local}"
        attributes.append((name, value))
    return (
        element.tag,
        tuple(sorted(attributes)),
        element.text or "",
        tuple(_canonical(child) for child in element),
    )


def _parse(body: bytes) -> etree._Element:
    return etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, remove_blank_text=False))


def _zeep_body(zeep_client, recipients, names, list_id=1001, optin=2001) -> bytes:
    rows = [["" if v is None else v for v in r.attributes] for r in recipients] if names else []
    envelope = zeep_client.create_message(
        zeep_client.service,
        "addAll3",
        SESSION,
        list_id,
        optin,
        string_array([r.recipient_id for r in recipients]),
        string_array([r.email for r in recipients]),
        string_array(list(names)),
        string_matrix(rows),
    )
    return etree.tostring(envelope, encoding="utf-8", xml_declaration=True)


def _assert_same(zeep_client, template, recipients, names) -> None:
    ours = template.render(SESSION, 1001, 2001, encode_batch(recipients, list(names)))
    theirs = _zeep_body(zeep_client, recipients, names)
    assert _canonical(_parse(ours)) == _canonical(_parse(theirs))


def test_template_comes_from_the_wsdl(template):
    assert template.namespace == "urn:api.broadmail.de/soap11/RpcRecipient"
    assert (template.operation, template.parts) == (
        "addAll3",
        ("in0", "in1", "in2", "in3", "in4", "in5", "in6"),
    )
    assert template.headers == {"SOAPAction": '""', "Content-Type": "text/xml; charset=utf-8"}


def test_tricky_values_are_written_as_zeep_writes_them(zeep_client, template):
    names = [f"attr-{j}" for j in range(len(TRICKY))]
    recipients = [
        Recipient(f"R{i}{TRICKY[i]}", f"{TRICKY[i]}@example.com", tuple(TRICKY[i:] + TRICKY[:i]))
        for i in range(len(TRICKY))
    ]
    _assert_same(zeep_client, template, recipients, names)
    # and an XML parser reads back exactly the values
    parsed = _parse(template.render(SESSION, 1001, 2001, encode_batch(recipients, names)))
    matrix = parsed.find(".//in6")
    assert [[cell.text or "" for cell in row] for row in matrix] == [list(r.attributes) for r in recipients]
    assert [item.text or "" for item in parsed.find(".//in4")] == [r.email for r in recipients]


def test_none_attribute_values_are_sent_as_empty_strings(zeep_client, template):
    recipients = [
        Recipient("C1", "a@example.com", (None, "x")),
        Recipient("C2", "b@example.com", ("y", None)),
    ]
    _assert_same(zeep_client, template, recipients, ["a", "b"])


def test_full_batch_and_column_batches(zeep_client, template):
    names = [f"a{j}" for j in range(10)]
    recipients = [
        Recipient(f"C{i:07d}", f"user{i}@example.com", tuple(f"v{i}-{j} & <{j}>" for j in range(10)))
        for i in range(1000)
    ]
    _assert_same(zeep_client, template, recipients, names)
    columns = RecipientBatch.of(recipients)
    assert template.render(SESSION, 1, 2, encode_batch(columns, names)) == template.render(
        SESSION, 1, 2, encode_batch(recipients, names)
    )


@pytest.mark.parametrize(
    ("recipients", "names"),
    [
        ([], []),
        ([Recipient("C1", "a@example.com")], []),  # no attributes: String[][0]
        ([Recipient("C1", "a@example.com", ("only",))], ["one"]),
    ],
)
def test_edge_shapes(zeep_client, template, recipients, names):
    _assert_same(zeep_client, template, recipients, names)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1), st.text(), st.text(), st.text()),
        min_size=1,
        max_size=8,
    )
)
def test_any_legal_values(zeep_client, template, rows):
    recipients = [Recipient(rid, email, (a, b)) for rid, email, a, b in rows]
    try:
        encoded = encode_batch(recipients, ["a", "b"])
    except InvalidRecipientDataError:
        return  # illegal characters: covered by test_validation_and_columns
    ours = template.render(SESSION, 1001, 2001, encoded)
    assert _canonical(_parse(ours)) == _canonical(_parse(_zeep_body(zeep_client, recipients, ["a", "b"])))


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\ufffe", "\uffff", "\ud800"])
@pytest.mark.parametrize("field", ["recipient_id", "email", "attribute"])
def test_control_characters_raise_the_clear_error(bad, field):
    good = Recipient("C1", "jane.doe@example.com", ("ok", "ok"))
    values = {"recipient_id": "C2", "email": "john.doe@example.com", "attribute": "fine"}
    values[field] = f"x{bad}y"
    bad_recipient = Recipient(values["recipient_id"], values["email"], ("ok", values["attribute"]))
    with pytest.raises(InvalidRecipientDataError) as info:
        encode_batch([good, bad_recipient], ["first-name", "city"], 500)
    error = info.value
    expected_field = {"recipient_id": "recipient_id", "email": "email", "attribute": "attribute 'city'"}[
        field
    ]
    assert (error.recipient_id, error.field, error.position) == (values["recipient_id"], expected_field, 501)
    assert f"U+{ord(bad):04X}" in str(error) and "Nothing of this batch was sent" in str(error)
    assert "john.doe@example.com" not in str(error)


def test_a_batch_handed_over_joined_is_written_the_same(zeep_client, template):
    rows = [["a & b", "", "<c>"], ["", "d\re", "Ä 中文"], ["x", "y", ""]]
    recipients = [Recipient(f"C{i}", f"p{i}@example.com", tuple(row)) for i, row in enumerate(rows)]
    joined = RecipientBatch.from_joined(
        [r.recipient_id for r in recipients],
        [r.email for r in recipients],
        "\x01".join("\x00".join(row) for row in rows),
        3,
    )
    assert list(joined) == recipients
    names = ["n1", "n2", "n3"]
    assert template.render(SESSION, 1, 2, encode_batch(joined, names)) == template.render(
        SESSION, 1, 2, encode_batch(recipients, names)
    )
    _assert_same(zeep_client, template, joined, names)
    bad = RecipientBatch.from_joined(["C1"], ["p@example.com"], "ok\x00b\x0bad\x00ok", 3)
    with pytest.raises(InvalidRecipientDataError) as info:
        encode_batch(bad, names, 7)
    assert (info.value.field, info.value.position) == ("attribute 'n2'", 7)
    with pytest.raises(InvalidRecipientDataError, match="3 attribute values for 2 attribute names"):
        encode_batch(joined, names[:2])

"""addAll3's answer read without building the tree: the codes the general decoder reads, or no answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from include.crm_sync.platforms.optimizely import rpc_response
from include.crm_sync.platforms.optimizely.rpc_response import decode_response
from include.emulators.optimizely.soap import encode_response

NS = "urn:api.broadmail.de/soap11/RpcRecipient"


def general(body: bytes):
    """What the tree decoder makes of ``body`` (the fast path switched off)."""
    envelope = rpc_response.parse_envelope(body)
    wrapper = envelope.find(rpc_response._BODY)[0]
    return rpc_response.decode_value(wrapper[0])


@given(st.lists(st.integers(min_value=0, max_value=10**6), max_size=1000))
def test_an_axis_int_array_is_read_as_the_tree_decoder_reads_it(codes):
    body = encode_response(NS, "addAll3", "int[]", codes)
    assert rpc_response._axis_int_array(body) == general(body) == [str(c) for c in codes]
    assert decode_response(200, "OK", body, operation="Recipient.addAll3", scrub=str) == general(body)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda b: b.replace(b'<item xsi:type="xsd:int">5<', b'<item xsi:nil="true"/><', 1), id="nil"
        ),
        pytest.param(lambda b: b.replace(b">5<", b">-5<", 1), id="negative"),
        pytest.param(lambda b: b.replace(b">5<", b"> 5 <", 1), id="spaces"),
        pytest.param(lambda b: b.replace(b">5<", b">&#53;<", 1), id="reference"),
        pytest.param(lambda b: b.replace(b"int[3]", b"int[4]"), id="size-disagrees"),
        pytest.param(
            lambda b: b.replace(b'xmlns:xsd="http://www.w3.org/2001/XMLSchema"', b'xmlns:xsd="urn:other"'),
            id="xsd-elsewhere",
        ),
        pytest.param(lambda b: b.replace(b"<soapenv:Body>", b"<soapenv:Body><!-- c -->"), id="comment"),
        pytest.param(lambda b: b.replace(b"</item>", b"</item>\n"), id="whitespace"),
    ],
)
def test_any_other_shape_is_left_to_the_tree_decoder(change):
    body = change(encode_response(NS, "addAll3", "int[]", [0, 5, 3]))
    assert rpc_response._axis_int_array(body) is None


def test_a_fault_or_an_error_status_never_takes_the_fast_path():
    body = encode_response(NS, "addAll3", "int[]", [0, 5])
    assert decode_response(200, "OK", body, operation="Recipient.addAll3", scrub=str) == ["0", "5"]
    with pytest.raises(Exception, match="HTTP 500|500"):
        decode_response(500, "Internal Server Error", body, operation="Recipient.addAll3", scrub=str)

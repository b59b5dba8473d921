"""Fault/HTTP classification and response decoding (pure: bytes in, value or error out)."""

from __future__ import annotations

import pytest

from include.crm_sync.platforms.base import PermanentPlatformError, TransientPlatformError
from include.crm_sync.platforms.optimizely import errors
from include.crm_sync.platforms.optimizely.rpc_response import decode_response

ENV = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>'
)


def fault(faultstring: str, faultcode: str = "soapenv:Server.userException") -> bytes:
    return ENV.format(
        f"<soapenv:Fault><faultcode>{faultcode}</faultcode><faultstring>{faultstring}</faultstring>"
        "<detail/></soapenv:Fault>"
    ).encode()


SCRUBBER = errors.Scrubber(["s3cr3t-pass", "a1b2c3d4e5f6a7b8c9d0"])


def decode(status: int, body: bytes, scrub=SCRUBBER):
    return decode_response(status, "Internal Server Error", body, operation="Recipient.addAll3", scrub=scrub)


@pytest.mark.parametrize(
    ("faultstring", "faultcode", "expected", "permanent"),
    [
        (
            "com.optivo.webservice.InvalidWebserviceSessionException: Invalid sessionId",
            None,
            errors.InvalidSessionError,
            False,
        ),
        (
            "com.optivo.webservice.InvalidCredentialsException: Invalid credentials",
            None,
            errors.InvalidCredentialsError,
            True,
        ),
        (
            "com.optivo.webservice.TooManyConcurrentRequestsException: Too many concurrent requests",
            None,
            errors.TooManyRequestsError,
            False,
        ),
        (
            "java.lang.IllegalArgumentException: Unknown recipient list: 999",
            None,
            errors.InvalidRequestError,
            True,
        ),
        (
            "java.lang.IllegalArgumentException: Too many recipients: 1001 > 1000",
            None,
            errors.InvalidRequestError,
            True,
        ),
        ('java.lang.NumberFormatException: For input string: "x"', None, errors.InvalidRequestError, True),
        ("org.xml.sax.SAXException: Could not parse", "soapenv:Client", errors.InvalidRequestError, True),
        (
            "com.optivo.webservice.RecipientDoesNotExistException: Recipient does not exist",
            None,
            errors.RecipientNotFoundError,
            True,
        ),
        ("java.lang.RuntimeException: Injected fault", None, errors.ServerFaultError, False),
        ("java.lang.NullPointerException", None, errors.ServerFaultError, False),
        ("Invalid credentials", None, errors.InvalidCredentialsError, True),
    ],
)
def test_faults_are_classified(faultstring, faultcode, expected, permanent):
    with pytest.raises(expected) as info:
        decode(500, fault(faultstring, faultcode or "soapenv:Server.userException"))
    assert isinstance(info.value, PermanentPlatformError) is permanent
    assert isinstance(info.value, TransientPlatformError) is not permanent
    assert str(info.value).startswith("Recipient.addAll3: ")


def test_fault_messages_never_carry_secrets_or_addresses():
    text = (
        "java.lang.IllegalArgumentException: bad jane.doe@example.com for session a1b2c3d4e5f6a7b8c9d0 "
        "password s3cr3t-pass"
    )
    with pytest.raises(errors.InvalidRequestError) as info:
        decode(500, fault(text))
    message = str(info.value)
    for secret in ("jane.doe@example.com", "a1b2c3d4e5f6a7b8c9d0", "s3cr3t-pass"):
        assert secret not in message
    assert "j***@e***.com" in message


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (500, True),
        (502, True),
        (503, True),
        (429, True),
        (408, True),
        (404, False),
        (401, False),
        (400, False),
    ],
)
def test_http_errors_without_fault(status, transient):
    body = b"<html><body>Internal Server Error</body></html>"
    with pytest.raises(errors.HttpStatusError) as info:
        decode(status, body)
    assert isinstance(info.value, TransientPlatformError) is transient
    assert info.value.status_code == status


@pytest.mark.parametrize(
    "body", [b"", b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/", b"<html/>"]
)
def test_unreadable_200_is_a_transient_connection_failure(body):
    with pytest.raises(errors.ConnectionFailedError):
        decode(200, body)


def test_doctype_in_a_response_is_refused_and_entities_not_expanded():
    body = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY big "boom">]>'
        + ENV[len('<?xml version="1.0" encoding="UTF-8"?>') :].format("<r><rReturn>&big;</rReturn></r>")
    ).encode()
    with pytest.raises(errors.ConnectionFailedError, match="DOCTYPE"):
        decode(200, body)


def test_arrays_keep_empty_and_nil_members_in_position():
    body = ENV.format(
        '<ns1:getAllResponse xmlns:ns1="urn:x"><getAllReturn xsi:type="soapenc:Array" '
        'soapenc:arrayType="xsd:string[][3]">'
        '<item xsi:type="soapenc:Array"><item>1</item><item></item><item>a@example.com</item></item>'
        '<item><item xsi:nil="true"/><item>&lt;&amp;&gt;]]&gt;</item><item>中文 🎉</item></item>'
        '<item soapenc:arrayType="xsd:string[0]" xsi:type="soapenc:Array"/>'
        "</getAllReturn></ns1:getAllResponse>"
    ).encode()
    assert decode(200, body) == [["1", "", "a@example.com"], [None, "<&>]]>", "中文 🎉"], []]


def test_scalars_void_and_multiref():
    assert decode(200, ENV.format('<r><rReturn xsi:type="xsd:int">42</rReturn></r>').encode()) == "42"
    assert decode(200, ENV.format("<r/>").encode()) is None
    assert decode(200, ENV.format('<r><rReturn xsi:type="xsd:string"></rReturn></r>').encode()) == ""
    multiref = ENV.format(
        '<r><rReturn href="#id0"/></r>'
        '<multiRef id="id0" soapenc:root="0" xsi:type="soapenc:Array" soapenc:arrayType="xsd:int[2]">'
        '<item>0</item><item href="#id1"/></multiRef>'
        '<multiRef id="id1" soapenc:root="0" xsi:type="xsd:int">5</multiRef>'
    ).encode()
    assert decode(200, multiref) == ["0", "5"]


def test_request_exceptions_are_transient():
    import requests

    for exc in (
        requests.ConnectTimeout(),
        requests.ReadTimeout(),
        requests.ConnectionError(),
        requests.exceptions.ChunkedEncodingError(),
    ):
        error = errors.error_for_request_exception(exc, operation="Recipient.clear")
        assert isinstance(error, errors.ConnectionFailedError) and isinstance(error, TransientPlatformError)

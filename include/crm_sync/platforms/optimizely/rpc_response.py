"""Decoding of SOAP 1.1 RPC/encoded responses: the return value, or the fault as an error.

zeep builds and sends the requests (from the WSDL); responses are read here instead of by zeep
because zeep's reading of SOAP-encoded arrays loses data that this project depends on:

* members that are empty or ``xsi:nil`` are *dropped* from arrays, which shifts every later
  column of a closed-loop export row (columns are positional);
* ``String[][]`` members are typed as strings (zeep strips ``[][]`` from ``wsdl:arrayType``);
* Axis multi-reference values (``href="#id0"`` + ``<multiRef id="id0">``) are not followed.

The decoder is small because the API only returns scalars and arrays of scalars: a value is an
array when it says so (``soapenc:arrayType``, an ``*Array``/``ArrayOf*`` ``xsi:type``) or has
child elements; nil is ``None``; every scalar is returned as text and converted by the caller
(``int(...)`` for counts, ...). Parsing is hardened: no DTD, no entities, no network, no recovery.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from lxml import etree

from include.crm_sync.platforms.optimizely.errors import (
    ConnectionFailedError,
    error_for_fault,
    error_for_http_status,
)

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC_NS = "http://schemas.xmlsoap.org/soap/encoding/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

_BODY = f"{{{SOAP_ENV_NS}}}Body"
_FAULT = f"{{{SOAP_ENV_NS}}}Fault"
_XSI_TYPE = f"{{{XSI_NS}}}type"
_XSI_NIL = f"{{{XSI_NS}}}nil"
_ARRAY_TYPE = f"{{{SOAP_ENC_NS}}}arrayType"
_ROOT = f"{{{SOAP_ENC_NS}}}root"


_local = threading.local()


def _parser() -> etree.XMLParser:
    # One parser per thread: making one costs about as much as parsing a 1000-code answer, and
    # lxml parsers must not be shared between threads.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=False,
        remove_comments=True,
        remove_pis=True,
    )


_ANY_ID = etree.XPath("boolean(.//@id)")


class _NotSoap(Exception):
    pass


def parse_envelope(content: bytes) -> etree._Element:
    """Parse a SOAP envelope safely; raises ``_NotSoap`` for anything else."""
    if not content:
        raise _NotSoap("empty response")
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise _NotSoap(f"not well-formed XML ({exc.msg})") from None
    if root.getroottree().docinfo.doctype:
        raise _NotSoap("DOCTYPE in a SOAP response")
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise _NotSoap(f"root element is {etree.QName(root).localname!r}, not a SOAP 1.1 Envelope")
    return root


def decode_response(
    status_code: int,
    reason: str | None,
    content: bytes,
    *,
    operation: str,
    scrub: Callable[[str], str],
) -> Any:
    """The decoded return value of ``operation`` (``None`` for void), or raise the mapped error.

    ``scrub`` cleans fault texts of secrets and e-mail addresses before they enter a message.
    """
    if status_code == 200:
        codes = _axis_int_array(content)
        if codes is not None:
            return codes
    try:
        envelope = parse_envelope(content)
    except _NotSoap as exc:
        if status_code != 200:
            raise error_for_http_status(status_code, reason, operation=operation) from None
        raise ConnectionFailedError(f"unreadable response: {exc}", operation=operation) from None

    body = envelope.find(_BODY)
    if body is None:
        raise ConnectionFailedError("SOAP response without Body", operation=operation)
    fault = body.find(_FAULT)
    if fault is not None:
        raise error_for_fault(
            fault.findtext("faultcode"), fault.findtext("faultstring"), operation=operation, scrub=scrub
        )
    if status_code != 200:
        raise error_for_http_status(status_code, reason, operation=operation)

    # Axis multi-ref targets; usually there are none, and looking costs one C-level XPath.
    ids = {el.get("id"): el for el in body.iter() if el.get("id") is not None} if _ANY_ID(body) else {}
    wrapper = next((el for el in body if el.get(_ROOT) != "0" and isinstance(el.tag, str)), None)
    if wrapper is None:
        raise ConnectionFailedError("SOAP response Body is empty", operation=operation)
    returned = next((el for el in wrapper if isinstance(el.tag, str)), None)
    if returned is None:
        return None  # void
    return decode_value(returned, ids)


#: The whole of an Axis answer that returns an ``int[]`` and nothing else, as Axis (and the
#: emulator) write it: every prefix it uses is declared in it, no other attribute, no comment, no
#: entity, every member a plain number. addAll3 answers 1000 codes this way per call; reading them
#: with one match instead of parsing the tree costs ~0.1 ms instead of ~0.8 ms of the client's CPU
#: while the list is empty. Anything else -- a fault, nil or referenced members, other prefixes,
#: whitespace -- does not match and is parsed as usual, so the result is the same either way.
_AXIS_INT_ARRAY = re.compile(
    rb'(?:<\?xml version="1\.0" encoding="(?:UTF|utf)-8"\?>)?'
    rb'<soapenv:Envelope xmlns:soapenv="http://schemas\.xmlsoap\.org/soap/envelope/" '
    rb'xmlns:xsd="http://www\.w3\.org/2001/XMLSchema" xmlns:xsi="http://www\.w3\.org/2001/XMLSchema-instance">'
    rb"<soapenv:Body>"
    rb'<ns1:(?P<op>\w+)Response soapenv:encodingStyle="http://schemas\.xmlsoap\.org/soap/encoding/" '
    rb'xmlns:ns1="[^"<&]*" xmlns:soapenc="http://schemas\.xmlsoap\.org/soap/encoding/">'
    rb'<(?P=op)Return xsi:type="soapenc:Array" soapenc:arrayType="xsd:int\[(?P<n>\d+)\]">'
    rb'(?P<items>(?:<item xsi:type="xsd:int">\d+</item>)*)'
    rb"</(?P=op)Return></ns1:(?P=op)Response></soapenv:Body></soapenv:Envelope>"
)
_ITEM_TEXT = re.compile(rb">(\d+)<")


def _axis_int_array(content: bytes) -> list[str] | None:
    """The members of an ``int[]`` answer in exactly the shape of ``_AXIS_INT_ARRAY``, else ``None``."""
    match = _AXIS_INT_ARRAY.fullmatch(content)
    if match is None:
        return None
    codes = _ITEM_TEXT.findall(match["items"])
    if len(codes) != int(match["n"]):  # an array whose size disagrees: let the general path judge it
        return None
    return [code.decode("ascii") for code in codes]


def _resolve(element: etree._Element, ids: dict[str, etree._Element], depth: int = 0) -> etree._Element:
    href = element.get("href")
    if href and href.startswith("#"):
        if depth > 32 or href[1:] not in ids:
            raise ValueError(f"unresolvable multi-reference {href!r}")
        return _resolve(ids[href[1:]], ids, depth + 1)
    return element


def _is_array(element: etree._Element) -> bool:
    if element.get(_ARRAY_TYPE) is not None:
        return True
    xsi_type = element.get(_XSI_TYPE) or ""
    local = xsi_type.rpartition(":")[2]
    if local == "Array" or local.startswith("ArrayOf"):
        return True
    return any(isinstance(child.tag, str) for child in element)


def decode_value(
    element: etree._Element, ids: dict[str, etree._Element] | None = None, _depth: int = 0
) -> Any:
    """A scalar as ``str`` (``None`` when nil), an array as a ``list`` of decoded members."""
    if _depth > 16:
        raise ValueError("array nesting too deep")
    element = _resolve(element, ids or {})
    if element.get(_XSI_NIL) in ("true", "1"):
        return None
    if _is_array(element):
        if _scalar_members(element):  # the common case (addAll3's 1000 codes): plain members
            return [child.text or "" for child in element.iterchildren(etree.Element)]
        return [decode_value(child, ids, _depth + 1) for child in element if isinstance(child.tag, str)]
    return element.text or ""


#: ``xsd:int[1000]``: a one-dimensional array of a named (prefixed or not) type
_ONE_DIMENSION = re.compile(r"(?:([\w.-]+):)?[\w.-]+\[\d*\]")
#: a member that needs the general decoder: a reference, nil, or one with child elements
_COMPLEX_MEMBER = etree.XPath("boolean(*/@href | */@xsi:nil | */*)", namespaces={"xsi": XSI_NS})


def _scalar_members(element: etree._Element) -> bool:
    """True when ``element`` declares itself an array of XML Schema scalars and no member is a
    reference, nil or has children: then every member's value is just its text. Two C-level
    checks instead of several lookups per member."""
    match = _ONE_DIMENSION.fullmatch(element.get(_ARRAY_TYPE) or "")
    if match is None or element.nsmap.get(match.group(1)) != XSD_NS:
        return False
    return not _COMPLEX_MEMBER(element)

"""SOAP 1.1 RPC/encoded on the wire, as Apache Axis 1.x speaks it: request decoding, response and
fault encoding.

Decoding is lenient the way Axis is: ``xsi:type`` on scalars and ``soapenc:arrayType`` on arrays
are optional, the operation element may be qualified or not, parameters may be named ``in0..``
or by their documented names (matched by name, else by position), and Axis multi-ref encoding
(``href="#id0"`` pointing at ``<multiRef id="id0">``) is resolved. Parsing is hardened: no entity
resolution, no network, no DTD loading, no huge trees, and any DOCTYPE is refused outright.

Encoding is done with string templates rather than a tree: a 1000-row int[] or a large getAll
result is the hot path, and joining escaped strings is several times faster than building and
serialising lxml elements.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from include.emulators.optimizely import errors
from include.emulators.optimizely.services.base import Param

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NIL_ATTRIBUTES = (f"{{{XSI}}}nil", "{http://www.w3.org/1999/XMLSchema-instance}null")
_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_BODY = f"{{{SOAP_ENV}}}Body"
_POSITIONAL = re.compile(r"(?:in|arg)(\d+)")

_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; one hardened parser per server thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = parser
    return parser


@dataclass
class SoapRequest:
    operation: str
    namespace: str | None
    element: etree._Element
    _ids: dict[str, etree._Element] | None

    def resolve(self, element: etree._Element) -> etree._Element:
        """Follow an Axis multi-ref ``href="#id"`` to the element holding the value."""
        if self._ids is None:
            return element
        href = element.get("href")
        if href and href.startswith("#"):
            target = self._ids.get(href[1:])
            if target is None:
                raise errors.malformed(f"Unresolved reference {href}")
            return target
        return element


def parse_request(body: bytes) -> SoapRequest:
    if not body or not body.strip():
        raise errors.malformed("Premature end of file: empty request")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise errors.malformed(f"Could not parse the request: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        # Axis refuses DTDs in SOAP messages; accepting one is how XXE and entity bombs start.
        raise errors.malformed("DOCTYPE is not allowed in SOAP messages")
    if root.tag != _ENVELOPE:
        raise errors.malformed("Not a SOAP 1.1 envelope")
    body_element = root.find(_BODY)
    if body_element is None or len(body_element) == 0:
        raise errors.malformed("The SOAP body is empty")
    operation = body_element[0]
    qname = etree.QName(operation)
    ids = None
    if b"href=" in body:
        ids = {el.get("id"): el for el in body_element.iter() if el.get("id")}
    return SoapRequest(qname.localname, qname.namespace, operation, ids)


# ------------------------------------------------------------------------------------ decoding
def _is_nil(element: etree._Element) -> bool:
    return any(element.get(attr) in ("true", "1") for attr in _NIL_ATTRIBUTES)


def _string(element: etree._Element) -> str | None:
    text = element.text
    if text is None:
        if len(element):
            # What Axis says when a scalar holds elements, e.g. zeep's doubly wrapped String[][] rows.
            raise errors.SoapFault(
                "malformed_request", "SimpleDeserializer encountered a child element, which is NOT expected"
            )
        return None if _is_nil(element) else ""
    return text


def _integer(element: etree._Element) -> int | None:
    text = _string(element)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise errors.SoapFault("number_format", f'For input string: "{text[:50]}"') from None


def _boolean(element: etree._Element) -> bool | None:
    text = _string(element)
    if text is None:
        return None
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise errors.illegal_argument(f"Not a boolean: {text[:50]}")


_SCALAR_DECODERS: dict[str, Callable[[etree._Element], Any]] = {
    "string": _string,
    "long": _integer,
    "int": _integer,
    "boolean": _boolean,
}


def _decode(request: SoapRequest, element: etree._Element, type_: str) -> Any:
    element = request.resolve(element)
    if type_.endswith("[]"):
        if len(element) == 0 and _is_nil(element):
            return None
        item_type = type_[:-2]
        if request._ids is None and item_type == "string":
            # The hot path (no multi-refs): inlined text access, nil checked only for empty items.
            return [text if (text := item.text) is not None else _string(item) for item in element]
        return [_decode(request, item, item_type) for item in element]
    return _SCALAR_DECODERS[type_](element)


_MISSING = object()


def decode_params(request: SoapRequest, params: tuple[Param, ...]) -> list[Any]:
    """Values of the operation's parameters in declared order, matched by name else position."""
    by_name = {param.name.lower(): index for index, param in enumerate(params)}
    values: list[Any] = [_MISSING] * len(params)
    for position, child in enumerate(request.element):
        local = etree.QName(child).localname
        match = _POSITIONAL.fullmatch(local)
        index = int(match.group(1)) if match else by_name.get(local.lower(), position)
        if index >= len(params):
            raise errors.illegal_argument(
                f"Too many parameters for {request.operation}: expected {len(params)}"
            )
        values[index] = _decode(request, child, params[index].type)
    for index, value in enumerate(values):
        if value is _MISSING:
            raise errors.illegal_argument(f"Missing parameter in{index} ({params[index].name})")
    return values


# ------------------------------------------------------------------------------------ encoding
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:xsd="{XSD}" xmlns:xsi="{XSI}">'
    "<soapenv:Body>"
)
_TAIL = "</soapenv:Body></soapenv:Envelope>"
_XSD_TYPES = {"string": "xsd:string", "long": "xsd:long", "int": "xsd:int", "boolean": "xsd:boolean"}


def escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        # ">" too, so "]]>" never appears in text; "\r" as a reference so it survives parsing.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return text


def _scalar_text(type_: str, value: Any) -> str:
    if type_ == "boolean":
        return "true" if value else "false"
    if type_ == "string":
        return escape(value)
    return str(int(value))


def _array_type(type_: str, value: list) -> str:
    """The soapenc:arrayType of a value: ``xsd:int[3]``, ``xsd:string[][2]``."""
    dims = type_.count("[]")
    base = _XSD_TYPES[type_.replace("[]", "")]
    return f"{base}{'[]' * (dims - 1)}[{len(value)}]"


def _encode(out: list[str], name: str, type_: str, value: Any) -> None:
    if value is None:
        out.append(f'<{name} xsi:nil="true"/>')
        return
    if not type_.endswith("[]"):
        out.append(f'<{name} xsi:type="{_XSD_TYPES[type_]}">{_scalar_text(type_, value)}</{name}>')
        return
    out.append(f'<{name} xsi:type="soapenc:Array" soapenc:arrayType="{_array_type(type_, value)}">')
    item_type = type_[:-2]
    if item_type.endswith("[]"):
        for row in value:
            _encode(out, "item", item_type, row)
    else:
        xsd_type = _XSD_TYPES[item_type]
        open_tag = f'<item xsi:type="{xsd_type}">'
        for item in value:
            if item is None:
                out.append('<item xsi:nil="true"/>')
            else:
                out.append(open_tag)
                out.append(_scalar_text(item_type, item))
                out.append("</item>")
    out.append(f"</{name}>")


def encode_response(namespace: str, operation: str, return_type: str | None, value: Any) -> bytes:
    out = [
        _HEAD,
        (
            f'<ns1:{operation}Response soapenv:encodingStyle="{SOAP_ENC}" '
            f'xmlns:ns1="{namespace}" xmlns:soapenc="{SOAP_ENC}">'
        ),
    ]
    if return_type is not None:
        _encode(out, f"{operation}Return", return_type, value)
    out.append(f"</ns1:{operation}Response>")
    out.append(_TAIL)
    return "".join(out).encode("utf-8")


def encode_fault(fault: errors.SoapFault) -> bytes:
    return (
        _HEAD
        + "<soapenv:Fault>"
        + f"<faultcode>{fault.faultcode}</faultcode>"
        + f"<faultstring>{escape(fault.faultstring)}</faultstring>"
        + '<detail><ns1:exceptionName xmlns:ns1="http://xml.apache.org/axis/">'
        + f"{fault.exception_class}</ns1:exceptionName>"
        + '<ns2:hostname xmlns:ns2="http://xml.apache.org/axis/">optimizely-campaign-emulator</ns2:hostname>'
        + "</detail></soapenv:Fault>"
        + _TAIL
    ).encode("utf-8")

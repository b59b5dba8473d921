"""A plain zeep client for the emulator's WSDLs that never touches the network (test helper).

Axis-style WSDLs import the SOAP encoding namespace, and zeep then fetches
``http://schemas.xmlsoap.org/soap/encoding/``. ``OfflineTransport`` serves the bundled
``soap-encoding.xsd`` for that URL and refuses every other remote schema; the emulator's own URLs
(WSDL and SOAP calls) go over HTTP as usual. Deliberately independent of the project's client.

zeep and SOAP-encoded arrays (the emulator README, "Client notes", has the full story):
  * zeep gives the WSDL's array types an ``item`` sequence with minOccurs 1 and reads
    ``wsdl:arrayType="xsd:string[][]"`` as an array of *strings*. So a bare list fails, the WSDL
    type works for a non-empty ``String[]`` only, and ``String[][]`` cannot be built from it.
  * ``string_array``/``string_matrix`` build equivalent types with zeep's public xsd API (a
    sequence of 0..n ``item`` elements, named like the WSDL types) that render what Axis expects:
    ``<in6 xsi:type="ns0:ArrayOfArrayOf_xsd_string"><item><item>a</item></item></in6>``.
  * Returned ``String[][]`` rows arrive as values whose strings are in ``_value_1``, with empty
    strings silently dropped (columns shift!): read such results raw (``call_matrix``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep import xsd
from zeep.transports import Transport

SOAP_ENCODING_NS = "http://schemas.xmlsoap.org/soap/encoding/"
_SCHEMA = Path(__file__).with_name("soap-encoding.xsd").read_bytes()


class OfflineTransport(Transport):
    def __init__(
        self, allowed_prefix: str, session: requests.Session | None = None, timeout: float = 30
    ) -> None:
        super().__init__(session=session, timeout=timeout, operation_timeout=timeout)
        self._allowed_prefix = allowed_prefix

    def load(self, url: str) -> bytes:
        if url.rstrip("/") == SOAP_ENCODING_NS.rstrip("/"):
            return _SCHEMA
        if not url.startswith(self._allowed_prefix):
            raise OSError(f"refusing to fetch {url}: offline test transport")
        return super().load(url)


def client(
    base_url: str, service: str, session: requests.Session | None = None, timeout: float = 30
) -> zeep.Client:
    """A zeep client for ``/soap11/Rpc<service>`` of the emulator at ``base_url``."""
    transport = OfflineTransport(base_url, session=session, timeout=timeout)
    return zeep.Client(f"{base_url}/soap11/Rpc{service}?wsdl", transport=transport)


def wsdl_type(zeep_client: zeep.Client, local_name: str) -> Any:
    """A type of the service's own schema by local name (prefixes like ns0 differ per WSDL)."""
    for xsd_type in zeep_client.wsdl.types.types:
        if xsd_type.qname is not None and xsd_type.qname.localname == local_name:
            return xsd_type
    raise LookupError(f"no type {local_name} in this WSDL")


def _array_type(zeep_client: zeep.Client, local_name: str, item_type: Any) -> Any:
    """A SOAP-encoded array type zeep can render, named like the WSDL's type so that zeep writes
    ``xsi:type="ns0:<local_name>"`` on the parameter; items are ``<item>`` elements, zero or more."""
    namespace = wsdl_type(zeep_client, "ArrayOf_xsd_string").qname.namespace
    return xsd.ComplexType(
        xsd.Sequence([xsd.Element("item", item_type, min_occurs=0, max_occurs="unbounded")]),
        qname=etree.QName(namespace, local_name),
    )


def string_array(zeep_client: zeep.Client, values: list[str]) -> Any:
    """``String[]`` (empty allowed). For non-empty values the WSDL's own type also works:
    ``wsdl_type(client, "ArrayOf_xsd_string")(values)``; it refuses an empty list (minOccurs 1)."""
    return _array_type(zeep_client, "ArrayOf_xsd_string", xsd.String())(item=list(values))


def string_matrix(zeep_client: zeep.Client, rows: list[list[str]]) -> Any:
    """``String[][]``: rows of ``ArrayOf_xsd_string`` (zeep cannot build these from the WSDL type)."""
    row_type = _array_type(zeep_client, "ArrayOf_xsd_string", xsd.String())
    matrix_type = _array_type(zeep_client, "ArrayOfArrayOf_xsd_string", row_type)
    return matrix_type(item=[row_type(item=list(row)) for row in rows])


def rows(result: Any) -> list[list[str]]:
    """A ``String[][]`` as zeep returns it: strings in ``_value_1``. Beware: zeep drops empty
    strings from these rows (it parses ``<item xsi:type="xsd:string"></item>`` as None and skips
    it), so columns shift; use ``call_matrix`` wherever a value can be empty."""
    return [list(row._value_1 or []) for row in (result or [])]


def call_matrix(zeep_client: zeep.Client, operation: str, *args: Any) -> list[list[str]]:
    """Call an operation returning ``String[][]`` and read the rows from the raw response with
    lxml, keeping empty strings (and nils, as "") in their column."""
    with zeep_client.settings(raw_response=True):
        response = getattr(zeep_client.service, operation)(*args)
    root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
    body = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    fault = body.find("{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    if fault is not None:
        raise zeep.exceptions.Fault(fault.findtext("faultstring"), fault.findtext("faultcode"))
    result = body[0][0]
    return [[item.text or "" for item in row] for row in result]

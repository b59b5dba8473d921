"""The ``addAll3`` request, written directly as bytes: the one call whose encoding cost matters.

Why not zeep for this call
--------------------------
A refill sends millions of recipients as 1000 x ~10 ``String[][]`` batches. zeep (plus
``soap_arrays``) builds an lxml element per value and serialises the tree: 17-24 ms of CPU per
batch, more than the platform needs to *process* it (bench/results/zeep_batch_cost.md). Every other
call stays with zeep; this one is written from a template, with the operation's namespace, part
names and SOAPAction still read from the WSDL zeep loaded (``AddAll3Envelope.from_operation``).

The wire format is exactly what zeep + ``soap_arrays`` write (RPC/encoded, self-typed arrays,
Axis' ``<item>`` members, namespace declarations per part as zeep places them)::

    <in6 xmlns:ns4="...soap/encoding/" xmlns:xsi="..." xmlns:xs="..." xsi:type="ns4:Array"
         ns4:arrayType="xs:string[][2]">
      <item xsi:type="ns4:Array" ns4:arrayType="xs:string[3]"><item>a</item>...</item>
      ...

tests/unit/optimizely_client/test_addall3_request.py proves that both parse to the same canonical
tree for awkward values (unicode, markup characters, CR/LF/TAB, empty strings, a full batch).

How it is fast
--------------
Per array, the values are joined once with separators that XML cannot carry (``\\x00`` between
members, ``\\x01`` between the rows of ``String[][]``), encoded to UTF-8 once, checked once and
escaped once with ``bytes.replace`` (C loops over the whole batch, no Python per value); then the
separators become ``</item><item>`` tags. The check is exact: a value can hold no XML-illegal
character iff the UTF-8 has no C0 control byte other than TAB/LF/CR *beyond the separators we put
there* (counted), no ``EF BF BE``/``EF BF BF`` (U+FFFE/U+FFFF) and encodes at all (a lone
surrogate does not). Only when that check fails is the batch walked value by value, to raise
``InvalidRecipientDataError`` naming the recipient, field and position exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from include.crm_sync.masking import mask_email
from include.crm_sync.platforms.base import Recipient
from include.crm_sync.platforms.optimizely.errors import (
    InvalidRecipientDataError,
    OptimizelyPermanentConfigError,
)
from include.crm_sync.platforms.recipient_batch import MEMBER_SEP, ROW_SEP, RecipientBatch

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC_NS = "http://schemas.xmlsoap.org/soap/encoding/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

#: XML 1.0 ``Char`` production: anything else cannot be carried by a SOAP message at all
XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# between the members of an array, and between the rows of a String[][]: XML-illegal, so never
# inside a valid value (the same convention as ``RecipientBatch.joined_attributes``)
_MEMBER, _ROW = MEMBER_SEP, ROW_SEP
_C0_ILLEGAL = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D))


def check_value(
    value: Any, *, field: str, recipient_id: str | None, email: str | None, position: int | None
) -> None:
    """Raise ``InvalidRecipientDataError`` unless ``value`` is a string XML can carry."""
    if not isinstance(value, str):
        raise InvalidRecipientDataError(
            f"recipient {recipient_id!r} ({mask_email(email)}) at position {position}: "
            f"{field} must be a string, got {type(value).__name__}",
            recipient_id=recipient_id,
            email=email,
            field=field,
            position=position,
        )
    match = XML_ILLEGAL.search(value)
    if match:
        raise InvalidRecipientDataError(
            f"recipient {recipient_id!r} ({mask_email(email)}) at position {position}: {field} contains "
            f"the character U+{ord(match.group()):04X} at index {match.start()}, which XML 1.0 cannot "
            "carry; clean the value at the source. Nothing of this batch was sent.",
            recipient_id=recipient_id,
            email=email,
            field=field,
            position=position,
        )


def check_names(attribute_names: Sequence[str]) -> list[str]:
    names = list(attribute_names)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"attribute names must be non-empty strings, got {name!r}")
        if XML_ILLEGAL.search(name):
            raise ValueError(f"attribute name {name!r} contains a character XML cannot carry")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate attribute names in {names}")
    return names


# ---------------------------------------------------------------------- encoding one batch


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """One validated batch, its arrays already escaped: ready to be put into an envelope (on every
    attempt, with that attempt's session id)."""

    recipient_ids: Sequence[str]
    width: int
    ids_xml: bytes  # the <item> members of in3, in4, in5 and in6
    emails_xml: bytes
    names_xml: bytes
    rows_xml: bytes
    names_count: int

    def __len__(self) -> int:
        return len(self.recipient_ids)


def _escaped(text: str, separators: int) -> bytes | None:
    """``text`` as UTF-8 character data, or ``None`` when it holds an XML-illegal character
    beyond the ``separators`` control characters the caller joined it with."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if len(data) - len(data.translate(None, _C0_ILLEGAL)) != separators:
        return None
    if b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data:  # U+FFFE, U+FFFF
        return None
    # UTF-8 continuation bytes are >= 0x80, so these ASCII replacements never split a character.
    if b"&" in data:
        data = data.replace(b"&", b"&amp;")
    if b"<" in data:
        data = data.replace(b"<", b"&lt;")
    if b">" in data:
        data = data.replace(b">", b"&gt;")
    if b"\r" in data:  # a literal CR would be read back as LF (XML end-of-line handling)
        data = data.replace(b"\r", b"&#13;")
    return data


def _items(values: Sequence[str]) -> bytes | None:
    """The ``<item>`` members of a ``String[]``, or ``None`` if a value is not XML-legal text."""
    if not values:
        return b""
    try:
        joined = _MEMBER.join(values)
    except TypeError:  # a non-string
        return None
    data = _escaped(joined, len(values) - 1)
    if data is None:
        return None
    return b"<item>" + data.replace(b"\x00", b"</item><item>") + b"</item>"


def _rows(rows: Sequence[Sequence[str]], width: int, row_open: bytes) -> bytes | None:
    """The members of a ``String[][]`` whose rows all have ``width`` values, or ``None``."""
    if not rows or not width:
        return b""
    try:
        joined = _ROW.join([_MEMBER.join(row) for row in rows])
    except TypeError:
        return None
    return _joined_rows(joined, len(rows), width, row_open)


def _joined_rows(joined: str, count: int, width: int, row_open: bytes) -> bytes | None:
    """``_rows`` for values already joined with the member and row separators."""
    data = _escaped(joined, count * width - 1)
    if data is None:
        return None
    item_open = row_open + b"<item>"
    return (
        item_open
        + data.replace(b"\x00", b"</item><item>").replace(b"\x01", b"</item></item>" + item_open)
        + b"</item></item>"
    )


def _row_open(width: int) -> bytes:
    return b'<item xsi:type="ns4:Array" ns4:arrayType="xs:string[%d]">' % width


def encode_batch(recipients: Sequence[Recipient], names: list[str], offset: int = 0) -> EncodedBatch:
    """Validate and encode one batch (``names`` already checked by ``check_names``).

    ``None`` attribute values are sent as empty strings; anything else that is not XML-legal
    text raises ``InvalidRecipientDataError`` naming the recipient (``offset`` + index), the
    masked address and the field. Nothing is sent for a batch that fails.
    """
    batch = RecipientBatch.of(recipients)
    width = len(names)
    ids, emails = batch.recipient_ids, batch.emails
    if batch.joined_attributes is not None and batch.width == width:  # a reader joined them already
        rows_xml = _joined_rows(batch.joined_attributes, len(ids), width, _row_open(width))
    else:
        rows = batch.attribute_rows
        if rows and set(map(len, rows)) != {width}:
            _raise_for_width(batch, width, offset)
        rows_xml = _rows(rows, width, _row_open(width))
    ids_xml, emails_xml = _items(ids), _items(emails)
    if ids_xml is None or emails_xml is None or rows_xml is None:
        # Slow path, rare: None attribute values (sent as ""), or a bad value to report exactly.
        rows = [["" if v is None else v for v in row] for row in batch.attribute_rows]
        _raise_for_values(ids, emails, rows, names, offset)
        ids_xml, emails_xml, rows_xml = _items(ids), _items(emails), _rows(rows, width, _row_open(width))
        if ids_xml is None or emails_xml is None or rows_xml is None:  # pragma: no cover - checked above
            raise AssertionError("a batch that passed the value checks could not be encoded")
    names_xml = _items(names)
    assert names_xml is not None  # check_names guarantees it
    return EncodedBatch(ids, width, ids_xml, emails_xml, names_xml, rows_xml, len(names))


def _raise_for_width(batch: RecipientBatch, width: int, offset: int) -> None:
    # strict=False: rows split from a from_joined batch are shaped by its caller's guarantee, not
    # checked; this function exists to raise InvalidRecipientDataError, not zip's ValueError.
    for position, (rid, email, row) in enumerate(
        zip(batch.recipient_ids, batch.emails, batch.attribute_rows, strict=False), start=offset
    ):
        if len(row) != width:
            raise InvalidRecipientDataError(
                f"recipient {rid!r} ({mask_email(email)}) at position {position}: "
                f"{len(row)} attribute values for {width} attribute names",
                recipient_id=rid,
                email=email,
                field="attributes",
                position=position,
            )


def _raise_for_values(
    ids: Sequence[Any], emails: Sequence[Any], rows: Sequence[Sequence[Any]], names: list[str], offset: int
) -> None:
    # strict=False here and below: as in _raise_for_width, a shape error of a from_joined batch
    # must not surface as zip's ValueError from this reporting path.
    for position, (rid, email, row) in enumerate(zip(ids, emails, rows, strict=False), start=offset):
        address = email if isinstance(email, str) else None
        where = {"recipient_id": rid, "email": address, "position": position}
        check_value(rid, field="recipient_id", **where)
        check_value(email, field="email", **where)
        for name, value in zip(names, row, strict=False):
            check_value(value, field=f"attribute {name!r}", **where)


# ---------------------------------------------------------------------- the envelope


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _text(value: str) -> bytes:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode("utf-8")


def _array_open(part: str, prefix: str, array_type: str) -> bytes:
    return (
        f'<{part} xmlns:{prefix}="{SOAP_ENC_NS}" xmlns:xsi="{XSI_NS}" xmlns:xs="{XSD_NS}" '
        f'xsi:type="{prefix}:Array" {prefix}:arrayType="{array_type}">'
    ).encode()


@dataclass(frozen=True)
class AddAll3Envelope:
    """The addAll3 operation as the WSDL declares it: element namespace, part names, SOAPAction."""

    namespace: str
    operation: str
    parts: tuple[str, ...]
    soap_action: str

    def __post_init__(self) -> None:
        if len(self.parts) != 7:
            raise OptimizelyPermanentConfigError(
                f"addAll3 has {len(self.parts)} parts in the WSDL, expected 7", operation="Recipient.addAll3"
            )

    @classmethod
    def from_operation(cls, operation: Any) -> AddAll3Envelope:
        """From zeep's ``SoapOperation`` of an RPC binding (``binding.get("addAll3")``)."""
        body = operation.input.body
        qname = body.qname
        return cls(
            namespace=qname.namespace,
            operation=qname.localname,
            parts=tuple(name for name, _ in body.type.elements),
            soap_action=operation.soapaction or "",
        )

    @property
    def headers(self) -> dict[str, str]:
        # what zeep sends for SOAP 1.1
        return {"SOAPAction": f'"{self.soap_action}"', "Content-Type": "text/xml; charset=utf-8"}

    def render(self, session_id: str, list_id: int, optin_process_id: int, batch: EncodedBatch) -> bytes:
        return self.with_session(session_id, self.without_session(list_id, optin_process_id, batch))

    def with_session(self, session_id: str, rest: bytes) -> bytes:
        """The whole request: what ``without_session`` made, behind this attempt's session id."""
        p = self.parts
        return b"".join(
            (
                b"<?xml version='1.0' encoding='utf-8'?>\n",
                f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV_NS}"><soap-env:Body>'
                f'<ns0:{self.operation} xmlns:ns0="{_attr(self.namespace)}">'.encode(),
                f"<{p[0]}>".encode(),
                _text(session_id),
                f"</{p[0]}>".encode(),
                rest,
            )
        )

    def without_session(self, list_id: int, optin_process_id: int, batch: EncodedBatch) -> bytes:
        """Everything of the request after the session id: built once, before the session is
        known (the refill builds every batch's request before it clears the list)."""
        p = self.parts
        n = len(batch)
        return b"".join(
            (
                f"<{p[1]}>{int(list_id):d}</{p[1]}><{p[2]}>{int(optin_process_id):d}</{p[2]}>".encode(),
                _array_open(p[3], "ns1", f"xs:string[{n}]"),
                batch.ids_xml,
                f"</{p[3]}>".encode(),
                _array_open(p[4], "ns2", f"xs:string[{n}]"),
                batch.emails_xml,
                f"</{p[4]}>".encode(),
                _array_open(p[5], "ns3", f"xs:string[{batch.names_count}]"),
                batch.names_xml,
                f"</{p[5]}>".encode(),
                _array_open(p[6], "ns4", f"xs:string[][{n if batch.width else 0}]"),
                batch.rows_xml,
                f"</{p[6]}>".encode(),
                f"</ns0:{self.operation}></soap-env:Body></soap-env:Envelope>".encode(),
            )
        )

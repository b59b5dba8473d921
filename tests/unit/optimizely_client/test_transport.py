"""The offline transport: bundled schemas served, nothing else fetched, nothing logged."""

from __future__ import annotations

import io

import pytest
import requests
import zeep
from lxml import etree

from include.crm_sync.platforms.optimizely.transport import (
    SOAP_ENCODING_NS,
    OfflineSchemaTransport,
    RemoteSchemaRefusedError,
    bundled_schema,
    hardened_settings,
)
from tests.unit.optimizely_client.axis_wsdl import RECIPIENT_WSDL


def _transport() -> OfflineSchemaTransport:
    return OfflineSchemaTransport(
        session=requests.Session(), allowed_prefix="https://api.example.invalid/soap11", timeout=1
    )


def test_bundled_soap_encoding_schema_is_a_valid_schema_of_that_namespace():
    content = bundled_schema(SOAP_ENCODING_NS)
    assert content is not None
    schema_doc = etree.fromstring(content)
    etree.XMLSchema(schema_doc)  # raises if not a valid XSD
    assert schema_doc.get("targetNamespace") == SOAP_ENCODING_NS
    names = {el.get("name") for el in schema_doc}
    assert {"Array", "arrayType", "offset", "Struct", "string", "long", "int", "boolean", "base64"} <= names
    assert bundled_schema(SOAP_ENCODING_NS.rstrip("/")) == content  # with or without the slash


@pytest.mark.parametrize(
    "url",
    [
        "http://schemas.xmlsoap.org/wsdl/",
        "https://evil.example/x.xsd",
        "https://api.example.invalid.evil.example/soap11/x.xsd",
        "file:///etc/passwd",
        "/etc/passwd",
        "~/.netrc",
    ],
)
def test_everything_outside_the_allow_list_is_refused(url):
    with pytest.raises(RemoteSchemaRefusedError, match="refused"):
        _transport().load(url)


def test_client_builds_offline_from_an_axis_wsdl():
    client = zeep.Client(io.BytesIO(RECIPIENT_WSDL), transport=_transport(), settings=hardened_settings())
    assert "addAll3" in client.service._binding._operations


def test_wsdl_importing_a_foreign_schema_is_refused():
    wsdl = RECIPIENT_WSDL.replace(
        b'<import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>',
        b'<import namespace="urn:x" schemaLocation="https://evil.example/x.xsd"/>',
    )
    with pytest.raises(RemoteSchemaRefusedError):
        zeep.Client(io.BytesIO(wsdl), transport=_transport(), settings=hardened_settings())


def test_wsdl_with_a_doctype_is_refused():
    wsdl = RECIPIENT_WSDL.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY e "boom">]>',
    )
    with pytest.raises((zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden)):
        zeep.Client(io.BytesIO(wsdl), transport=_transport(), settings=hardened_settings())


def test_the_shared_session_cannot_read_local_files():
    session = requests.Session()
    OfflineSchemaTransport(session=session, allowed_prefix="https://api.example.invalid/soap11", timeout=1)
    assert "file://" not in session.adapters
    with pytest.raises(requests.exceptions.InvalidSchema):
        session.get("file:///etc/hostname")


def test_hardened_settings():
    settings = hardened_settings()
    assert settings.strict and settings.forbid_dtd and settings.forbid_entities and not settings.xml_huge_tree

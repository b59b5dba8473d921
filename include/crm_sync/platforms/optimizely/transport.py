"""A zeep transport that works offline and fetches nothing it was not told to.

Axis-style WSDLs use the SOAP 1.1 encoding namespace (``soapenc:Array``, ``soapenc:string``), and
zeep auto-imports its schema from ``http://schemas.xmlsoap.org/soap/encoding/``. There is no
network at run time (and there must not be: a WSDL that makes the worker fetch arbitrary URLs is
an SSRF vector), so:

* schemas of known namespaces are served from the copies bundled in ``schemas/``;
* documents under the configured webservice base URL (the WSDLs themselves) are fetched through
  the shared ``requests.Session``;
* every other location - other hosts, ``file://`` URLs, local paths - is refused with
  ``RemoteSchemaRefusedError``.

``hardened_settings()`` turns off DTDs, entity declarations and lxml's recovery mode.
``forbid_external`` cannot be on while the WSDL loads (zeep checks it *before* asking the
transport, which would block the bundled encoding schema too), so the allow-list above is the
control during loading and the client switches ``forbid_external`` on once its WSDLs are loaded.

The transport also never logs request or response bodies: zeep's own ``Transport.post`` does at
DEBUG level, and those bodies carry the password (login) and e-mail addresses (addAll3).
"""

from __future__ import annotations

import logging
from importlib import resources
from urllib.parse import urlsplit

import requests
import zeep
from zeep.transports import Transport

from include.crm_sync.platforms.base import PermanentPlatformError

log = logging.getLogger(__name__)

SOAP_ENCODING_NS = "http://schemas.xmlsoap.org/soap/encoding/"

#: namespace (also used by zeep as the schema location) -> bundled file in ``schemas/``
BUNDLED_SCHEMAS: dict[str, str] = {
    SOAP_ENCODING_NS: "soap-encoding.xsd",
}


class RemoteSchemaRefusedError(PermanentPlatformError):
    """A WSDL asked for a document outside the allow-list (another host, a local file, ...)."""


def _normalise(url: str) -> str:
    return url.strip().rstrip("/") + "/"


def bundled_schema(namespace_or_url: str) -> bytes | None:
    """The bundled copy for a known namespace (with or without trailing slash), else ``None``."""
    key = _normalise(namespace_or_url)
    for namespace, filename in BUNDLED_SCHEMAS.items():
        if _normalise(namespace) == key:
            return resources.files(__package__).joinpath("schemas", filename).read_bytes()
    return None


def hardened_settings() -> zeep.Settings:
    """zeep settings for documents and responses received from the network."""
    return zeep.Settings(
        strict=True,  # no lxml recover mode: malformed XML is an error, not a guess
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=False,  # switched on after loading, see the module docstring
        xml_huge_tree=False,
        force_https=True,
    )


class OfflineSchemaTransport(Transport):
    """zeep ``Transport`` with an allow-list for documents and no body logging.

    :param session: the client's shared ``requests.Session`` (keep-alive pool, TLS settings)
    :param allowed_prefix: documents whose URL starts with this (the webservice base URL) are fetched
    :param timeout: ``requests`` timeout for loading documents and for operations
    """

    def __init__(
        self,
        *,
        session: requests.Session,
        allowed_prefix: str,
        timeout: float | tuple[float, float],
    ) -> None:
        super().__init__(timeout=timeout, operation_timeout=timeout, session=session)
        # zeep mounts a file:// adapter on the session; this transport never reads local files.
        session.adapters.pop("file://", None)
        split = urlsplit(allowed_prefix)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise ValueError(f"webservice base URL must be http(s)://host/...: {allowed_prefix!r}")
        self._allowed_prefix = allowed_prefix.rstrip("/") + "/"

    def load(self, url: str) -> bytes:
        if not url:
            raise ValueError("No url given to load")
        bundled = bundled_schema(url)
        if bundled is not None:
            log.debug("serving bundled schema for %s", url)
            return bundled
        if url.startswith(self._allowed_prefix):
            return self._load_remote_data(url)
        raise RemoteSchemaRefusedError(
            f"refused to load {url!r}: only the bundled schemas "
            f"({', '.join(sorted(BUNDLED_SCHEMAS))}) and documents under {self._allowed_prefix!r} "
            "may be loaded"
        )

    def post(self, address, message, headers):  # noqa: ANN001 - zeep's signature
        # No DEBUG dump of the body (it contains the password or e-mail addresses).
        return self.session.post(address, data=message, headers=headers, timeout=self.operation_timeout)

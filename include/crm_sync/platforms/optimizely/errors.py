"""What can go wrong talking to Optimizely Campaign, as Permanent/Transient platform errors.

The platform runs Apache Axis 1.x: an operation that throws answers HTTP 500 with a SOAP fault
whose faultstring reads ``<java exception class>: <message>`` (faultcode
``soapenv:Server.userException``); client-side mistakes come as ``soapenv:Client``. Classification
goes by exception class name first, then by the documented message texts:

==========================================  =====================================  ==========
fault / failure                             error class                            retried?
==========================================  =====================================  ==========
InvalidWebserviceSessionException           ``InvalidSessionError``                re-login once
InvalidCredentials / "Invalid credentials"  ``InvalidCredentialsError``            never
TooManyConcurrentRequests / "Too many        ``TooManyRequestsError``               backoff
concurrent requests"
IllegalArgumentException,                   ``InvalidRequestError`` (unknown list,  never
NumberFormatException, SAXException,         batch too large, invalid data, ...)
AxisFault, ``soapenv:Client`` faults
RecipientDoesNotExistException              ``RecipientNotFoundError``             never
any other server-side exception             ``ServerFaultError``                   backoff
HTTP 5xx / 408 / 429 without a fault        ``HttpStatusError`` (transient)        backoff
other HTTP 4xx                              ``HttpStatusError`` (permanent)        never
timeout, refused/dropped connection,        ``ConnectionFailedError``              backoff
truncated or unparsable 200 response
==========================================  =====================================  ==========

Messages are built for logs: e-mail addresses are masked, and the password and session ids the
client knows are replaced by ``mask_secret`` before an error is constructed (``Scrubber``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

import requests

from include.crm_sync.masking import mask_email, mask_secret, mask_text
from include.crm_sync.platforms.base import PermanentPlatformError, PlatformError, TransientPlatformError

__all__ = [
    "ConnectionFailedError",
    "HttpStatusError",
    "InvalidCredentialsError",
    "InvalidRecipientDataError",
    "InvalidRequestError",
    "InvalidSessionError",
    "OptimizelyError",
    "OptimizelyPermanentConfigError",
    "PermanentHttpStatusError",
    "RecipientNotFoundError",
    "Scrubber",
    "ServerFaultError",
    "SoapFaultError",
    "TooManyRequestsError",
    "TransientHttpStatusError",
    "error_for_fault",
    "error_for_http_status",
    "error_for_request_exception",
]


class OptimizelyError(PlatformError):
    """Base of this package's errors; ``operation`` is e.g. ``Recipient.addAll3``."""

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        self.operation = operation
        super().__init__(f"{operation}: {message}" if operation else message)


class SoapFaultError(OptimizelyError):
    """The platform answered with a SOAP fault (message already scrubbed)."""

    def __init__(
        self, message: str, *, operation: str | None, faultcode: str, exception_class: str | None
    ) -> None:
        self.faultcode = faultcode
        self.exception_class = exception_class
        super().__init__(message, operation=operation)


class InvalidSessionError(SoapFaultError, TransientPlatformError):
    """Session expired or unknown; ``session.SessionManager`` logs in again and retries once."""


class InvalidCredentialsError(SoapFaultError, PermanentPlatformError):
    """Login refused: mandator id, user or password is wrong."""


class TooManyRequestsError(SoapFaultError, TransientPlatformError):
    """The per-client limit of simultaneous requests was hit."""


class InvalidRequestError(SoapFaultError, PermanentPlatformError):
    """The platform rejected the arguments (unknown list, batch too large, malformed values, ...)."""


class RecipientNotFoundError(SoapFaultError, PermanentPlatformError):
    """``remove``/``setAttributes`` on a recipient that is not in the list."""


class ServerFaultError(SoapFaultError, TransientPlatformError):
    """An unexpected exception inside the platform; worth a bounded number of retries."""


class HttpStatusError(OptimizelyError):
    """Non-200 answer without a SOAP fault in it (proxy error page, overload, ...)."""

    def __init__(self, message: str, *, operation: str | None, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(message, operation=operation)


class TransientHttpStatusError(HttpStatusError, TransientPlatformError):
    pass


class PermanentHttpStatusError(HttpStatusError, PermanentPlatformError):
    pass


class ConnectionFailedError(OptimizelyError, TransientPlatformError):
    """Timeout, refused or dropped connection, or a truncated/unparsable response.

    A dropped connection may come *after* the platform applied the call; see ``client.py`` on
    why re-sending an ``addAll3`` batch is still safe.
    """


class OptimizelyPermanentConfigError(OptimizelyError, PermanentPlatformError):
    """The client or its connection is configured wrongly (bad URL, unusable WSDL, ...)."""


class InvalidRecipientDataError(PermanentPlatformError, ValueError):
    """A value cannot be sent at all (e.g. a control character XML 1.0 cannot carry).

    Raised before the batch holding it is sent. Names the recipient id, the masked address and
    the field; ``position`` is the 0-based index of the recipient in the ``add_all`` input.
    """

    def __init__(
        self,
        message: str,
        *,
        recipient_id: str | None = None,
        email: str | None = None,
        field: str | None = None,
        position: int | None = None,
    ) -> None:
        self.recipient_id = recipient_id
        self.masked_email = mask_email(email) if email is not None else None
        self.field = field
        self.position = position
        super().__init__(message)


# ------------------------------------------------------------------------------- scrubbing


class Scrubber:
    """Replaces known secrets (password, session ids) in text, then masks e-mail addresses.

    Thread-safe; the session manager registers every session id it obtains.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        # Very short secrets would turn ordinary words into "***"; those cannot be told apart
        # from text anyway, and the password/session id never travel in messages we build.
        if secret and len(secret) >= 3:
            with self._lock:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, mask_secret(secret))
        return mask_text(text)


def _mask_only(text: str) -> str:
    return mask_text(text)


# ------------------------------------------------------------------------------ classification

_FAULT_CLASS_RE = re.compile(r"^\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+)\s*:\s*(.*)$", re.S)

_PERMANENT_REQUEST_CLASSES = (
    "IllegalArgumentException",
    "NumberFormatException",
    "SAXException",
    "SAXParseException",
    "AxisFault",
    "NoSuchRecipientListException",
    "InvalidRecipientListException",
)


def split_faultstring(faultstring: str) -> tuple[str | None, str]:
    """``"com.x.FooException: msg"`` -> ``("com.x.FooException", "msg")``."""
    match = _FAULT_CLASS_RE.match(faultstring or "")
    if match:
        return match.group(1), match.group(2).strip()
    return None, (faultstring or "").strip()


def error_for_fault(
    faultcode: str | None, faultstring: str | None, *, operation: str | None, scrub=_mask_only
) -> SoapFaultError:
    """The error for a SOAP fault; ``scrub`` cleans the message (see ``Scrubber``)."""
    faultcode = (faultcode or "").strip()
    exception_class, message = split_faultstring(faultstring or "")
    simple = (exception_class or "").rsplit(".", 1)[-1]
    lowered = (faultstring or "").lower()
    text = scrub(f"{simple + ': ' if simple else ''}{message or '(no faultstring)'}")
    kwargs = {"operation": operation, "faultcode": faultcode, "exception_class": exception_class}

    if "InvalidWebserviceSession" in simple or "invalid sessionid" in lowered:
        return InvalidSessionError(text, **kwargs)
    if "InvalidCredentials" in simple or "invalid credentials" in lowered:
        return InvalidCredentialsError(text, **kwargs)
    if "TooManyConcurrentRequests" in simple or "too many concurrent requests" in lowered:
        return TooManyRequestsError(text, **kwargs)
    if "RecipientDoesNotExist" in simple or "recipient does not exist" in lowered:
        return RecipientNotFoundError(text, **kwargs)
    if simple in _PERMANENT_REQUEST_CLASSES or faultcode.split(":")[-1].startswith("Client"):
        return InvalidRequestError(text, **kwargs)
    return ServerFaultError(text, **kwargs)


def error_for_http_status(status_code: int, reason: str | None, *, operation: str | None) -> HttpStatusError:
    message = f"HTTP {status_code} {reason or ''}".rstrip() + " (no SOAP fault in the response)"
    if status_code >= 500 or status_code in (408, 425, 429):
        return TransientHttpStatusError(message, operation=operation, status_code=status_code)
    return PermanentHttpStatusError(message, operation=operation, status_code=status_code)


def error_for_request_exception(exc: requests.RequestException, *, operation: str | None) -> OptimizelyError:
    """Map a ``requests`` failure. Messages hold the exception type only, never the URL's query
    or the request body."""
    if isinstance(exc, requests.Timeout):
        what = "timed out"
    elif isinstance(exc, requests.exceptions.ChunkedEncodingError):
        what = "connection dropped while reading the response"
    elif isinstance(exc, requests.ConnectionError):
        what = "connection failed or was dropped"
    elif isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return OptimizelyPermanentConfigError(
            f"invalid webservice URL ({type(exc).__name__})", operation=operation
        )
    else:
        what = "request failed"
    return ConnectionFailedError(f"{what} ({type(exc).__name__})", operation=operation)

"""The SOAP faults the emulator raises, and the one table of Java exception classes behind them.

The real platform runs on Apache Axis 1.x, whose faults read ``<java exception class>: <message>``
with faultcode ``soapenv:Server.userException``. Clients (and the project's importer) match on the
class name and message, so every fault the emulator can produce is listed here and nowhere else.
"""

from __future__ import annotations

# One row per kind of failure: kind -> Java exception class named in the faultstring.
# The class names follow the platform's package (com.optivo.webservice) where the platform has its
# own exception, and plain java.lang classes where Axis would surface a JDK exception.
EXCEPTION_CLASSES: dict[str, str] = {
    "invalid_session": "com.optivo.webservice.InvalidWebserviceSessionException",
    "invalid_credentials": "com.optivo.webservice.InvalidCredentialsException",
    "too_many_requests": "com.optivo.webservice.TooManyConcurrentRequestsException",
    "illegal_argument": "java.lang.IllegalArgumentException",
    "recipient_not_found": "com.optivo.webservice.RecipientDoesNotExistException",
    "number_format": "java.lang.NumberFormatException",
    "malformed_request": "org.xml.sax.SAXException",
    "no_such_operation": "org.apache.axis.AxisFault",
    "runtime": "java.lang.RuntimeException",
}

# Axis puts client-side mistakes (unknown operation, unparsable XML) under soapenv:Client and
# everything an operation throws under soapenv:Server.userException.
SERVER_USER_EXCEPTION = "soapenv:Server.userException"
CLIENT_FAULT = "soapenv:Client"


class SoapFault(Exception):
    """A failure reported to the caller as a SOAP fault (HTTP 500)."""

    def __init__(self, kind: str, message: str, faultcode: str = SERVER_USER_EXCEPTION) -> None:
        self.kind = kind
        self.exception_class = EXCEPTION_CLASSES[kind]
        self.message = message
        self.faultcode = faultcode
        super().__init__(self.faultstring)

    @property
    def faultstring(self) -> str:
        return f"{self.exception_class}: {self.message}"


def invalid_session() -> SoapFault:
    return SoapFault("invalid_session", "Invalid sessionId")


def invalid_credentials() -> SoapFault:
    return SoapFault("invalid_credentials", "Invalid credentials")


def illegal_argument(message: str) -> SoapFault:
    return SoapFault("illegal_argument", message)


def recipient_not_found() -> SoapFault:
    return SoapFault("recipient_not_found", "Recipient does not exist")


def too_many_requests() -> SoapFault:
    return SoapFault("too_many_requests", "Too many concurrent requests")


def malformed(message: str) -> SoapFault:
    return SoapFault("malformed_request", message, faultcode=CLIENT_FAULT)

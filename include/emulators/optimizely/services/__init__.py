"""The eight webservices of the Optimizely Campaign SOAP API, one module each.

``WEBSERVICES`` maps the endpoint path (``/soap11/Rpc<Name>``) to its declaration.
"""

from __future__ import annotations

from include.emulators.optimizely.services import (
    blacklist,
    closed_loop,
    optin_process,
    recipient,
    recipient_list,
    response,
    session,
    unsubscribe,
)
from include.emulators.optimizely.services.base import Webservice

ALL: tuple[Webservice, ...] = (
    session.SERVICE,
    recipient.SERVICE,
    recipient_list.SERVICE,
    optin_process.SERVICE,
    blacklist.SERVICE,
    unsubscribe.SERVICE,
    closed_loop.SERVICE,
    response.SERVICE,
)
WEBSERVICES: dict[str, Webservice] = {service.path: service for service in ALL}

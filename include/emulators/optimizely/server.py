"""HTTP side of the emulator: the shared kit's server (include/emulators/kit/http.py: stdlib
``ThreadingHTTPServer``, HTTP/1.1 keep-alive, TCP_NODELAY, loopback-only ``/_control``) with
this adapter from HTTP requests to the SOAP application.

Routes:
  GET  /soap11/Rpc<Name>?wsdl   the WSDL (service address = the Host the client used)
  POST /soap11/Rpc<Name>        SOAP calls (SOAPAction header optional)
  *    /_control/...            control endpoint (control.py), loopback clients only unless
                                allow_remote_control
  GET  /                        a small JSON index of the services
"""

from __future__ import annotations

from typing import Any

from include.emulators.kit.http import CONTROL_PREFIX, Reply, Request, is_loopback, json_reply
from include.emulators.optimizely.app import Emulator
from include.emulators.optimizely.services import ALL as ALL_SERVICES

__all__ = ["SERVER_NAME", "SoapHttpApp", "is_loopback"]

SERVER_NAME = "OptimizelyCampaignEmulator/1.0"
_TEXT = "text/plain; charset=utf-8"


class SoapHttpApp:
    """What the kit's server calls for every request outside ``/_control``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle(self, request: Request) -> Reply:
        emulator = self.emulator
        service = emulator.webservice(request.path)
        if service is None:
            if request.path in ("", "/") and request.method == "GET":
                return json_reply(200, self._index(request.base_url))
            return Reply(404, b"Not found", _TEXT)
        if request.method == "GET":
            if request.query.lower().split("&")[0] == "wsdl":
                return Reply(200, emulator.wsdl(service, request.base_url), "text/xml; charset=utf-8")
            # What Axis answers on a plain GET of a service URL.
            page = f"<h1>{service.rpc_name}</h1><p>Hi there, this is an AXIS service!</p>"
            return Reply(200, page.encode(), "text/html; charset=utf-8")
        if request.method != "POST":
            return Reply(405, b"Method not allowed", _TEXT)
        return emulator.handle_soap(service, request.body)

    @staticmethod
    def _index(base: str) -> dict[str, Any]:
        return {
            "emulator": "Optimizely Campaign SOAP API",
            "services": {s.rpc_name: f"{base}{s.path}?wsdl" for s in ALL_SERVICES},
            "control": f"{base}{CONTROL_PREFIX}",
        }

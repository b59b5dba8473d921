"""Optimizely Campaign emulator: a stateful local stand-in of the platform's SOAP API.

SOAP 1.1 RPC/encoded in the Apache Axis 1.x style, one endpoint per webservice at
``/soap11/Rpc<Name>`` (WSDL at ``?wsdl``), plus a JSON control endpoint at ``/_control``.
Run it with ``python -m include.emulators.optimizely`` or in-process with ``EmulatorServer``;
see README.md in this directory.
"""

from include.emulators.optimizely.control import ControlClient, ControlError
from include.emulators.optimizely.runner import EmulatorServer

__all__ = ["ControlClient", "ControlError", "EmulatorServer"]

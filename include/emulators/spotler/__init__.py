"""Spotler Mail+ emulator: a stateful local stand-in of the "integrationservice" REST API
(audiences and contacts) under ``/integrationservice-1.1.0``, with two-legged OAuth 1.0a on every
request and a JSON control endpoint at ``/_control``. Run it with
``python -m include.emulators.spotler`` or in-process with ``SpotlerEmulatorServer``; see
README.md in this directory.
"""

from include.emulators.kit.control import ControlError
from include.emulators.spotler.config import BASE_PATH
from include.emulators.spotler.control import SpotlerControlClient
from include.emulators.spotler.runner import SpotlerEmulatorServer

__all__ = ["BASE_PATH", "ControlError", "SpotlerControlClient", "SpotlerEmulatorServer"]

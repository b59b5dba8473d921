"""Flexmail emulator: a stateful local stand-in of Flexmail's REST API (contacts, legacy interest
labels, contact imports; HAL JSON, Basic auth, a per-account rate limit on an emulated clock) with
a JSON control endpoint at ``/_control``. Run it with ``python -m include.emulators.flexmail`` or
in-process with ``FlexmailEmulatorServer``; see README.md in this directory.
"""

from include.emulators.flexmail.control import FlexmailControlClient
from include.emulators.flexmail.runner import FlexmailEmulatorServer
from include.emulators.kit.control import ControlError

__all__ = ["ControlError", "FlexmailControlClient", "FlexmailEmulatorServer"]

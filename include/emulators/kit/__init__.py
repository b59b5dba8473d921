"""The small kit every emulator is built on: HTTP front with a loopback-only ``/_control``
(http.py), control router and client (control.py), fault injection on the Nth call or at a rate
(faults.py), an injectable clock (clock.py), call counters (calls.py), seed files (seed.py), an
in-process runner on port 0 (runner.py) and the CLI's signal handling (cli.py)."""

from include.emulators.kit.calls import CallCounter
from include.emulators.kit.clock import ControllableClock, iso_utc, parse_time
from include.emulators.kit.control import ControlClient, ControlError, ControlRequestError, ControlRouter
from include.emulators.kit.faults import FaultInjector, Injection, generic_reply
from include.emulators.kit.http import CONTROL_PREFIX, Reply, Request, is_loopback, json_reply
from include.emulators.kit.runner import HttpRunner
from include.emulators.kit.seed import SeedError, load_document

__all__ = [
    "CONTROL_PREFIX",
    "CallCounter",
    "ControlClient",
    "ControlError",
    "ControlRequestError",
    "ControlRouter",
    "ControllableClock",
    "FaultInjector",
    "HttpRunner",
    "Injection",
    "Reply",
    "Request",
    "SeedError",
    "generic_reply",
    "is_loopback",
    "iso_utc",
    "json_reply",
    "load_document",
    "parse_time",
]

"""Fault injection for the SOAP API, on the shared kit's rules (include/emulators/kit/faults.py).

A rule matches an operation by name (``addAll3``, any webservice) or qualified
(``Recipient.getCount``), a shell-style pattern, or ``*`` for every operation. It counts the
matching calls that arrive after it was added; from the ``nth`` of them on it fires with
probability ``rate`` (drawn from its own ``seed``-ed generator, so a run is reproducible) until
it has fired ``times`` times (0 = no limit). When several rules match a call, each counts it and
the first one (in the order added) that fires wins.

Kinds (see app.py for where each acts):
  http500         HTTP 500 with a non-SOAP HTML body, like a failing proxy or load balancer
  soap_fault      an Axis fault ``java.lang.RuntimeException: <message>``
  slow            wait ``delay_seconds``, then carry on normally
  drop            close the TCP connection without any response
  expire_session  invalidate the caller's session before the call is handled
``when`` = ``before`` acts before the call is applied; ``after`` applies it first (the state
changes) and then fails or delays the response: the case a client must survive without
applying a batch twice.
"""

from __future__ import annotations

from include.emulators.kit.faults import WHEN, FaultRule, Injection
from include.emulators.kit.faults import FaultInjector as _KitFaultInjector

KINDS = ("http500", "soap_fault", "slow", "drop", "expire_session")

__all__ = ["KINDS", "WHEN", "FaultInjector", "FaultRule", "Injection"]


class FaultInjector(_KitFaultInjector):
    def __init__(self) -> None:
        super().__init__(kinds=KINDS, operation_hint="an operation name, Service.operation")

    def draw(self, service: str, operation: str) -> Injection | None:  # type: ignore[override]
        """Count this call against every matching rule; return the injection to apply, if any."""
        return super().draw(operation, f"{service}.{operation}")

"""Fault injection: rules that make chosen calls fail the ways real networks and servers do.

A rule matches an operation by name (``addAll3``, any webservice) or qualified
(``Recipient.getCount``), or ``*`` for every operation. It counts the matching calls that arrive
after it was added; from the ``nth`` of them on it fires with probability ``rate`` (drawn from its
own ``seed``-ed generator, so a run is reproducible) until it has fired ``times`` times (0 = no
limit). When several rules match a call, each counts it and the first one (in the order added)
that fires wins.

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

import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("http500", "soap_fault", "slow", "drop", "expire_session")
WHEN = ("before", "after")


@dataclass
class FaultRule:
    id: int
    operation: str
    kind: str
    nth: int = 1
    rate: float = 1.0
    times: int = 1
    delay_seconds: float = 0.0
    when: str = "before"
    seed: int | None = None
    message: str = "Injected fault"
    seen: int = 0
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, service: str, operation: str) -> bool:
        return self.operation in ("*", operation, f"{service}.{operation}")

    @property
    def exhausted(self) -> bool:
        return self.times > 0 and self.fired >= self.times

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "kind": self.kind,
            "nth": self.nth,
            "rate": self.rate,
            "times": self.times,
            "delay_seconds": self.delay_seconds,
            "when": self.when,
            "seed": self.seed,
            "message": self.message,
            "seen": self.seen,
            "fired": self.fired,
        }


@dataclass(frozen=True)
class Injection:
    rule_id: int
    kind: str
    when: str
    delay_seconds: float
    message: str


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """Validate a control-endpoint document and add the rule; ValueError names the bad field."""
        known = {"operation", "kind", "nth", "rate", "times", "delay_seconds", "when", "seed", "message"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        operation = str(spec.get("operation") or "").strip()
        if not operation:
            raise ValueError("operation is required (an operation name, Service.operation, or *)")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        when = spec.get("when", "before")
        if when not in WHEN:
            raise ValueError("when must be 'before' or 'after'")
        nth, times = int(spec.get("nth", 1)), int(spec.get("times", 1))
        rate, delay = float(spec.get("rate", 1.0)), float(spec.get("delay_seconds", 0.0))
        if nth < 1:
            raise ValueError("nth must be >= 1")
        if times < 0:
            raise ValueError("times must be >= 0 (0 = unlimited)")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if delay < 0 or delay > 300:
            raise ValueError("delay_seconds must be between 0 and 300")
        if kind == "slow" and delay == 0:
            raise ValueError("slow needs delay_seconds > 0")
        seed = spec.get("seed")
        with self._lock:
            rule = FaultRule(
                id=self._next_id,
                operation=operation,
                kind=kind,
                nth=nth,
                rate=rate,
                times=times,
                delay_seconds=delay,
                when=when,
                seed=None if seed is None else int(seed),
                message=str(spec.get("message") or "Injected fault"),
                _rng=random.Random(seed),
            )
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def draw(self, service: str, operation: str) -> Injection | None:
        """Count this call against every matching rule; return the injection to apply, if any."""
        if not self._rules:
            return None
        chosen = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(service, operation):
                    continue
                rule.seen += 1
                if chosen is not None or rule.exhausted or rule.seen < rule.nth:
                    continue
                if rule.rate < 1.0 and rule._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                chosen = Injection(rule.id, rule.kind, rule.when, rule.delay_seconds, rule.message)
        return chosen

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

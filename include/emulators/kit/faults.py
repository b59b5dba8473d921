"""Fault injection: rules that make chosen calls fail the ways real networks and servers do.

A rule names the calls it matches with ``operation``: a call name (each emulator names its
calls, e.g. ``addAll3`` / ``Recipient.addAll3`` or ``audience.contacts.add``), a shell-style
pattern (``audience.*``), or ``*`` for every call. It counts the matching calls that arrive after
it was added; from the ``nth`` of them on it fires with probability ``rate`` (drawn from its own
``seed``-ed generator, so a run is reproducible) until it has fired ``times`` times (0 = no
limit). When several rules match a call, each counts it and the first one (in the order added)
that fires wins.

Kinds every emulator supports (``generic_reply`` builds their replies); an emulator may add its
own (the Optimizely one adds ``soap_fault`` and ``expire_session``):
  http500   HTTP 500 with a non-JSON HTML body, like a failing proxy or load balancer
  http503   HTTP 503 with a ``Retry-After: 1`` header, like an overloaded gateway
  slow      wait ``delay_seconds``, then carry on normally
  drop      close the TCP connection without any response
``when`` = ``before`` acts before the call is applied; ``after`` applies it first (the state
changes) and then fails or delays the response: the case a client must survive without applying
a batch twice.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from include.emulators.kit.http import Reply

GENERIC_KINDS = ("http500", "http503", "slow", "drop")
WHEN = ("before", "after")
FIELDS = ("operation", "kind", "nth", "rate", "times", "delay_seconds", "when", "seed", "message")
# What a reverse proxy answers when the application behind it fails (the shape of nginx's page).
# It is not well-formed (an unclosed <hr>), so no client mistakes it for an API answer.
HTTP500_BODY = (
    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    b"<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
HTTP503_BODY = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


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

    def matches(self, names: tuple[str, ...]) -> bool:
        return any(fnmatchcase(name, self.operation) for name in names)

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
    """The rules of one emulator; ``kinds`` are the kinds it accepts (its own plus the generic ones)."""

    def __init__(self, kinds: tuple[str, ...] = GENERIC_KINDS, operation_hint: str = "a call name") -> None:
        self.kinds = kinds
        self._operation_hint = operation_hint
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """Validate a control-endpoint document and add the rule; ValueError names the bad field."""
        unknown = set(spec) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        operation = str(spec.get("operation") or "").strip()
        if not operation:
            raise ValueError(f"operation is required ({self._operation_hint}, or *)")
        kind = spec.get("kind")
        if kind not in self.kinds:
            raise ValueError(f"kind must be one of {', '.join(self.kinds)}")
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

    def draw(self, *names: str) -> Injection | None:
        """Count this call (known by ``names``) against every matching rule; return the
        injection to apply, if any."""
        if not self._rules:
            return None
        chosen = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(names):
                    continue
                rule.seen += 1
                if chosen is not None or rule.exhausted or rule.seen < rule.nth:
                    continue
                if rule.rate < 1.0 and rule._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                chosen = Injection(rule.id, rule.kind, rule.when, rule.delay_seconds, rule.message)
        return chosen

    def clear(self) -> int:
        with self._lock:
            count = len(self._rules)
            self._rules.clear()
            return count

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]


def generic_reply(injection: Injection) -> Reply | None:
    """The reply a generic injection forces, or None to carry on (after a ``slow`` delay, or for
    a kind the emulator handles itself)."""
    if injection.kind == "slow":
        # A real delay on purpose: it simulates a slow platform for client timeouts.
        time.sleep(injection.delay_seconds)
        return None
    if injection.kind == "drop":
        return Reply(0, drop=True)
    if injection.kind == "http500":
        return Reply(500, HTTP500_BODY, "text/html; charset=utf-8")
    if injection.kind == "http503":
        return Reply(503, HTTP503_BODY, "text/html; charset=utf-8", headers=(("Retry-After", "1"),))
    return None

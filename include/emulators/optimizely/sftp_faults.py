"""Fault injection for the SFTP side: break a download part-way, the way networks and servers do.

``POST /_control/sftp/faults`` ``{"kind": "drop", "after_bytes": 4096, "path": "responses_*.csv",
"nth": 1, "times": 1}``:

* ``kind``:
  - ``drop``: the server closes the whole SSH connection as soon as the client asks for a byte past
    ``after_bytes`` of the file (the client has received at most ``after_bytes`` bytes);
  - ``truncate``: the file ends early: reads past ``after_bytes`` get end-of-file although the
    listing and ``stat`` show the full size (a file shortened while being read).
* ``path``: a glob matched against the file name and against its full remote path (default ``*``).
* The rule counts the matching opens for reading that happen after it was added; it fires from the
  ``nth`` (default 1) on, ``times`` times (default 1; 0 = every time).

Rules are cleared by ``DELETE /_control/sftp/faults`` and by ``POST /_control/reset``.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any

SFTP_FAULT_KINDS = ("drop", "truncate")


@dataclass
class SftpFaultRule:
    id: int
    kind: str
    after_bytes: int
    path: str = "*"
    nth: int = 1
    times: int = 1
    seen: int = 0
    fired: int = 0

    def matches(self, remote_path: str) -> bool:
        name = remote_path.rsplit("/", 1)[-1]
        return fnmatch.fnmatch(name, self.path) or fnmatch.fnmatch(remote_path, self.path)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SftpInjection:
    rule_id: int
    kind: str
    after_bytes: int


class SftpFaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[SftpFaultRule] = []
        self._ids = itertools.count(1)

    def add(self, doc: dict[str, Any]) -> SftpFaultRule:
        unknown = set(doc) - {"kind", "after_bytes", "path", "nth", "times"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        kind = doc.get("kind")
        if kind not in SFTP_FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SFTP_FAULT_KINDS)}")
        if "after_bytes" not in doc:
            raise ValueError("after_bytes is required")
        after_bytes, nth, times = int(doc["after_bytes"]), int(doc.get("nth", 1)), int(doc.get("times", 1))
        if after_bytes < 0 or nth < 1 or times < 0:
            raise ValueError("after_bytes and times must be >= 0, nth >= 1")
        with self._lock:
            rule = SftpFaultRule(next(self._ids), kind, after_bytes, str(doc.get("path") or "*"), nth, times)
            self._rules.append(rule)
            return rule

    def clear(self) -> int:
        with self._lock:
            count = len(self._rules)
            self._rules.clear()
            return count

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def on_open(self, remote_path: str) -> SftpInjection | None:
        """Called for each open-for-reading; the injection this download gets, if any."""
        chosen = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(remote_path):
                    continue
                rule.seen += 1
                exhausted = rule.times and rule.fired >= rule.times
                if chosen is None and rule.seen >= rule.nth and not exhausted:
                    rule.fired += 1
                    chosen = SftpInjection(rule.id, rule.kind, rule.after_bytes)
        return chosen

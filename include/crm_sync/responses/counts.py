"""Per-file row counts of a response file: every data line is applied, known, ignored or rejected.

* ``applied``: the line's event changed the CRM now: a new campaign response, or a bounce or
  unsubscribe newly stored by the feedback apply (which marks the entity / revokes the consent);
* ``known``: a valid line whose effect is already there (a duplicate line in the file, an event
  imported before from another file or an earlier attempt);
* ``ignored``: a valid event deliberately not applied, counted by reason: an open or click of a
  mailing that maps to no CRM campaign (``no CRM campaign``), an autoresponder;
* ``rejected``: a malformed line, or an event of a recipient the CRM does not know; each has a
  ``rejected_row`` with line and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from include.crm_sync.responses.errors import ResponseCountError


@dataclass(frozen=True, slots=True)
class ResponseCounts:
    read: int = 0
    applied: int = 0
    known: int = 0
    ignored: int = 0
    rejected: int = 0
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def adds_up(self) -> bool:
        parts = (self.applied, self.known, self.ignored, self.rejected)
        return (
            self.read == sum(parts)
            and min(self.read, *parts) >= 0
            and sum(self.ignored_by_reason.values()) == self.ignored
            and sum(self.rejected_by_reason.values()) == self.rejected
        )

    def check(self, file_name: str) -> ResponseCounts:
        if not self.adds_up:
            raise ResponseCountError(
                f"{file_name}: counts do not add up: read {self.read} != applied {self.applied} + known "
                f"{self.known} + ignored {self.ignored} {self.ignored_by_reason} + rejected {self.rejected} "
                f"{self.rejected_by_reason}; nothing of the file was applied"
            )
        return self

    def __add__(self, other: ResponseCounts) -> ResponseCounts:
        def merged(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) + b.get(k, 0) for k in sorted(set(a) | set(b))}

        return ResponseCounts(
            self.read + other.read,
            self.applied + other.applied,
            self.known + other.known,
            self.ignored + other.ignored,
            self.rejected + other.rejected,
            merged(self.ignored_by_reason, other.ignored_by_reason),
            merged(self.rejected_by_reason, other.rejected_by_reason),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "applied": self.applied,
            "known": self.known,
            "ignored": self.ignored,
            "rejected": self.rejected,
            "ignored_by_reason": dict(self.ignored_by_reason),
            "rejected_by_reason": dict(self.rejected_by_reason),
        }

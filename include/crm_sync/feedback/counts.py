"""Per-file row counts: every data row read is applied, known, or rejected (invariant 5).

* ``applied``: the row stored at least one new event (a new bounce/unsubscribe for a CRM entity).
* ``known``: a valid row whose event is already stored (an overlapping window, or a duplicate
  line within the same file); applying it changes nothing new.
* ``rejected``: invalid rows and rows of unknown recipients, each with a ``rejected_row`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from include.crm_sync.feedback.errors import CountMismatchError


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    read: int
    applied: int
    known: int
    rejected: int

    @classmethod
    def zero(cls) -> FeedbackCounts:
        return cls(0, 0, 0, 0)

    @property
    def adds_up(self) -> bool:
        return (
            self.read == self.applied + self.known + self.rejected
            and min(self.read, self.applied, self.known, self.rejected) >= 0
        )

    def check(self, file_name: str) -> FeedbackCounts:
        """Raise ``CountMismatchError`` unless read = applied + known + rejected."""
        if not self.adds_up:
            raise CountMismatchError(
                f"{file_name}: counts do not add up: read {self.read} != applied {self.applied} + known "
                f"{self.known} + rejected {self.rejected}; nothing of the file was applied"
            )
        return self

    def __add__(self, other: FeedbackCounts) -> FeedbackCounts:
        return FeedbackCounts(
            self.read + other.read,
            self.applied + other.applied,
            self.known + other.known,
            self.rejected + other.rejected,
        )

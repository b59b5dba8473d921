"""The outcome of validating one snapshot: plain-words results that go to the log and the audit.

Stored as JSON in ``list_run.validation`` (data-quality expectations) and ``list_run.guard``
(size guards, and whether a run was forced past them). Examples are masked before they get here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: a failed data-quality expectation makes the snapshot unusable; force does not override it
QUALITY = "quality"
#: a tripped guard stops the refill unless the run is forced past it
GUARD = "guard"


@dataclass(frozen=True)
class CheckOutcome:
    """One expectation or guard: what it asks, in plain words, and what it found."""

    key: str
    kind: str  # QUALITY or GUARD
    description: str
    success: bool
    unexpected_count: int | None = None
    examples: list[str] = field(default_factory=list)
    observed: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    def failure_text(self) -> str:
        """Plain words for a failed check: which, how many rows, masked examples."""
        text = f"{self.description}: FAILED"
        if self.unexpected_count is not None:
            verb = "row does" if self.unexpected_count == 1 else "rows do"
            text += f", {self.unexpected_count:,} {verb} not comply"
        if self.observed is not None:
            text += f" (observed: {self.observed})"
        if self.examples:
            text += f", e.g. {', '.join(self.examples)}"
        return text


@dataclass(frozen=True)
class ValidationReport:
    list_run_id: int
    list_name: str
    status: str  # validated | invalid | guarded
    checks: list[CheckOutcome]
    force: bool = False
    seconds: float = 0.0
    gx_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True when the snapshot may replace the platform list."""
        return self.status == "validated"

    @property
    def failed_expectations(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.kind == QUALITY and not c.success]

    @property
    def tripped_guards(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.kind == GUARD and not c.success]

    @property
    def forced(self) -> bool:
        """True when a tripped guard was overridden by ``force``."""
        return self.force and bool(self.tripped_guards) and not self.failed_expectations

    def validation_json(self) -> dict[str, Any]:
        return {
            "passed": not self.failed_expectations,
            "expectations": [asdict(c) for c in self.checks if c.kind == QUALITY],
            "gx_seconds": round(self.gx_seconds, 3),
        }

    def guard_json(self) -> dict[str, Any]:
        return {
            "tripped": bool(self.tripped_guards),
            "force_requested": self.force,
            "forced": self.forced,
            "checks": [asdict(c) for c in self.checks if c.kind == GUARD],
        }

"""What a feedback import did, per file and in total (JSON-friendly for XCom and ``sync_run.summary``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from include.crm_sync.feedback.counts import FeedbackCounts
from include.crm_sync.platforms.base import FeedbackKind

#: the file was applied now / its content had been applied under another name / it was applied before
APPLIED, DUPLICATE, ALREADY_APPLIED = "applied", "duplicate", "already_applied"


@dataclass(frozen=True, slots=True)
class FeedbackFileReport:
    kind: FeedbackKind
    file_name: str
    path: Path
    file_id: int
    status: str
    counts: FeedbackCounts
    entities_bounced: int = 0
    consents_revoked: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    window_since: datetime | None = None
    window_until: datetime | None = None
    #: platform time range that may be lost (operator accepted it with allow_gap)
    gap: tuple[datetime, datetime] | None = None
    #: CRM entities held out of every list because a rejected row names them
    held_entities: int = 0
    #: applied events whose date cannot be true (recorded with the time of receipt), by reason
    untrusted_dates: dict[str, int] = field(default_factory=dict)
    #: values not used to identify the person or stored as NULL, by column and reason
    neutralised: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "kind": self.kind.value,
            "file_name": self.file_name,
            "file_id": self.file_id,
            "status": self.status,
            "read": self.counts.read,
            "applied": self.counts.applied,
            "known": self.counts.known,
            "rejected": self.counts.rejected,
            "entities_bounced": self.entities_bounced,
            "consents_revoked": self.consents_revoked,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "window": [iso(self.window_since), iso(self.window_until)],
            "gap": [iso(self.gap[0]), iso(self.gap[1])] if self.gap else None,
            "held_entities": self.held_entities,
            "untrusted_dates": dict(self.untrusted_dates),
            "neutralised": dict(self.neutralised),
        }


@dataclass(slots=True)
class FeedbackImportReport:
    run_id: str
    platform: str
    files: list[FeedbackFileReport] = field(default_factory=list)

    @property
    def totals(self) -> FeedbackCounts:
        total = FeedbackCounts.zero()
        for report in self.files:
            total = total + report.counts
        return total

    def file(self, kind: FeedbackKind) -> FeedbackFileReport:
        return next(r for r in self.files if r.kind is kind)

    def as_dict(self) -> dict[str, Any]:
        totals = self.totals
        return {
            "run_id": self.run_id,
            "platform": self.platform,
            "files": [r.as_dict() for r in self.files],
            "totals": {
                "read": totals.read,
                "applied": totals.applied,
                "known": totals.known,
                "rejected": totals.rejected,
            },
            "held_entities": sum(f.held_entities for f in self.files),
        }

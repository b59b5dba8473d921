"""What a response import did, per file and in total (JSON-friendly for XCom and logs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from include.crm_sync.responses.counts import ResponseCounts
from include.crm_sync.responses.gap import GapCheck

#: outcomes of one remote file in one run
APPLIED = "applied"  # applied now (also: re-imported)
DRY_RUN = "dry_run"  # would be applied; everything rolled back
DUPLICATE = "duplicate"  # its content was applied before under another name: nothing applied
ALREADY_IMPORTED = "already_imported"  # in the ledger as applied: not downloaded again
REFUSED = "refused"  # truncated, wrong header, not UTF-8: nothing applied, not in the ledger
FAILED = "failed"  # download or apply failed: nothing of it applied; retried by the next attempt
CHANGED = "changed"  # the ledger has this name as a file of another kind: never applied, needs a human


@dataclass(slots=True)
class ResponseFileReport:
    file_name: str
    status: str
    size_bytes: int
    file_id: int | None = None
    sha256: str | None = None
    counts: ResponseCounts = field(default_factory=ResponseCounts)
    campaign_responses: int = 0
    entities_bounced: int = 0
    consents_revoked: int = 0
    closed_loop_mappings: int = 0
    reimport: bool = False
    error: str | None = None
    #: e.g. new content under a name the ledger knows (imported as a new file)
    note: str | None = None
    #: CRM entities held out of every list because a rejected line names them (fail-safe)
    held_entities: int = 0
    #: bounces/unsubscribes applied with the time of receipt, their date cannot be true, by reason
    untrusted_dates: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "status": self.status,
            "size_bytes": self.size_bytes,
            "file_id": self.file_id,
            "sha256": self.sha256,
            **self.counts.as_dict(),
            "campaign_responses": self.campaign_responses,
            "entities_bounced": self.entities_bounced,
            "consents_revoked": self.consents_revoked,
            "closed_loop_mappings": self.closed_loop_mappings,
            "reimport": self.reimport,
            "error": self.error,
            "note": self.note,
            "held_entities": self.held_entities,
            "untrusted_dates": dict(self.untrusted_dates),
        }


@dataclass(slots=True)
class ResponseImportReport:
    run_id: str
    dry_run: bool
    remote_dir: str
    gap: GapCheck | None = None
    files: list[ResponseFileReport] = field(default_factory=list)
    #: the import succeeded as a whole and was recorded (gap detection starts from here)
    recorded_success: bool = False

    @property
    def totals(self) -> ResponseCounts:
        total = ResponseCounts()
        for report in self.files:
            total = total + report.counts
        return total

    def by_status(self, *statuses: str) -> list[ResponseFileReport]:
        return [f for f in self.files if f.status in statuses]

    @property
    def problems(self) -> list[ResponseFileReport]:
        return self.by_status(REFUSED, FAILED, CHANGED)

    def as_dict(self) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        for report in self.files:
            statuses[report.status] = statuses.get(report.status, 0) + 1
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "remote_dir": self.remote_dir,
            "gap": self.gap.as_dict() if self.gap else None,
            "files_by_status": statuses,
            "totals": self.totals.as_dict(),
            "campaign_responses": sum(f.campaign_responses for f in self.files),
            "entities_bounced": sum(f.entities_bounced for f in self.files),
            "consents_revoked": sum(f.consents_revoked for f in self.files),
            "held_entities": sum(f.held_entities for f in self.files),
            "recorded_success": self.recorded_success,
            "files": [f.as_dict() for f in self.files],
        }

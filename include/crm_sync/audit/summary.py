"""The summary of one sync run, built from the audit tables (the single source of truth).

Used by the DAG's report task, the demo's closing lines and the tests: per list, what was
selected, excluded by reason, kept in the snapshot, validated (and why not), uploaded, answered per
result code (all of 0-7), rejected, counted on the platform, and how long the platform list stood
empty or partial (``clear`` to the answer of the last ``addAll3``, from the recorded timestamps).
A list synced by membership (Spotler, Mailjet) or by labels (Flexmail) also shows the members
added, removed, refused (by the platform's code) and unchanged, and a label list the removals of its
label still queued. The platform lists the run deleted (gone from lists.yaml, or ``delete: true``)
come from the run's stored summary, as the report task wrote them (``platform_list_deletions``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from include.crm_sync.imports.holds import open_hold_count
from include.crm_sync.staging.tables import list_run, sync_run, sync_run_platform_feedback


@dataclass(frozen=True)
class ListSummary:
    list_name: str
    platform: str
    platform_list_id: str
    status: str
    selected: int | None
    excluded: dict[str, int]
    snapshot_rows: int | None
    #: rows that passed validation (the snapshot), 0 when it failed, None when not validated
    validated: int | None
    #: failed expectations and tripped guards in plain words (empty when validation passed)
    validation_failures: list[str]
    #: a tripped guard was overridden by the run's ``force`` param
    forced: bool
    uploaded: int | None
    accepted: int | None
    result_codes: dict[str, int]
    rejected: int | None
    platform_count: int | None
    window_seconds: float | None
    error: str | None
    #: membership / label sync only (None for a refill list): confirmed members added and removed,
    #: snapshot members already on the platform list, refusals by the platform's code
    added: int | None = None
    removed: int | None = None
    unchanged: int | None = None
    refused: dict[str, int] | None = None
    #: label sync only: removals of this list's label still queued after the run
    backlog: int | None = None

    @property
    def refused_total(self) -> int | None:
        return None if self.refused is None else sum(self.refused.values())

    @property
    def ok(self) -> bool:
        # superseded: a newer run's snapshot of the same platform list is (to be) uploaded instead
        return self.status in ("synced", "dry_run", "superseded")


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    dry_run: bool
    feedback_ok: bool
    lists: list[ListSummary] = field(default_factory=list)
    #: the run was triggered with ``force`` (past tripped guards)
    forced: bool = False
    #: people held out of every list by a rejected feedback row, when the summary was built
    held_people: int = 0
    #: the platforms whose feedback import succeeded in this run (feedback gates per platform)
    feedback_platforms: list[str] = field(default_factory=list)
    #: platform lists the run deleted or could not delete (``deletion_lines``)
    deletions: list[PlatformListDeletion] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """What an operator must act on, in plain words."""
        notes = [
            f"list {item.list_name}: {item.backlog:,} label removal(s) still queued (the platform's rate "
            "limit); they go first in the next run"
            for item in self.lists
            if item.backlog
        ]
        notes += [d.line for d in self.deletions if d.in_use]
        if self.held_people:
            notes.append(
                f"{self.held_people} person(s) are held out of every list: a bounce or unsubscribe naming "
                "them could not be applied. Check each with `python -m include.crm_sync.feedback.holds "
                "list`, then resolve it."
            )
        return notes

    @property
    def failed_lists(self) -> list[str]:
        return [item.list_name for item in self.lists if not item.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "feedback_ok": self.feedback_ok,
            "feedback_platforms": self.feedback_platforms,
            "forced": self.forced,
            "lists": [asdict(item) for item in self.lists],
            "failed_lists": self.failed_lists,
            "held_people": self.held_people,
            PLATFORM_LIST_DELETIONS: [asdict(d) for d in self.deletions],
            "notes": self.notes,
        }

    def as_table(self) -> str:
        """A plain-text table for logs and the terminal (counts only, no addresses).

        Headers are short so a night of several platforms fits about 110 columns: valid. =
        validated, upload = uploaded, rej. = rejected (refill), unch. = unchanged, on pf = count on
        the platform, empty list (s) = seconds the list stood empty or partial. Added / removed /
        refused / unch. are "-" for a refill list (its answers are the codes 0-7).
        """
        header = (
            "list",
            "status",
            "selected",
            "excluded",
            "snapshot",
            "valid.",
            "upload",
            "accepted",
            "codes 0-7",
            "rej.",
            "added",
            "removed",
            "refused",
            "unch.",
            "on pf",
            "empty list (s)",
        )
        rows = [header]
        for item in self.lists:
            codes = (
                "/".join(str(item.result_codes.get(str(c), 0)) for c in range(8))
                if item.result_codes
                else "-"
            )
            rows.append(
                tuple(
                    "-" if v is None else str(v)
                    for v in (
                        item.list_name,
                        item.status,
                        item.selected,
                        sum(item.excluded.values()),
                        item.snapshot_rows,
                        item.validated,
                        item.uploaded,
                        item.accepted,
                        codes,
                        item.rejected,
                        item.added,
                        item.removed,
                        item.refused_total,
                        item.unchanged,
                        item.platform_count,
                        item.window_seconds,
                    )
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        table = "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows)
        deleted = [d.line for d in self.deletions if not d.in_use]
        return "\n".join([table, *deleted, *self.notes])


#: key of ``sync_run.summary`` holding the run's platform list deletions
PLATFORM_LIST_DELETIONS = "platform_list_deletions"


@dataclass(frozen=True)
class PlatformListDeletion:
    """One platform list the run's ``delete_removed_lists`` task deleted, found gone, or left in use."""

    platform: str
    platform_list_id: str
    #: the list marked ``delete: true``; None for a list removed from lists.yaml
    list_name: str | None
    #: "deleted", "already gone", or "in use: <what the user must do first>"
    outcome: str

    @property
    def in_use(self) -> bool:
        return self.outcome.startswith("in use")

    @property
    def line(self) -> str:
        what = f"list {self.list_name}" if self.list_name else "a list no longer in lists.yaml"
        return f"{self.platform} list {self.platform_list_id} ({what}): {self.outcome}"


def deletions_from_cleanups(cleanups: dict[str, dict[str, Any]]) -> list[PlatformListDeletion]:
    """The ``delete_removed_lists`` task's answer (platform -> ``TargetCleanup.as_dict()`` plus
    ``list_names``) as report lines."""
    found = []
    for platform, cleanup in sorted(cleanups.items()):
        names = cleanup.get("list_names") or {}
        outcomes = {list_id: "deleted" for list_id in cleanup.get("deleted", [])}
        outcomes |= {list_id: "already gone" for list_id in cleanup.get("missing", [])}
        outcomes |= {list_id: f"in use, not deleted: {a}" for list_id, a in cleanup.get("in_use", {}).items()}
        found += [
            PlatformListDeletion(platform, list_id, names.get(list_id), outcome)
            for list_id, outcome in sorted(outcomes.items())
        ]
    return found


#: list run statuses reached only through a passed validation
_VALIDATED_STATUSES = ("validated", "refilling", "synced", "dry_run", "superseded")
RESULT_CODES = tuple(str(code) for code in range(8))


def _validation(row: Any) -> tuple[int | None, list[str], bool]:
    """(validated rows, failures in plain words, forced) of one list run row."""
    validation, guard = row["validation"] or {}, row["guard"] or {}
    failures = [
        _failure_text(check)
        for check in [*validation.get("expectations", []), *guard.get("checks", [])]
        if not check.get("success", True)
    ]
    forced = bool(guard.get("forced"))
    if row["status"] in _VALIDATED_STATUSES and validation:
        return row["snapshot_rows"], [] if forced else failures, forced
    if row["status"] in ("invalid", "guarded"):
        return 0, failures, False
    return None, failures, False


def _failure_text(check: dict[str, Any]) -> str:
    text = str(check.get("description", check.get("key", "?")))
    if check.get("unexpected_count") is not None:
        text += f" ({check['unexpected_count']:,} rows)"
    if check.get("observed") is not None:
        text += f" (observed: {check['observed']})"
    return text


def _window_seconds(row: Any) -> float | None:
    if row["cleared_at"] is not None and row["last_batch_at"] is not None:
        return round((row["last_batch_at"] - row["cleared_at"]).total_seconds(), 3)
    return row["window_seconds"]


def build_run_summary(engine: Engine, run_id: str) -> RunSummary:
    with engine.connect() as conn:
        run = conn.execute(select(sync_run).where(sync_run.c.run_id == run_id)).mappings().first()
        if run is None:
            raise LookupError(f"sync run {run_id!r} does not exist")
        rows = (
            conn.execute(select(list_run).where(list_run.c.run_id == run_id).order_by(list_run.c.list_name))
            .mappings()
            .all()
        )
        _holds, held_people = open_hold_count(conn)
        platforms_ok = sorted(
            conn.execute(
                select(sync_run_platform_feedback.c.platform).where(
                    sync_run_platform_feedback.c.run_id == run_id
                )
            ).scalars()
        )
    lists = []
    for r in rows:
        validated, failures, forced = _validation(r)
        codes = {str(k): v for k, v in (r["result_codes"] or {}).items()}
        if r["uploaded"] is not None:  # every code, also those no recipient got
            codes = {code: codes.get(code, 0) for code in RESULT_CODES}
        lists.append(
            ListSummary(
                list_name=r["list_name"],
                platform=r["platform"],
                platform_list_id=r["platform_list_id"],
                status=r["status"],
                selected=r["selected"],
                excluded=dict(r["excluded"] or {}),
                snapshot_rows=r["snapshot_rows"],
                validated=validated,
                validation_failures=failures,
                forced=forced,
                uploaded=r["uploaded"],
                accepted=r["accepted"],
                result_codes=codes,
                rejected=r["rejected"],
                platform_count=r["platform_count"],
                window_seconds=_window_seconds(r),
                error=r["error"],
                added=r["added"],
                removed=r["removed"],
                unchanged=r["unchanged"],
                refused=None if r["refused"] is None else {str(k): v for k, v in r["refused"].items()},
                backlog=r["backlog"],
            )
        )
    stored = (run["summary"] or {}).get(PLATFORM_LIST_DELETIONS) or []
    return RunSummary(
        run_id=run_id,
        dry_run=bool(run["dry_run"]),
        lists=lists,
        # the run-wide flag, or this run's feedback import of every platform its lists are on
        feedback_ok=bool(run["feedback_ok"])
        or (bool(platforms_ok) and {item.platform for item in lists} <= set(platforms_ok)),
        forced=bool(run["forced"]),
        held_people=held_people,
        feedback_platforms=platforms_ok,
        deletions=[PlatformListDeletion(**d) for d in stored],
    )

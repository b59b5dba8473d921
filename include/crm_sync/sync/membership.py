"""Membership sync: make a platform list that the platform keeps (Spotler audience, Mailjet list,
Flexmail label) equal to a validated snapshot, removals first, resumably.

Order of work for one list run (``sync_membership``):

1. Preconditions, before anything is sent: this run's feedback import succeeded, the snapshot is
   validated and complete, and the caller's ``writer_guard`` (one writer per platform list, newest
   snapshot only) is entered and held to the end.
2. Mode. Where the platform cannot list its members (Spotler), the sync knows the list only from
   its own record (``membership_store``). Any doubt about that record means *full*: empty the list
   (or, where the platform lists its members -- ``lists_members``, Mailjet -- remove only who the
   snapshot lacks: ``reconcile``) and add everyone; otherwise *incremental*. Doubts: no earlier
   sync (first sync), a sync-state row still ``in_progress`` (a crashed run: an answer may have
   been lost), a recorded count that disagrees with the state row, a platform count (where it has
   one) that disagrees with the record, the list just (re)created, or ``full_resync`` asked for
   (config or run param).
3. The list itself: ``ensure_target`` creates it, or renames / re-describes it.
4. Upserts: every snapshot member whose uploaded fields (a hash per member) changed since their
   last confirmed upsert, or who was never upserted, in the platform's batch size; a quiet night
   sends nothing here. CONTACT_OPTOUT (the platform holds an opt-out) goes back to the CRM as an
   unsubscribe (``opt_outs``) and that member is never added; other refusals are audited.
5. Volume guard, before any removal: the share of recorded members about to leave.
6. Removals first: members recorded in the list but not (eligibly) in the snapshot, in the
   platform's batch size -- or, in full mode, one ``empty``. A platform whose removal would erase
   a list unsubscribe (``UnsubscribeAwareRemovals``, Mailjet) gets the opt-out sink first and
   hands it the unsubscribes of whom it is about to remove.
7. Adds: eligible snapshot members not in the list. An add naming contacts the platform no longer
   knows re-upserts those once and adds them again. Members the platform refuses one by one (a
   bulk job's per-contact errors) are audited like refused upserts (``list_rejected``, the
   report's ``refused`` by code) and stay out of the record; the rest of the list completes, and
   the next run tries them again. A removal refused one by one leaves that member recorded (it is
   still in the list), counted in ``refused``.
8. The record and the state row say ``synced``; the list run gets its counts.

The list run's ``added``/``removed``/``refused`` (the run report's columns) are written with each
confirmed batch, in the transaction that records it, and completed with ``unchanged`` at the end:
they count this attempt's confirmed work (a retry starts them again, as it starts in full mode).

Every confirmed call is recorded before the next is sent, so a crash anywhere loses at most one
answer; the next attempt (``in_progress`` => full) ends with the list equal to the snapshot.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, func, select, update

from include.crm_sync.audit.runs import platform_feedback_ok
from include.crm_sync.config.models import TECHNICAL_ATTRIBUTES
from include.crm_sync.platforms.base import (
    AddOutcome,
    FeedbackKind,
    FeedbackRow,
    MembershipPlatform,
    MembershipTarget,
    MembersNotFound,
    Recipient,
    TargetChange,
    UnsubscribeAwareRemovals,
    UpsertResult,
)
from include.crm_sync.staging.tables import list_rejected, list_run, list_snapshot
from include.crm_sync.sync.batch_results import REASONS
from include.crm_sync.sync.membership_store import (
    IN_PROGRESS,
    MembershipStore,
    SyncState,
    fields_hash,
    record_writer,
)
from include.crm_sync.sync.progress import Progress
from include.crm_sync.sync.snapshot_pages import snapshot_batches

log = logging.getLogger(__name__)

#: list run statuses from which a membership sync may start (or continue, or confirm it is done)
SYNCABLE = ("validated", "syncing", "synced")
INCREMENTAL = "incremental"
FULL = "full"


class MembershipSyncError(RuntimeError):
    """The sync did not complete; the next attempt resumes (in full mode)."""


class MembershipSyncNotAllowed(MembershipSyncError):
    """Preconditions do not hold (feedback not applied, snapshot not validated or incomplete)."""


class RemovalGuardTripped(MembershipSyncError):
    """More members would leave than the list's guard allows; nothing was removed."""


class CountMismatch(MembershipSyncError):
    """The platform's member count disagrees with the record after the sync."""


@dataclass(frozen=True)
class MembershipOptions:
    #: empty + add all whatever the record says (the list's ``full_resync``, or a run param)
    full_resync: bool = False
    #: the most of the recorded members one sync may remove (the list's ``guards.max_drop_ratio``)
    max_removal_ratio: float | None = None
    #: the operator forced past the guard
    force: bool = False
    #: snapshot rows read per page
    page_size: int = 1000
    #: a progress line per phase (upload check, removals, adds) at most this often
    progress_every_seconds: float = 10.0


@dataclass(frozen=True)
class WriterContext:
    """What a ``writer_guard`` needs to know: which platform list, and which snapshot wants to write."""

    platform: str
    platform_list_id: str
    list_run_id: int
    run_id: str
    list_name: str


#: entered before the first write and held to the end; raises to stop the sync (e.g. a newer snapshot
#: exists, or another writer holds the list). If what it yields has ``renew()``, that is called after
#: every confirmed write (a lease kept alive while the sync progresses).
WriterGuard = Callable[[WriterContext], AbstractContextManager[object]]
#: takes the opt-outs an upsert revealed and applies them to the CRM (``membership_optouts``)
OptOutSink = Callable[[Sequence[FeedbackRow]], None]


@dataclass
class MembershipReport:
    list_run_id: int
    list_name: str
    platform: str
    platform_list_id: str
    snapshot_rows: int
    mode: str = INCREMENTAL
    full_reason: str | None = None
    target: str = TargetChange.UNCHANGED.value
    upserted: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    #: refused at upsert (or at add: unknown contact), by the platform's code
    refused: dict[str, int] = field(default_factory=dict)
    opted_out: int = 0
    members: int = 0
    #: calls sent, by kind
    calls: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class _ListRun:
    list_run_id: int
    run_id: str
    list_name: str
    platform: str
    platform_list_id: str
    attribute_names: tuple[str, ...]
    snapshot_rows: int


def sync_membership(
    engine: Engine,
    platform: MembershipPlatform,
    list_run_id: int,
    target: MembershipTarget,
    *,
    opt_outs: OptOutSink,
    options: MembershipOptions | None = None,
    writer_guard: WriterGuard | None = None,
    now: Callable[[], datetime] | None = None,
) -> MembershipReport:
    """Sync ``target`` to the snapshot of ``list_run_id`` (see the module docstring)."""
    options = options or MembershipOptions()
    clock = now or (lambda: datetime.now(UTC))
    lr = _load_list_run(engine, list_run_id, platform.name, forced=options.force)
    if lr.platform_list_id != target.list_id:
        raise MembershipSyncNotAllowed(
            f"list {lr.list_name!r}: list run {list_run_id} is for platform list {lr.platform_list_id!r}, "
            f"not {target.list_id!r}"
        )
    _check_snapshot_complete(engine, lr)
    report = MembershipReport(
        lr.list_run_id, lr.list_name, platform.name, lr.platform_list_id, lr.snapshot_rows
    )
    guard = writer_guard or (lambda _ctx: nullcontext())
    context = WriterContext(platform.name, lr.platform_list_id, lr.list_run_id, lr.run_id, lr.list_name)
    with guard(context) as lease:
        renew = getattr(lease, "renew", None) or (lambda: None)
        _Sync(engine, platform, lr, target, options, opt_outs, clock, renew, report).run()
    log.info(
        "list %s -> %s %s (%s%s): %d upserted, %d removed, %d added, %d unchanged, refused %s; %d members",
        lr.list_name,
        platform.name,
        lr.platform_list_id,
        report.mode,
        f": {report.full_reason}" if report.full_reason else "",
        report.upserted,
        report.removed,
        report.added,
        report.unchanged,
        report.refused or "none",
        report.members,
    )
    return report


class _Sync:
    """One sync of one list run; methods follow the steps of the module docstring."""

    def __init__(
        self,
        engine: Engine,
        platform: MembershipPlatform,
        lr: _ListRun,
        target: MembershipTarget,
        options: MembershipOptions,
        opt_outs: OptOutSink,
        clock: Callable[[], datetime],
        renew: Callable[[], object],
        report: MembershipReport,
    ) -> None:
        self.engine, self.platform, self.lr, self.target = engine, platform, lr, target
        self.options, self.opt_outs, self.clock, self.renew, self.report = (
            options,
            opt_outs,
            clock,
            renew,
            report,
        )
        self.store = MembershipStore(platform.name, lr.platform_list_id)
        self.codes: Counter[int] = Counter()
        # The refill's technical fields (opt-in-id, description, ...) describe one list's upload; a
        # membership platform's contact is shared by every list, so they are never written onto it.
        self.upload_columns = [i for i, n in enumerate(lr.attribute_names) if n not in TECHNICAL_ATTRIBUTES]
        self.upload_names = tuple(lr.attribute_names[i] for i in self.upload_columns)
        self.cleared_at: datetime | None = None
        self.writer: Connection  # set by run(): the connection confirmed calls are recorded on
        self.last_add_at: datetime | None = None

    def run(self) -> None:
        if isinstance(self.platform, UnsubscribeAwareRemovals):
            self.platform.report_unsubscribes_to(self.opt_outs)
        with record_writer(self.engine) as writer:
            self.writer = writer
            self._run()

    def _run(self) -> None:
        lr = self.lr
        self._set_list_run(status="syncing", error=None, added=0, removed=0, unchanged=None, refused={})
        with self.engine.begin() as conn:
            conn.execute(delete(list_rejected).where(list_rejected.c.list_run_id == lr.list_run_id))
            state = self.store.state(conn)
            if state is None:  # first sync: from now on the platform may hold something we did not record
                self._begin_writing(conn, FULL, "first sync")
        change = self.platform.ensure_target(self.target)
        self._count_call("ensure_target")
        self.report.target = change.value
        mode, reason = self._mode(state, change)
        self.report.mode, self.report.full_reason = mode, reason
        self._upserts()
        if self.report.upserted:  # the record may have grown from nothing: plan the pages on it anew
            with self.engine.begin() as conn:
                self.store.refresh_statistics(conn)
        leaving = self._guard(mode)
        with self.engine.begin() as conn:
            self._begin_writing(conn, mode, reason)
        if mode == FULL:
            if change is TargetChange.CREATED:  # a list made just now is empty already
                pass
            elif getattr(self.platform, "lists_members", False):
                # the platform can list its members (Mailjet): remove who the snapshot lacks, keep
                # the rest (no empty-list window, their list unsubscribes kept); adds follow
                self.report.removed += self.platform.reconcile(lr.platform_list_id, self._in_snapshot)
                self._count_call("reconcile")
            else:
                self.platform.empty(lr.platform_list_id)
                self._count_call("empty")
                # the empty-list window, from here to the last add (the audit shows it like a refill's)
                self.cleared_at = self.clock()
                self._set_list_run(cleared_at=self.cleared_at, last_batch_at=None, window_seconds=None)
            with self.engine.begin() as conn:
                self.store.forget_members(conn, self.clock())
            self.renew()
        else:
            self._removals(leaving)
        self._adds()
        self._finish()

    # ------------------------------------------------------------------ mode

    def _mode(self, state: SyncState | None, change: TargetChange) -> tuple[str, str | None]:
        if state is None:
            return FULL, "first sync"
        if self.options.full_resync:
            return FULL, "full resync requested"
        if state.status == IN_PROGRESS:
            return FULL, f"the previous sync (list run {state.list_run_id}) did not complete"
        if change is TargetChange.CREATED:
            return FULL, "the platform list did not exist and was created"
        with self.engine.connect() as conn:
            recorded = self.store.count_in_audience(conn)
        if recorded != state.members:
            return FULL, f"the record holds {recorded} members, the last sync left {state.members}"
        count = self.platform.member_count(self.lr.platform_list_id)
        if count is not None and count != recorded:
            return FULL, f"the platform holds {count} members, the record {recorded}"
        return INCREMENTAL, None

    def _in_snapshot(self, emails: Sequence[str]) -> set[str]:
        """Those of these (normalised) addresses the snapshot holds: ``reconcile``'s question."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    select(list_snapshot.c.email).where(
                        list_snapshot.c.list_run_id == self.lr.list_run_id,
                        list_snapshot.c.email.in_(list(emails)),
                    )
                ).scalars()
            )

    def _begin_writing(self, conn: Connection, mode: str, reason: str | None) -> None:
        self.store.begin_writing(
            conn, list_run_id=self.lr.list_run_id, mode=mode, reason=reason, now=self.clock()
        )

    # ------------------------------------------------------------------ upserts

    def _upserts(self) -> None:
        lr, size, columns = self.lr, self.platform.max_upsert_batch, self.upload_columns
        # members due for upload are carried across snapshot pages, so every call but the last is full
        due: list[tuple[Recipient, int, str]] = []  # who to upload, their seq and fields hash
        with (
            self.engine.connect() as reader,
            self.store.recorded_hashes(self.engine, lr.list_run_id) as recorded,
        ):
            reader.execution_options(isolation_level="AUTOCOMMIT")
            first_seq = 0
            width = len(lr.attribute_names) or None
            progress = self._progress("checked for upload", lr.snapshot_rows, self.options.page_size)
            for page in snapshot_batches(
                reader, lr.list_run_id, batch_size=self.options.page_size, width=width
            ):
                progress.advance(len(page))
                known = recorded.page(first_seq, len(page))
                for i, (member_id, email, row, known_hash) in enumerate(
                    zip(page.recipient_ids, page.emails, page.attribute_rows, known, strict=True)
                ):
                    values = tuple(row[c] for c in columns)
                    digest = fields_hash(self.upload_names, email, values)
                    if known_hash != digest:
                        due.append((Recipient(member_id, email, values), first_seq + i, digest))
                while len(due) >= size:
                    self._upload(due[:size])
                    del due[:size]
                first_seq += len(page)
        if due:
            self._upload(due)

    def _upload(self, chunk: list[tuple[Recipient, int, str]]) -> None:
        self._upsert_batch([r for r, _, _ in chunk], [q for _, q, _ in chunk], [d for _, _, d in chunk])

    def _upsert_batch(self, recipients: list[Recipient], seqs: list[int], digests: list[str]) -> None:
        """Upload one batch; record every answer (and the opt-outs it revealed) before going on."""
        results = self.platform.upsert(self.upload_names, recipients)
        self._count_call("upsert")
        if [r.member_id for r in results] != [r.recipient_id for r in recipients]:
            raise MembershipSyncError(f"list {self.lr.list_name}: the upsert answered for other contacts")
        now = self.clock()
        rows, rejected, opted_out = [], [], []
        for seq, digest, recipient, result in zip(seqs, digests, recipients, results, strict=True):
            accepted = result.outcome is AddOutcome.ADDED
            rows.append((recipient.recipient_id, digest if accepted else None, result.code))
            if not accepted:
                self.report.refused[result.code] = self.report.refused.get(result.code, 0) + 1
                self.codes[int(result.outcome)] += 1
                rejected.append(self._rejected_row(seq, recipient.recipient_id, result.outcome, result.code))
            if result.outcome is AddOutcome.UNSUBSCRIBED:
                opted_out.append(
                    FeedbackRow(
                        FeedbackKind.UNSUBSCRIBES, recipient.recipient_id, recipient.email, "unsubscribe", now
                    )
                )
        if opted_out:
            # to the CRM before the record: a crash in between re-upserts and finds them again
            self.opt_outs(opted_out)
            self.report.opted_out += len(opted_out)
        with self.writer.begin():
            self.store.record_upserts(self.writer, rows, now)
            if rejected:
                self.writer.execute(list_rejected.insert(), rejected)
                self._record_counts(self.writer)
        self.report.upserted += len(recipients)

    def _rejected_row(self, seq: int, member_id: str, outcome: AddOutcome, code: str) -> dict[str, object]:
        reason = REASONS.get(outcome, "platform: refused")
        return {
            "list_run_id": self.lr.list_run_id,
            "seq": seq,
            "recipient_id": member_id,
            "code": int(outcome),
            "reason": f"{reason} ({code})"[:100],
        }

    # ------------------------------------------------------------------ guard, removals, adds

    def _guard(self, mode: str) -> int | None:
        """Raise if the sync would remove more than the guard allows; returns the members leaving
        when it counted them (the removals' progress reuses the count), else None."""
        ratio = self.options.max_removal_ratio
        if ratio is None:
            return None
        with self.engine.connect() as conn:
            recorded = self.store.count_in_audience(conn)
            leaving = self.store.count_leaving(conn, self.lr.list_run_id)
        if not recorded:
            return leaving
        share = leaving / recorded
        if share <= ratio:
            return leaving
        message = (
            f"list {self.lr.list_name}: {leaving:,} of the {recorded:,} members of platform list "
            f"{self.lr.platform_list_id} would be removed ({share:.1%}, the guard allows {ratio:.0%})"
        )
        if self.options.force:
            log.warning("%s; forced past the guard", message)
            return leaving
        self._set_list_run(status="guarded", error=message)
        raise RemovalGuardTripped(message + "; nothing was removed. Check the selection, or force the run")

    def _removals(self, leaving: int | None) -> None:
        size, after = self.platform.max_member_batch, None
        if leaving is None:  # the guard is off: count them for the progress lines
            with self.engine.connect() as conn:
                leaving = self.store.count_leaving(conn, self.lr.list_run_id)
        progress = self._progress("removed", leaving, size)
        while True:
            with self.engine.connect() as conn:
                ids = self.store.leaving_page(conn, self.lr.list_run_id, after, size)
            if not ids:
                return
            refused = self.platform.remove_members(self.lr.platform_list_id, ids) or ()
            self._count_call("remove_members")
            kept = {r.member_id for r in refused}
            removed = [m for m in ids if m not in kept]
            for result in refused:  # still in the list (and so still recorded): tried again next run
                code = f"remove:{result.code}"
                self.report.refused[code] = self.report.refused.get(code, 0) + 1
            if refused:
                log.warning(
                    "list %s: the platform refused to remove %d member(s): %s",
                    self.lr.list_name,
                    len(refused),
                    sorted({r.code for r in refused}),
                )
            self.report.removed += len(removed)
            progress.advance(len(ids))
            with self.writer.begin():
                self.store.mark(self.writer, removed, in_audience=False, now=self.clock())
                self._record_counts(self.writer)
            self.renew()
            after = ids[-1]

    def _adds(self) -> None:
        size, after_seq = self.platform.max_member_batch, -1
        with self.engine.connect() as conn:
            progress = self._progress("added", self.store.count_joining(conn, self.lr.list_run_id), size)
        while True:
            with self.engine.connect() as conn:
                page = self.store.joining_page(conn, self.lr.list_run_id, after_seq, size)
            if not page:
                return
            self._add(page)
            progress.advance(len(page))
            after_seq = page[-1][0]

    def _add(self, page: list[tuple[int, str]], *, retried: bool = False) -> None:
        ids = [member_id for _, member_id in page]
        try:
            refused = self.platform.add_members(self.lr.platform_list_id, ids) or ()
        except MembersNotFound as exc:
            self._count_call("add_members")
            unknown = set(exc.member_ids)
            if retried or not unknown or not unknown <= set(ids):
                raise
            log.warning(
                "list %s: %d contacts unknown to the platform (deleted there?); uploading them again",
                self.lr.list_name,
                len(unknown),
            )
            missing = [(seq, member_id) for seq, member_id in page if member_id in unknown]
            accepted = self._upsert_again(missing)
            rest = [
                (seq, member_id)
                for seq, member_id in page
                if member_id not in unknown or member_id in accepted
            ]
            if rest:
                self._add(rest, retried=True)
            return
        self._count_call("add_members")
        self.last_add_at = self.clock()
        added = self._refused_adds(page, refused)
        self.report.added += len(added)
        with self.writer.begin():
            self.store.mark(self.writer, added, in_audience=True, now=self.last_add_at)
            if refused:
                seq = {member_id: seq for seq, member_id in page}
                self.writer.execute(
                    list_rejected.insert(),
                    [self._rejected_row(seq[r.member_id], r.member_id, r.outcome, r.code) for r in refused],
                )
            self._record_counts(self.writer)
        self.renew()

    def _refused_adds(self, page: list[tuple[int, str]], refused: Sequence[UpsertResult]) -> list[str]:
        """Count the members an add refused one by one; returns the ids it added."""
        ids = [member_id for _, member_id in page]
        if not refused:
            return ids
        if not {r.member_id for r in refused} <= set(ids):
            raise MembershipSyncError(f"list {self.lr.list_name}: the add refused contacts it was not given")
        for result in refused:
            self.report.refused[result.code] = self.report.refused.get(result.code, 0) + 1
            self.codes[int(result.outcome)] += 1
        log.warning(
            "list %s: the platform refused to add %d member(s): %s",
            self.lr.list_name,
            len(refused),
            sorted({r.code for r in refused}),
        )
        kept_out = {r.member_id for r in refused}
        return [m for m in ids if m not in kept_out]

    def _upsert_again(self, missing: list[tuple[int, str]]) -> set[str]:
        """Upload these snapshot members again (their contacts vanished); the ids accepted now."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    list_snapshot.c.seq,
                    list_snapshot.c.recipient_id,
                    list_snapshot.c.email,
                    list_snapshot.c.attr_values,
                )
                .where(
                    list_snapshot.c.list_run_id == self.lr.list_run_id,
                    list_snapshot.c.recipient_id.in_([m for _, m in missing]),
                )
                .order_by(list_snapshot.c.seq)
            ).all()
        names, size = self.upload_names, self.platform.max_upsert_batch
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            recipients = [
                Recipient(
                    r.recipient_id, r.email, tuple(_text(r.attr_values[c]) for c in self.upload_columns)
                )
                for r in chunk
            ]
            self._upsert_batch(
                recipients,
                [r.seq for r in chunk],
                [fields_hash(names, r.email, r.attributes) for r in recipients],
            )
        with self.engine.connect() as conn:
            recorded = self.store.recorded(conn, [r.recipient_id for r in rows])
        return {m for m, rec in recorded.items() if rec.fields_hash is not None}

    # ------------------------------------------------------------------ the end

    def _finish(self) -> None:
        lr = self.lr
        with self.engine.connect() as conn:
            members = self.store.count_in_audience(conn)
            accepted = self.store.count_members_in_snapshot(conn, lr.list_run_id)
        count = self.platform.member_count(lr.platform_list_id)
        if count is not None and count != members:
            message = (
                f"list {lr.list_name}: platform list {lr.platform_list_id} holds {count} members, "
                f"the record {members}; the next run empties and refills it"
            )
            self._set_list_run(status="failed", error=message)
            raise CountMismatch(message)
        self.report.members = members
        self.report.unchanged = accepted - self.report.added
        self.codes[int(AddOutcome.ADDED)] += self.report.added
        self.codes[int(AddOutcome.ALREADY_IN_LIST)] += self.report.unchanged
        with self.engine.begin() as conn:
            self.store.finish(conn, members=members, now=self.clock())
            rejected = conn.execute(
                select(func.count()).where(list_rejected.c.list_run_id == lr.list_run_id)
            ).scalar_one()
        window = {}
        if self.cleared_at is not None:
            last = self.last_add_at or self.cleared_at
            window = {
                "last_batch_at": last,
                "window_seconds": round((last - self.cleared_at).total_seconds()),
            }
        self._set_list_run(
            **window,
            status="synced",
            uploaded=lr.snapshot_rows,
            accepted=accepted,
            rejected=rejected,
            result_codes={str(k): v for k, v in sorted(self.codes.items()) if v},
            platform_count=members,
            finished_at=self.clock(),
            error=None,
            added=self.report.added,
            removed=self.report.removed,
            unchanged=self.report.unchanged,
            refused=dict(self.report.refused),
        )

    def _record_counts(self, conn: Connection) -> None:
        """The report's counts so far, on the list run, in the transaction recording the batch."""
        conn.execute(
            update(list_run)
            .where(list_run.c.list_run_id == self.lr.list_run_id)
            .values(added=self.report.added, removed=self.report.removed, refused=dict(self.report.refused))
        )

    def _progress(self, what: str, rows: int, batch: int) -> Progress:
        """Progress lines of one phase: ``list <name>: <what>: batch i/n, rows, rate, ETA``."""
        return Progress(
            total_rows=rows,
            total_batches=max(-(-rows // batch), 1),
            log=log,
            label=f"list {self.lr.list_name}: {what}",
            every_seconds=self.options.progress_every_seconds,
        )

    def _count_call(self, kind: str) -> None:
        self.report.calls[kind] = self.report.calls.get(kind, 0) + 1

    def _set_list_run(self, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(list_run).where(list_run.c.list_run_id == self.lr.list_run_id).values(**values)
            )


def _text(value: object) -> str:
    """A snapshot value as the page reader hands it on: ``""`` for null, else its text."""
    return "" if value is None else str(value)


def _load_list_run(engine: Engine, list_run_id: int, platform_name: str, *, forced: bool) -> _ListRun:
    with engine.connect() as conn:
        row = conn.execute(select(list_run).where(list_run.c.list_run_id == list_run_id)).mappings().first()
        if row is None:
            raise MembershipSyncNotAllowed(f"list run {list_run_id} does not exist")
        feedback_ok = platform_feedback_ok(conn, row["run_id"], row["platform"])
    if not feedback_ok:
        raise MembershipSyncNotAllowed(
            f"list {row['list_name']!r}: the {row['platform']} feedback import of run {row['run_id']!r} "
            "has not succeeded; "
            "syncing now could re-add people who opted out or bounced"
        )
    # a snapshot our removal guard stopped may go on when the operator forces it
    if row["status"] not in SYNCABLE + (("guarded",) if forced else ()):
        raise MembershipSyncNotAllowed(
            f"list {row['list_name']!r}: snapshot status is {row['status']!r}; "
            "only a validated snapshot is synced"
        )
    if row["platform"] != platform_name:
        raise MembershipSyncNotAllowed(
            f"list {row['list_name']!r} is for platform {row['platform']!r}, not {platform_name!r}"
        )
    return _ListRun(
        row["list_run_id"],
        row["run_id"],
        row["list_name"],
        row["platform"],
        row["platform_list_id"],
        tuple(row["attribute_names"]),
        row["snapshot_rows"] or 0,
    )


def _check_snapshot_complete(engine: Engine, lr: _ListRun) -> None:
    with engine.connect() as conn:
        rows, first, last = conn.execute(
            select(func.count(), func.min(list_snapshot.c.seq), func.max(list_snapshot.c.seq)).where(
                list_snapshot.c.list_run_id == lr.list_run_id
            )
        ).one()
    if rows != lr.snapshot_rows or (rows and (first != 0 or last != rows - 1)):
        raise MembershipSyncNotAllowed(
            f"list {lr.list_name}: the snapshot of list run {lr.list_run_id} holds {rows} rows but "
            f"the extraction wrote {lr.snapshot_rows}; the platform list was "
            "not touched; extract the list again"
        )

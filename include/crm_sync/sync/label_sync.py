"""Flexmail label sync: make each configured interest label carried by exactly the consent-scoped
selection of its list, for ALL Flexmail lists of a run at once.

Why not the membership engine (membership.py): Flexmail adds labels only through ONE contacts
import for the whole account (one record per contact carrying every label it qualifies for), which
is asynchronous and only ever adds; and it removes a label one contact at a time under an account
limit of about 60 requests a minute, so a night's removals may not all fit in one run. That needs
a persisted removal backlog worked across runs in order of urgency, which the engine's "remove
every leaver now, then add" shape has no room for. The preconditions are the engine's.

Order for one run (``sync_flexmail_labels``):

1. Preconditions, before any call: this run's feedback import (which brought Flexmail's
   blacklisted contacts back to the CRM as unsubscribes, ``feedback.py``) succeeded, and every
   list run is a validated, complete Flexmail snapshot.
2. An import left unfinished by an earlier attempt is polled to its end first (it may still add
   labels, and a removal must never be undone by a late import).
3. The account's labels are read (1 call). A list whose configured name does not match exactly
   fails -- that list only -- before anything changes, naming the closest label. With
   ``reconcile`` (when in doubt), our record of each label is first repaired from Flexmail's own
   label members (``label_reconcile.py``), so the steps below repair Flexmail.
4. Removals FIRST: members recorded on a label but not in its snapshot join the backlog (urgent:
   consent revoked / unsubscribed / bounced / gone; then: left the selection); members back in the
   snapshot leave it. The backlog is worked in order of urgency, one DELETE per removal plus the
   contact's id (a lookup by address, or one pass over all contacts when that is cheaper), until
   it is empty or the run's removal budget is spent.
5. Adds: one import (``resubscribe_blacklisted_contacts`` always false) of the contacts with a label
   not yet recorded, in chunks; each accepted chunk is recorded before the next is sent, so a crash
   re-sends at most one chunk (harmless: within an import the last record of an address wins).
   Queued and polled to the end; its report (added, updated, ignored) is recorded.
6. Report: per list, the import, and the backlog with its size and expected drain time. If the
   backlog cannot drain within ``max_drain_seconds`` the run fails loudly (after the work above).
   Each list run gets the run report's counts: labels added by this run's completed import,
   removed (confirmed by Flexmail), unchanged (snapshot members who carried the label already)
   and the removals of its label still queued (``backlog``). Flexmail answers an import for the
   whole account, so a label list has no per-list refusals (``refused`` stays NULL).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from include.crm_sync.audit.runs import platform_feedback_ok
from include.crm_sync.masking import mask_email
from include.crm_sync.platforms.flexmail.client import MAX_IMPORT_RECORDS, PAGE_SIZE, FlexmailClient
from include.crm_sync.platforms.flexmail.labels import match_labels
from include.crm_sync.staging.tables import flexmail_import, list_run, list_snapshot
from include.crm_sync.sync import label_store as store
from include.crm_sync.sync.label_reconcile import reconcile_labels
from include.crm_sync.sync.label_records import ImportRecord, import_pages
from include.crm_sync.sync.progress import Progress

log = logging.getLogger(__name__)

PLATFORM = "flexmail"
SYNCABLE = ("validated", "syncing", "synced")


class LabelSyncError(RuntimeError):
    """The label sync did not complete; a re-run resumes where it stopped."""


class LabelSyncNotAllowed(LabelSyncError):
    """Preconditions do not hold (feedback not applied, snapshot not validated or incomplete)."""


class RemovalBacklogTooLarge(LabelSyncError):
    """The removal backlog cannot drain within the configured bound: consent-critical, act now."""

    def __init__(self, message: str, report: LabelSyncReport) -> None:
        super().__init__(message)
        self.report = report


class LabelListsFailed(LabelSyncError):
    """Some lists failed (e.g. a label name that does not exist); the others were synced."""

    def __init__(self, message: str, report: LabelSyncReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class LabelSyncOptions:
    #: the requests a minute the limiter allows (to state the expected drain time)
    requests_per_minute: float = 55.0
    #: seconds of removal work per run (on ``clock``); the rest stays in the backlog
    removal_budget_seconds: float = 4 * 3600.0
    #: the run fails loudly if the backlog left needs longer than this to drain
    max_drain_seconds: float = 24 * 3600.0
    #: the Flexmail source id every imported contact gets (Flexmail requires one on new contacts)
    source_id: int | None = None
    #: seconds between two polls of a queued import, and the longest wait for one
    poll_seconds: float = 10.0
    import_timeout_seconds: float = 6 * 3600.0
    records_per_call: int = MAX_IMPORT_RECORDS
    #: list name -> the most of its label's recorded members one sync may queue for removal (the
    #: list's ``guards.max_drop_ratio``); a list past it is guarded (nothing removed or added for it)
    max_removal_ratio: Mapping[str, float] = field(default_factory=dict)
    #: the operator forced past the removal guard
    force: bool = False
    #: first repair our record from Flexmail's own label members (label_reconcile.py; when in doubt)
    reconcile: bool = False
    #: a progress line of the removals and of the import's records at most this often
    progress_every_seconds: float = 10.0


@dataclass
class LabelSyncReport:
    run_id: str
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    imports: list[dict[str, Any]] = field(default_factory=list)
    removed: int = 0
    removals_not_carried: int = 0
    backlog: int = 0
    backlog_urgent: int = 0
    expected_drain_seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Failure:
    """A list that failed before any change (its ``message`` says why), like a label mismatch."""

    message: str


@dataclass(frozen=True)
class _Run:
    list_run_id: int
    list_name: str
    label: str
    consent_id: str


def sync_flexmail_labels(
    engine: sa.Engine,
    client: FlexmailClient,
    list_run_ids: Sequence[int],
    *,
    run_id: str,
    options: LabelSyncOptions | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] | None = None,
) -> LabelSyncReport:
    """Sync every Flexmail list run of ``run_id`` (see the module docstring)."""
    sync = _LabelSync(engine, client, run_id, options or LabelSyncOptions(), clock, sleep, now)
    return sync.run(list_run_ids)


class _LabelSync:
    def __init__(
        self,
        engine: sa.Engine,
        client: FlexmailClient,
        run_id: str,
        options: LabelSyncOptions,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        now: Callable[[], datetime] | None,
    ) -> None:
        self.engine, self.client, self.run_id, self.options = engine, client, run_id, options
        self.clock, self.sleep = clock, sleep
        self.now = now or (lambda: datetime.now(UTC))
        self.report = LabelSyncReport(run_id)
        #: label -> confirmed removals / labels added by this run's import (the run report's counts)
        self.removed_by_label: Counter[str] = Counter()
        self.added_by_label: Counter[str] = Counter()

    def run(self, list_run_ids: Sequence[int]) -> LabelSyncReport:
        runs = self._load(list_run_ids)
        for r in runs:
            self.report.lists[r.list_name] = {
                "label": r.label,
                "list_run_id": r.list_run_id,
                "status": "syncing",
            }
        self._finish_earlier_imports()
        labels = {label.name: label.id for label in self.client.interest_labels()}
        found, missing = match_labels({r.list_name: r.label for r in runs}, labels)
        for name, mismatch in missing.items():
            log.error("%s", mismatch.message)
            self.report.lists[name].update(status="failed", error=mismatch.message)
            self._set_list_run(self._by_name(runs, name).list_run_id, status="failed", error=mismatch.message)
        matched = [r for r in runs if r.list_name in found]
        if self.options.reconcile and matched:
            self._reconcile(matched, labels)
        ok = self._guard(matched, missing)
        for r in ok:
            self._set_list_run(
                r.list_run_id,
                status="syncing",
                error=None,
                added=None,
                removed=None,
                unchanged=None,
                backlog=None,
            )
        self._removals(ok, labels)
        self._import(ok, labels)
        self._finish(ok, missing)
        return self.report

    # ------------------------------------------------------------------ preconditions

    def _load(self, list_run_ids: Sequence[int]) -> list[_Run]:
        runs = []
        with self.engine.connect() as conn:
            for list_run_id in list_run_ids:
                row = (
                    conn.execute(sa.select(list_run).where(list_run.c.list_run_id == list_run_id))
                    .mappings()
                    .first()
                )
                if row is None:
                    raise LabelSyncNotAllowed(f"list run {list_run_id} does not exist")
                name = row["list_name"]
                feedback_ok = platform_feedback_ok(conn, row["run_id"], PLATFORM)
                if not feedback_ok:
                    raise LabelSyncNotAllowed(
                        f"list {name!r}: the flexmail feedback import of run {row['run_id']!r} has not "
                        "succeeded; "
                        "syncing now could label people who unsubscribed in Flexmail"
                    )
                if row["platform"] != PLATFORM or row["status"] not in SYNCABLE:
                    raise LabelSyncNotAllowed(
                        f"list {name!r}: only a validated Flexmail snapshot is synced "
                        f"(platform {row['platform']!r}, status {row['status']!r})"
                    )
                rows = conn.execute(
                    sa.select(sa.func.count()).where(list_snapshot.c.list_run_id == list_run_id)
                ).scalar_one()
                if rows != (row["snapshot_rows"] or 0):
                    raise LabelSyncNotAllowed(
                        f"list {name!r}: the snapshot holds {rows} rows but the extraction wrote "
                        f"{row['snapshot_rows']}; nothing was changed; extract the list again"
                    )
                runs.append(_Run(list_run_id, name, row["platform_list_id"], row["consent_id"]))
        return runs

    def _guard(self, runs: Sequence[_Run], failed: dict[str, Any]) -> list[_Run]:
        """The removal volume guard, before any removal: a list whose snapshot would queue more of its
        label's recorded members for removal than its ratio allows is guarded -- nothing is removed or
        added for it -- unless the run is forced. Guarded lists join ``failed``."""
        kept = []
        for r in runs:
            ratio = self.options.max_removal_ratio.get(r.list_name)
            if ratio is None:
                kept.append(r)
                continue
            with self.engine.connect() as conn:
                members = store.count_members(conn, [r.label])[r.label]
                leaving = store.count_new_leavers(conn, r.label, r.list_run_id)
            if not members or leaving / members <= ratio:
                kept.append(r)
                continue
            message = (
                f"list {r.list_name!r}: {leaving} of the {members} contacts carrying label {r.label!r} would "
                f"lose it ({leaving / members:.0%}), more than max_drop_ratio {ratio:.0%}"
            )
            if self.options.force:
                log.warning("%s; forced past the guard", message)
                self.report.lists[r.list_name].update(forced=True)
                kept.append(r)
                continue
            message += "; nothing was changed for this list (trigger with force to go past the guard)"
            log.error("%s", message)
            self.report.lists[r.list_name].update(status="guarded", error=message)
            self._set_list_run(r.list_run_id, status="guarded", error=message)
            failed[r.list_name] = _Failure(message)
        return kept

    def _reconcile(self, runs: Sequence[_Run], labels: dict[str, int]) -> None:
        """Before the guard and the removals: they then work from a record that matches Flexmail."""
        done = reconcile_labels(
            self.engine, self.client, [(r.list_run_id, r.label) for r in runs], labels, self.now()
        )
        for r in runs:
            self.report.lists[r.list_name].update(
                reconciled={"dropped": done.dropped[r.label], "recorded": done.recorded[r.label]}
            )

    @staticmethod
    def _by_name(runs: Sequence[_Run], name: str) -> _Run:
        return next(r for r in runs if r.list_name == name)

    # ------------------------------------------------------------------ removals

    def _removals(self, runs: Sequence[_Run], labels: dict[str, int]) -> None:
        now = self.now()
        with self.engine.begin() as conn:
            for r in runs:
                back = store.cancel_returning(conn, r.label, r.list_run_id)
                queued = store.enqueue_leavers(conn, r.label, r.list_run_id, r.consent_id, now)
                self.report.lists[r.list_name].update(enqueued_for_removal=queued, removal_cancelled=back)
                log.info(
                    "list %s: label %r: %d removal(s) queued, %d cancelled (qualify again)",
                    r.list_name,
                    r.label,
                    queued,
                    back,
                )
        deadline = self.clock() + self.options.removal_budget_seconds
        if self.options.removal_budget_seconds > 0:
            self._resolve_contact_ids(deadline)
        progress = Progress(None, None, log, "Flexmail label removals", self.options.progress_every_seconds)
        while self.clock() < deadline:
            with self.engine.connect() as conn:
                page = store.backlog_page(conn, 100)
            if not page:
                break
            for removal in page:
                if self.clock() >= deadline:
                    break
                self._remove(removal, labels)
            progress.advance(len(page))

    def _resolve_contact_ids(self, deadline: float) -> None:
        """A removal needs the contact's Flexmail id: one lookup by address each, or -- when the
        backlog is larger than the account's contact pages -- one pass over all contacts (500 a
        request). Ids are stored as each page arrives; those not found fall back to a lookup."""
        with self.engine.connect() as conn:
            unresolved = store.backlog_stats(conn).without_contact_id
        if unresolved < 2:
            return
        pages = -(-self.client.count_contacts() // PAGE_SIZE)
        if pages >= unresolved:
            return
        for page in self.client.contact_pages():
            with self.engine.begin() as conn:
                store.set_contact_ids(conn, {c.email.strip().lower(): c.id for c in page})
            if self.clock() >= deadline:
                return

    def _remove(self, removal: store.Removal, labels: dict[str, int]) -> None:
        label_id = labels.get(removal.label_name)
        if label_id is None:  # the label was deleted in Flexmail: nobody carries it any more
            with self.engine.begin() as conn:
                store.drop_label(conn, removal.label_name)
            return
        contact_id = removal.contact_id
        if contact_id is None:
            contact = self.client.find_contact(removal.email)
            with self.engine.begin() as conn:
                if contact is None:
                    log.info("no Flexmail contact for %s: nothing to remove", mask_email(removal.email))
                    self.report.removals_not_carried += store.address_gone(conn, removal.email)
                    return
                store.set_contact_id(conn, removal.email, contact.id)
            contact_id = contact.id
        carried = self.client.remove_label(contact_id, label_id)
        with self.engine.begin() as conn:
            store.removal_done(conn, removal.label_name, removal.member_id)
        if carried:
            self.report.removed += 1
            self.removed_by_label[removal.label_name] += 1
        else:
            self.report.removals_not_carried += 1

    # ------------------------------------------------------------------ the import

    def _import(self, runs: Sequence[_Run], labels: dict[str, int]) -> None:
        if not runs:
            return
        ids = [r.list_run_id for r in runs]
        pages = import_pages(self.engine, ids, page_size=self.options.records_per_call)
        if next(pages, None) is None:
            return  # nobody gains a label: no import at all (a quiet night costs no import calls)
        import_id = self._new_import_id()
        with self.engine.begin() as conn:
            conn.execute(
                flexmail_import.insert().values(
                    import_id=import_id, run_id=self.run_id, status="building", created_at=self.now()
                )
            )
        self._build(import_id, labels, ids)

    def _new_import_id(self) -> str:
        with self.engine.connect() as conn:
            n = store.imports_of_run(conn, self.run_id)
        digest = hashlib.sha256(self.run_id.encode("utf-8")).hexdigest()[:20]
        return f"crm-sync-{digest}-{n + 1}"

    def _build(self, import_id: str, labels: dict[str, int], ids: list[int]) -> None:
        """Create, send every chunk not yet recorded, queue, poll to the end."""
        self.client.create_import(import_id)  # False: it exists (an answer was lost): go on filling it
        pages = import_pages(self.engine, ids, page_size=self.options.records_per_call)
        added: Counter[str] = Counter()
        every = self.options.progress_every_seconds
        progress = Progress(None, None, log, f"Flexmail import {import_id}: records sent", every)
        for page in pages:
            body = [self._record_json(record, labels) for record in page]
            self.client.add_import_records(import_id, body)
            pairs = [(label, member, rec.email) for rec in page for label, member in rec.members]
            with self.engine.begin() as conn:
                store.record_chunk(conn, import_id, pairs, len(page), self.now())
            added.update(label for label, _, _ in pairs)
            progress.advance(len(page))
        self.client.queue_import(import_id)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(flexmail_import)
                .where(flexmail_import.c.import_id == import_id)
                .values(status="queued")
            )
        self._poll(import_id)  # raises unless the import completed: only then do its labels count
        self.added_by_label.update(added)

    def _record_json(self, record: ImportRecord, labels: dict[str, int]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "email": record.email,
            **record.fields,
            "interest_labels": [labels[name] for name in record.labels],
        }
        if record.custom_fields:
            body["custom_fields"] = dict(record.custom_fields)
        if self.options.source_id is not None:
            body["sources"] = [self.options.source_id]
        return body

    def _poll(self, import_id: str) -> None:
        started = self.clock()
        while True:
            state = self.client.get_import(import_id)
            if state is None:
                raise LabelSyncError(f"Flexmail import {import_id} vanished; the next run imports again")
            if state.finished:
                break
            if self.clock() - started > self.options.import_timeout_seconds:
                raise LabelSyncError(
                    f"Flexmail import {import_id} still {state.status} after "
                    f"{self.options.import_timeout_seconds:.0f} s; a re-run goes on polling it"
                )
            self.sleep(self.options.poll_seconds)
        with self.engine.begin() as conn:
            if state.status == "completed":
                store.confirm_import(conn, import_id, state.report, self.now())
            else:
                store.fail_import(conn, import_id, state.message or "failed", self.now())
            row = (
                conn.execute(sa.select(flexmail_import).where(flexmail_import.c.import_id == import_id))
                .mappings()
                .one()
            )
        self.report.imports.append(
            {
                "import_id": import_id,
                "status": state.status,
                "records": row["records_sent"],
                "chunks": row["chunks_sent"],
                "report": state.report,
            }
        )
        if state.status != "completed":
            raise LabelSyncError(
                f"Flexmail import {import_id} failed: {state.message}; the next run imports again"
            )

    def _finish_earlier_imports(self) -> None:
        with self.engine.connect() as conn:
            unfinished = store.unfinished_imports(conn)
        for row in unfinished:
            remote = self.client.get_import(row.import_id)
            if row.status == "building" and (remote is None or remote.status == "created"):
                # never queued: its recorded chunks are in Flexmail only if the import exists there
                if remote is None:
                    with self.engine.begin() as conn:
                        store.fail_import(conn, row.import_id, "never created in Flexmail", self.now())
                    continue
                self._resume_building(row.import_id)
            else:
                self._poll(row.import_id)

    def _resume_building(self, import_id: str) -> None:
        """An import crashed while its chunks were being sent: queue what it holds and poll it.

        Its remaining contacts are still unrecorded, so this run's own import carries them."""
        self.client.queue_import(import_id)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(flexmail_import)
                .where(flexmail_import.c.import_id == import_id)
                .values(status="queued")
            )
        self._poll(import_id)

    # ------------------------------------------------------------------ the end

    def _finish(self, runs: Sequence[_Run], missing: dict[str, Any]) -> None:
        with self.engine.connect() as conn:
            stats = store.backlog_stats(conn)
            members = store.count_members(conn, [r.label for r in runs])
            backlog = store.backlog_of(conn, [r.label for r in runs])
            kept = {r.list_name: store.count_in_snapshot(conn, r.label, r.list_run_id) for r in runs}
        requests = 2 * stats.without_contact_id + (stats.size - stats.without_contact_id)
        drain = requests * 60.0 / self.options.requests_per_minute
        self.report.backlog, self.report.backlog_urgent = stats.size, stats.urgent
        self.report.expected_drain_seconds = drain
        self.report.calls = dict(self.client.calls)
        for r in runs:
            counts = {
                "added": self.added_by_label[r.label],
                "removed": self.removed_by_label[r.label],
                # snapshot members carrying the label now, less those this run's import labelled
                "unchanged": max(kept[r.list_name] - self.added_by_label[r.label], 0),
                "backlog": backlog[r.label],
            }
            self.report.lists[r.list_name].update(status="synced", members=members[r.label], **counts)
            self._set_list_run(
                r.list_run_id,
                status="synced",
                platform_count=members[r.label],
                finished_at=self.now(),
                error=None,
                **counts,
            )
        log.info(
            "Flexmail labels: %d removed, backlog %d (%d urgent, ~%.0f s to drain), imports %s",
            self.report.removed,
            stats.size,
            stats.urgent,
            drain,
            self.report.imports,
        )
        if drain > self.options.max_drain_seconds:
            raise RemovalBacklogTooLarge(
                f"Flexmail removal backlog of {stats.size} ({stats.urgent} urgent: consent revoked, "
                f"unsubscribed or bounced) needs ~{drain / 3600:.1f} h to drain at "
                f"{self.options.requests_per_minute:g} requests/minute, more than the allowed "
                f"{self.options.max_drain_seconds / 3600:.1f} h: people who withdrew consent keep "
                "their label meanwhile. Run extra drains or raise the account's rate limit with Flexmail",
                self.report,
            )
        if missing:
            raise LabelListsFailed("; ".join(m.message for m in missing.values()), self.report)

    def _set_list_run(self, list_run_id: int, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(list_run).where(list_run.c.list_run_id == list_run_id).values(**values))

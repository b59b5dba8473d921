"""Clear a platform list and fill it again from a validated snapshot, resumably.

Order of work, chosen to keep the list empty as briefly as possible:

1. Everything slow or fallible happens before ``clear``, while the list still holds the previous
   recipients: the preconditions (feedback imported in this run, snapshot validated), a check that
   the snapshot is complete (``snapshot_rows`` rows numbered 0..n-1: one cheap aggregate), the
   platform session and its WSDL (``count``, which also proves the list exists), and every batch
   to send: read from the snapshot (``snapshot_pages``: column batches, no object per recipient),
   its request prepared by the platform (``PreparedBatches``: validated and encoded) and kept in a
   temporary file (``batch_spool``). So a bad value or an unreadable snapshot stops the refill
   before the list is touched, and while the list is empty the client's CPU is not taken from the
   platform by reading and encoding.
2. ``clear``, then the prepared requests, up to ``max_parallel_calls`` in flight. Each answered
   batch is recorded (``list_batch`` with every recipient's code, ``list_rejected``, code 3 into
   ``crm_blocklist``) by this thread alone, before it sends the next one.
3. ``count`` must equal the number of accepted recipients (codes 0 and 5), else the run fails.

The empty-list window -- from ``clear`` to the answer of the last ``addAll3`` -- is recorded as
``cleared_at``/``last_batch_at``/``window_seconds`` on the list run.

A retry (Airflow task retry, or the whole DAG re-run for the same run id) finds the list run in
status ``refilling``. If the platform's count equals what the confirmed batches accepted, nothing
unconfirmed reached the list, and the retry sends only the batches not yet confirmed; otherwise
(a batch was applied without our hearing the answer, or someone else changed the list) it clears
and refills from scratch. Either way a list is only marked ``synced`` once the platform's count
equals the accepted recipients, so it never ends half-filled while marked successful.

One writer, newest snapshot only (``writer_lock``, ``newest_snapshot``): everything from the
newest-snapshot check to the final count check runs under the platform list's writer lock, keyed by
platform and platform list id. A second writer waits a bounded time, then fails naming the holder.
Under the lock, before ``clear`` and on every resume, a snapshot older than the newest validated one
of the same platform list ends ``superseded`` (``SnapshotSuperseded``) without a platform call.
The lease is renewed as batches are confirmed; a refill whose lease was taken over stops.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Engine, delete, func, select, update

from include.crm_sync.audit.runs import platform_feedback_ok
from include.crm_sync.masking import mask_text
from include.crm_sync.platforms.base import AddResult, PreparedBatches, RecipientListPlatform
from include.crm_sync.platforms.recipient_batch import RecipientBatch
from include.crm_sync.staging.tables import list_batch, list_rejected, list_run, list_snapshot
from include.crm_sync.sync.batch_results import BatchOutcome, record_batch
from include.crm_sync.sync.batch_spool import BatchSpool, SpooledBatch
from include.crm_sync.sync.newest_snapshot import SUPERSEDED, mark_superseded, newer_snapshot
from include.crm_sync.sync.progress import Progress
from include.crm_sync.sync.snapshot_pages import snapshot_batches
from include.crm_sync.sync.writer_lock import Lease, LockKey, LockSettings, hold_writer_lock

log = logging.getLogger(__name__)

#: list run statuses from which ``refill_list`` may start (or continue, or confirm it is done)
REFILLABLE = ("validated", "refilling", "synced")


class RefillError(RuntimeError):
    """The refill did not complete; the list run stays resumable."""


class RefillNotAllowed(RefillError):
    """The preconditions of a refill do not hold (feedback not applied, snapshot not validated)."""


class SnapshotSuperseded(RefillError):
    """A newer validated snapshot of the same platform list exists: this one is never uploaded."""


class SnapshotIncomplete(RefillError):
    """The snapshot does not hold the rows the extraction recorded; found before ``clear``."""


class CountMismatch(RefillError):
    """After the last batch the platform holds a different number of recipients than accepted."""


@dataclass(frozen=True)
class RefillOptions:
    batch_size: int = 1000
    max_parallel_calls: int = 4
    progress_every_seconds: float = 10.0
    #: where the prepared batches wait for the window (``batch_spool.py``); None: ``TMPDIR``
    spool_dir: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 1000:
            raise ValueError(f"batch_size must be between 1 and 1000, got {self.batch_size}")
        if self.max_parallel_calls < 1:
            raise ValueError(f"max_parallel_calls must be at least 1, got {self.max_parallel_calls}")


@dataclass
class RefillReport:
    list_run_id: int
    list_name: str
    platform_list_id: str
    snapshot_rows: int
    uploaded: int = 0
    accepted: int = 0
    result_codes: dict[int, int] = field(default_factory=dict)
    rejected: int = 0
    platform_count: int = 0
    previous_count: int | None = None
    resumed: bool = False
    #: batches sent by this call (a resumed refill sends only the unconfirmed ones)
    batches_sent: int = 0
    window_seconds: float = 0.0
    #: ``clear`` (or the resume's first batch) to the answer of the final ``count``, by this call
    upload_seconds: float = 0.0
    #: the prepared batches' size on disk (``batch_spool.py``)
    spooled_bytes: int = 0


@dataclass(frozen=True)
class _ListRun:
    list_run_id: int
    run_id: str
    list_name: str
    platform: str
    platform_list_id: str
    optin_process_id: str
    attribute_names: tuple[str, ...]
    status: str
    snapshot_rows: int


@dataclass(frozen=True)
class _Confirmed:
    batch_no: int
    first_seq: int
    last_seq: int
    accepted: int
    codes: str


def _load_list_run(engine: Engine, list_run_id: int) -> _ListRun:
    with engine.connect() as conn:
        row = conn.execute(select(list_run).where(list_run.c.list_run_id == list_run_id)).mappings().first()
        if row is None:
            raise RefillNotAllowed(f"list run {list_run_id} does not exist")
        feedback_ok = platform_feedback_ok(conn, row["run_id"], row["platform"])
    if not feedback_ok:
        raise RefillNotAllowed(
            f"list {row['list_name']!r}: the {row['platform']} feedback import of run {row['run_id']!r} "
            "has not succeeded; "
            "refilling now could re-add people who unsubscribed or bounced"
        )
    if row["status"] == SUPERSEDED:
        raise SnapshotSuperseded(f"list {row['list_name']!r}: {row['error'] or 'superseded'}")
    if row["status"] not in REFILLABLE:
        raise RefillNotAllowed(
            f"list {row['list_name']!r}: snapshot status is {row['status']!r}; only a validated snapshot "
            "is uploaded"
        )
    return _ListRun(
        list_run_id=row["list_run_id"],
        run_id=row["run_id"],
        list_name=row["list_name"],
        platform=row["platform"],
        platform_list_id=row["platform_list_id"],
        optin_process_id=row["optin_process_id"],
        attribute_names=tuple(row["attribute_names"]),
        status=row["status"],
        snapshot_rows=row["snapshot_rows"] or 0,
    )


def _check_snapshot_complete(engine: Engine, lr: _ListRun) -> None:
    """The snapshot holds exactly ``snapshot_rows`` rows, seqs 0..n-1 (one aggregate on the key)."""
    with engine.connect() as conn:
        rows, first, last = conn.execute(
            select(func.count(), func.min(list_snapshot.c.seq), func.max(list_snapshot.c.seq)).where(
                list_snapshot.c.list_run_id == lr.list_run_id
            )
        ).one()
    expected_last = lr.snapshot_rows - 1
    if rows != lr.snapshot_rows or (rows and (first != 0 or last != expected_last)):
        raise SnapshotIncomplete(
            f"list {lr.list_name}: the snapshot of list run {lr.list_run_id} holds {rows} rows "
            f"(seq {first}..{last}) but the extraction wrote {lr.snapshot_rows} (seq 0..{expected_last}); "
            "the platform list was not touched; extract the list again"
        )


def _confirmed_batches(engine: Engine, list_run_id: int) -> dict[int, _Confirmed]:
    """batch_no -> what the platform answered, for every batch already confirmed."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                list_batch.c.batch_no,
                list_batch.c.first_seq,
                list_batch.c.last_seq,
                list_batch.c.accepted,
                list_batch.c.codes,
            ).where(list_batch.c.list_run_id == list_run_id)
        )
        return {
            r.batch_no: _Confirmed(r.batch_no, r.first_seq, r.last_seq, r.accepted, r.codes) for r in rows
        }


def _aligned(confirmed: dict[int, _Confirmed], batch_size: int, rows: int) -> bool:
    """True when every confirmed batch is exactly batch ``batch_no`` of ``batch_size`` rows."""
    for c in confirmed.values():
        first = c.batch_no * batch_size
        last = min(first + batch_size, rows) - 1
        if (c.first_seq, c.last_seq, len(c.codes)) != (first, last, last - first + 1):
            return False
    return True


def _forget_batches(engine: Engine, list_run_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(list_batch).where(list_batch.c.list_run_id == list_run_id))
        conn.execute(delete(list_rejected).where(list_rejected.c.list_run_id == list_run_id))


def _set_list_run(engine: Engine, list_run_id: int, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(list_run).where(list_run.c.list_run_id == list_run_id).values(**values))


def _unconfirmed_batches(
    reader: Connection, list_run_id: int, batch_size: int, total_batches: int, skip: set[int], width: int
) -> Iterator[tuple[int, RecipientBatch]]:
    """(batch_no, recipients) of every batch not in ``skip``, in upload order.

    Seqs are dense, so batch k is seqs ``[k*batch_size, (k+1)*batch_size)``; each run of
    consecutive unconfirmed batches is read with one keyset scan from its first seq, so a resume
    does not read the confirmed part of the snapshot again.
    """
    todo = [b for b in range(total_batches) if b not in skip]
    for _, group in itertools.groupby(enumerate(todo), key=lambda pair: pair[1] - pair[0]):
        numbers = [b for _, b in group]
        chunks = snapshot_batches(
            reader, list_run_id, start_seq=numbers[0] * batch_size, batch_size=batch_size, width=width
        )
        # strict=False: chunks runs on to the end of the snapshot; this run of consecutive numbers
        # ends first, and numbers comes first so no chunk beyond it is read.
        yield from zip(numbers, chunks, strict=False)


def _raise_if_superseded(engine: Engine, lr: _ListRun) -> None:
    """End the list run ``superseded`` if a newer validated snapshot of its platform list exists."""
    with engine.begin() as conn:
        newer = newer_snapshot(conn, lr.list_run_id)
        if newer is None:
            return
        reason = mark_superseded(conn, lr.list_run_id, newer)
    log.warning("list %s (platform list %s): %s", lr.list_name, lr.platform_list_id, reason)
    raise SnapshotSuperseded(f"list {lr.list_name!r}: {reason}")


def _already_synced(engine: Engine, platform: RecipientListPlatform, lr: _ListRun) -> RefillReport:
    report = RefillReport(lr.list_run_id, lr.list_name, lr.platform_list_id, lr.snapshot_rows)
    report.platform_count = platform.count(lr.platform_list_id)
    log.info(
        "list %s (platform list %s): already synced in this run (%d recipients on the platform)",
        lr.list_name,
        lr.platform_list_id,
        report.platform_count,
    )
    report = _report_from_audit(engine, report)
    report.window_seconds = _recorded_window(engine, lr.list_run_id)
    return report


def refill_list(
    engine: Engine,
    platform: RecipientListPlatform,
    list_run_id: int,
    options: RefillOptions | None = None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    lock: LockSettings | None = None,
) -> RefillReport:
    """Make the platform list equal the list run's snapshot. Safe to call again after any failure.

    Raises ``SnapshotSuperseded`` (the list run ends ``superseded``, the platform untouched) when a
    newer validated snapshot of the same platform list exists, and ``WriterLockBusy`` naming the
    holder when another writer keeps the platform list's lock longer than ``lock.wait_seconds``.
    """
    options = options or RefillOptions()
    lr = _load_list_run(engine, list_run_id)
    if lr.status == "synced":
        return _already_synced(engine, platform, lr)
    _raise_if_superseded(engine, lr)  # cheap, and spares a superseded run the wait for the lock
    key = LockKey.platform_list(lr.platform, lr.platform_list_id)
    holder = f"run {lr.run_id}, list {lr.list_name} (list run {lr.list_run_id})"
    owner = f"list_run:{lr.list_run_id}"  # its own retry takes the lock over at once (after a kill -9)
    with hold_writer_lock(engine, key, owner=owner, holder=holder, settings=lock) as lease:
        # Under the lock, again: another writer may have synced or superseded this one meanwhile.
        lr = _load_list_run(engine, list_run_id)
        if lr.status == "synced":
            return _already_synced(engine, platform, lr)
        _raise_if_superseded(engine, lr)
        return _refill_locked(engine, platform, lr, options, now, lease)


def _refill_locked(
    engine: Engine,
    platform: RecipientListPlatform,
    lr: _ListRun,
    options: RefillOptions,
    now: Callable[[], datetime],
    lease: Lease,
) -> RefillReport:
    list_run_id = lr.list_run_id
    batch_size = min(options.batch_size, platform.max_batch_size)
    label = f"list {lr.list_name} (platform list {lr.platform_list_id})"
    report = RefillReport(lr.list_run_id, lr.list_name, lr.platform_list_id, lr.snapshot_rows)

    # -- 1. Slow and fallible preparation, while the list still holds its previous recipients.
    try:
        _check_snapshot_complete(engine, lr)
    except SnapshotIncomplete as exc:
        _set_list_run(engine, list_run_id, error=str(exc)[:2000])
        raise
    current = platform.count(lr.platform_list_id)  # logs in, loads the WSDL, proves the list exists
    report.previous_count = current
    total_batches = -(-lr.snapshot_rows // batch_size)
    confirmed = _confirmed_batches(engine, list_run_id) if lr.status == "refilling" else {}
    confirmed_accepted = sum(c.accepted for c in confirmed.values())
    resume = (
        lr.status == "refilling"
        and current == confirmed_accepted
        and _aligned(confirmed, batch_size, lr.snapshot_rows)
    )
    if not resume:
        confirmed = {}
    # One reader (AUTOCOMMIT: each page its own statement, no snapshot held for the hours a big
    # refill may take) and one writer for the whole upload: no pool checkout, ping and reset per batch.
    with (
        engine.connect() as reader,
        engine.connect() as writer,
        _audit_without_flush_wait(writer),
        BatchSpool(options.spool_dir) as spool,
    ):
        reader.execution_options(isolation_level="AUTOCOMMIT")
        batches = _unconfirmed_batches(
            reader, list_run_id, batch_size, total_batches, set(confirmed), len(lr.attribute_names)
        )
        try:  # every request built now, while the list still holds its recipients (batch_spool.py)
            _spool_batches(spool, platform, lr, batches, options.max_parallel_calls, lease.renew)
        except Exception as exc:
            message = mask_text(
                f"{label}: preparing the batches failed before the list was cleared (the platform list "
                f"was not touched): {type(exc).__name__}: {exc}"
            )
            _set_list_run(engine, list_run_id, error=message[:2000])
            raise RefillError(message) from exc
        report.spooled_bytes = spool.size_bytes
        log.info(
            "%s: %d batches read and prepared before the list is touched (%.1f MB in a temporary file)",
            label,
            spool.batches,
            spool.size_bytes / 2**20,
        )

        # -- 2. Clear (unless resuming), then upload.
        upload_started = time.perf_counter()  # the upload phase, clear .. final count, as the bench times it
        if resume:
            report.resumed = True
            log.info(
                "%s: resuming: the platform holds %d recipients, exactly what the %d confirmed batches "
                "accepted; sending the other %d batches",
                label,
                current,
                len(confirmed),
                total_batches - len(confirmed),
            )
        else:
            if lr.status == "refilling":
                log.warning(
                    "%s: the platform holds %d recipients but the confirmed batches accepted %d: clearing "
                    "and refilling from scratch",
                    label,
                    current,
                    confirmed_accepted,
                )
            _forget_batches(engine, list_run_id)
            log.info("%s: clearing %d recipients, then uploading %d", label, current, lr.snapshot_rows)
            _set_list_run(
                engine,
                list_run_id,
                status="refilling",
                cleared_at=now(),
                last_batch_at=None,
                window_seconds=None,
                error=None,
            )
            try:
                lease.renew(force=True)  # still ours after the slow preparation: only then clear
                platform.clear(lr.platform_list_id)
            except Exception as exc:
                message = mask_text(f"clear failed: {type(exc).__name__}: {exc}")
                _set_list_run(engine, list_run_id, error=message[:2000])
                raise

        progress = Progress(
            total_rows=lr.snapshot_rows,
            total_batches=total_batches,
            log=log,
            label=label,
            every_seconds=options.progress_every_seconds,
            rows_done=sum(len(c.codes) for c in confirmed.values()),
            batches_done=len(confirmed),
        )
        try:
            report.batches_sent = _upload(
                writer,
                platform,
                lr,
                batch_size,
                options.max_parallel_calls,
                iter(spool),
                progress,
                lease.renew,
            )
        except Exception as exc:
            _set_list_run(engine, list_run_id, error=mask_text(f"{type(exc).__name__}: {exc}")[:2000])
            raise
    finished = now()  # the answer to the last addAll3 is in: the empty-list window ends here

    # -- 3. Verify.
    platform_count = platform.count(lr.platform_list_id)
    upload_seconds = time.perf_counter() - upload_started
    report = _report_from_audit(engine, report)
    report.upload_seconds = upload_seconds
    report.platform_count = platform_count
    with engine.connect() as conn:
        cleared_at = conn.execute(
            select(list_run.c.cleared_at).where(list_run.c.list_run_id == list_run_id)
        ).scalar_one()
    report.window_seconds = max((finished - cleared_at).total_seconds(), 0.0) if cleared_at else 0.0
    values = dict(
        uploaded=report.uploaded,
        accepted=report.accepted,
        result_codes={str(k): v for k, v in report.result_codes.items()},
        rejected=report.rejected,
        platform_count=platform_count,
        last_batch_at=finished,
        window_seconds=round(report.window_seconds),
    )
    if report.uploaded != lr.snapshot_rows:  # cannot happen unless the audit was changed meanwhile
        message = f"{label}: {report.uploaded} recipients confirmed for a snapshot of {lr.snapshot_rows}"
        _set_list_run(engine, list_run_id, error=message, **values)
        raise RefillError(message)
    if platform_count != report.accepted:
        message = (
            f"{label}: platform count {platform_count} != {report.accepted} accepted recipients after the "
            "refill; the list is not marked synced (a retry clears and refills it)"
        )
        _set_list_run(engine, list_run_id, error=message, **values)
        raise CountMismatch(message)
    lease.renew(force=True)  # a writer that lost its lease must not claim the list
    _set_list_run(engine, list_run_id, status="synced", finished_at=finished, error=None, **values)
    log.info(
        "%s: synced %d of %d recipients (codes %s, %d rejected), %d batches sent%s; "
        "list empty/partial for %.1fs",
        label,
        report.accepted,
        report.uploaded,
        dict(sorted(report.result_codes.items())),
        report.rejected,
        report.batches_sent,
        " (resumed)" if report.resumed else "",
        report.window_seconds,
    )
    return report


class _ReadAhead:
    """The next batches, read by one background thread up to ``depth`` batches ahead.

    The database's answer time (and the JSON decoding) then overlaps the platform calls instead
    of sitting between them. The iterator is only ever advanced by that one thread, one step at
    a time; a reading error is raised by ``next`` in the caller's thread.
    """

    def __init__(self, batches: Iterator[tuple[int, RecipientBatch]], depth: int, name: str) -> None:
        self._batches = batches
        self._depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-reader")
        self._pending: deque[Future[tuple[int, RecipientBatch] | None]] = deque()
        self._exhausted = False
        self._fill()

    def _fill(self) -> None:
        while not self._exhausted and len(self._pending) < self._depth:
            self._pending.append(self._pool.submit(next, self._batches, None))

    def next(self) -> tuple[int, RecipientBatch] | None:
        if not self._pending:
            return None
        try:
            item = self._pending.popleft().result()
        except BaseException:
            self._exhausted = True
            raise
        if item is None:
            self._exhausted = True
        else:
            self._fill()
        return item

    def close(self) -> None:
        self._exhausted = True
        self._pool.shutdown(wait=True, cancel_futures=True)


def _spool_batches(
    spool: BatchSpool,
    platform: RecipientListPlatform,
    lr: _ListRun,
    batches: Iterator[tuple[int, RecipientBatch]],
    read_ahead: int,
    renew_lease: Callable[[], None],
) -> None:
    """Read every batch to send and have the platform prepare its request, into ``spool``.

    One thread (``_ReadAhead``) reads the next pages while this one encodes, so the database's
    answer time overlaps the encoding. The lease is renewed as we go (throttled): spooling a list
    of millions takes a while, and it happens under the writer lock.
    """
    prepare = platform.prepare_batch if isinstance(platform, PreparedBatches) else None
    reader = _ReadAhead(batches, read_ahead, f"refill-{lr.list_name}")
    try:
        while (item := reader.next()) is not None:
            batch_no, recipients = item
            request = (
                prepare(lr.platform_list_id, lr.optin_process_id, lr.attribute_names, recipients)
                if prepare is not None
                else None
            )
            spool.add(batch_no, recipients, request)
            renew_lease()
    finally:
        reader.close()


def _upload(
    writer: Connection,
    platform: RecipientListPlatform,
    lr: _ListRun,
    batch_size: int,
    max_parallel: int,
    batches: Iterator[SpooledBatch],
    progress: Progress,
    renew_lease: Callable[[], None],
) -> int:
    """Send the batches with bounded concurrency; record each as it returns; return how many were sent.

    ``max_parallel`` threads send what ``_spool_batches`` prepared before the list was cleared, so
    neither a database read nor the encoding sits between an answer and the next call (reading a
    record back is one ``pread``). This thread records every answer
    (one writer keeps SQLite happy) *before* it sends another batch: whatever was answered when
    a batch leaves is confirmed, which is what lets a killed refill resume after its last
    confirmed batch. On the first failure -- a call, reading the snapshot or recording a
    result -- no new batch is sent; those in flight are awaited and recorded, then the error
    propagates, so what is confirmed stays exactly what the platform answered. After each recorded
    batch the writer lock's lease is renewed (throttled); a lost lease stops the upload likewise.
    """
    in_flight: dict[Future[Sequence[AddResult]], tuple[int, RecipientBatch]] = {}
    failure: BaseException | None = None
    sent = 0

    def send(batch: SpooledBatch) -> Sequence[AddResult]:
        if batch.request is not None:  # only a PreparedBatches platform spooled a request
            return cast(PreparedBatches, platform).add_prepared(batch.request, batch.recipients.recipient_ids)
        return platform.add_batch(
            lr.platform_list_id, lr.optin_process_id, lr.attribute_names, batch.recipients
        )

    name = f"refill-{lr.list_name}"
    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix=name) as pool:
        while True:
            while failure is None and len(in_flight) < max_parallel:
                try:
                    upcoming = next(batches, None)
                except Exception as exc:  # the spool could not be read: stop like a failed call
                    failure = exc
                    log.error(
                        "list %s: reading the prepared batches failed: %s",
                        lr.list_name,
                        mask_text(str(exc)),
                    )
                    break
                if upcoming is None:
                    break
                in_flight[pool.submit(send, upcoming)] = (upcoming.batch_no, upcoming.recipients)
                sent += 1
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: in_flight[f][0]):
                batch_no, recipients = in_flight.pop(future)
                try:
                    results = future.result()
                except Exception as exc:  # keep the first failure, finish the others
                    if failure is None:
                        failure = exc
                        log.error("list %s: batch %d failed: %s", lr.list_name, batch_no, mask_text(str(exc)))
                    continue
                try:
                    record_batch(
                        writer,
                        lr.list_run_id,
                        BatchOutcome(batch_no, batch_no * batch_size, recipients, results),
                        lr.run_id,
                    )
                except Exception as exc:  # the audit cannot be written: stop sending, like a failed call
                    if failure is None:
                        failure = exc
                        log.error(
                            "list %s: recording batch %d failed: %s",
                            lr.list_name,
                            batch_no,
                            mask_text(str(exc)),
                        )
                    continue
                progress.advance(len(recipients))
                try:
                    renew_lease()
                except Exception as exc:  # another writer took the list over: stop sending
                    if failure is None:
                        failure = exc
                        log.error("list %s: %s", lr.list_name, exc)
    if failure is not None:
        raise RefillError(
            f"list {lr.list_name}: refill stopped after {progress.batches_done} of {progress.total_batches} "
            f"batches: {mask_text(str(failure))}"
        ) from failure
    return sent


@contextmanager
def _audit_without_flush_wait(writer: Connection) -> Iterator[None]:
    """On PostgreSQL, the writer's commits do not wait for the WAL flush while the upload runs.

    A batch is recorded before the next one is sent, so each commit's flush wait (a disk sync,
    milliseconds on a busy disk) used to sit between two platform calls. Not waiting is safe
    here: after a server crash at most the last few records are lost, never reordered (WAL
    order), and a lost record is just an unconfirmed batch -- the retry then sees the platform
    holding more than the confirmed batches accepted and clears and refills. The list run's own
    status updates use other connections and stay synchronous (and flush these records too).
    """
    if writer.dialect.name != "postgresql":
        yield
        return
    with writer.begin():
        writer.exec_driver_sql("SET synchronous_commit TO OFF")  # session-level: outlives the transaction
    try:
        yield
    finally:
        try:
            if writer.in_transaction():
                writer.rollback()
            with writer.begin():
                writer.exec_driver_sql("RESET synchronous_commit")  # the pool hands this connection on
        except Exception:  # noqa: BLE001 - a broken connection is invalidated by the pool anyway
            writer.invalidate()


def _recorded_window(engine: Engine, list_run_id: int) -> float:
    with engine.connect() as conn:
        cleared_at, last_batch_at = conn.execute(
            select(list_run.c.cleared_at, list_run.c.last_batch_at).where(
                list_run.c.list_run_id == list_run_id
            )
        ).one()
    return (last_batch_at - cleared_at).total_seconds() if cleared_at and last_batch_at else 0.0


def _report_from_audit(engine: Engine, report: RefillReport) -> RefillReport:
    """Totals from the recorded batches: the audit is the source of truth, also after a resume."""
    codes: Counter[int] = Counter()
    uploaded = accepted = 0
    with engine.connect() as conn:
        for row in conn.execute(
            select(list_batch.c.codes, list_batch.c.accepted).where(
                list_batch.c.list_run_id == report.list_run_id
            )
        ):
            codes.update(int(c) for c in row.codes)
            uploaded += len(row.codes)
            accepted += row.accepted
    report.uploaded, report.accepted = uploaded, accepted
    report.result_codes = dict(sorted(codes.items()))
    report.rejected = uploaded - accepted
    return report

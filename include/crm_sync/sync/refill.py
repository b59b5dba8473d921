"""Clear a platform list and fill it again from a validated snapshot, resumably.

Order of work, chosen to keep the list empty as briefly as possible:

1. Everything slow happens before ``clear``: the snapshot is already frozen and validated, the
   platform session is opened and its list counted (which also proves the list exists), and the
   first batches are read from the database.
2. ``clear``, then ``add_batch`` calls, up to ``max_parallel_calls`` in flight. Each confirmed
   batch is recorded (``list_batch``) before the next progress line.
3. ``count`` must equal the number of accepted recipients (codes 0 and 5), else the run fails.

A retry (Airflow task retry, or the whole DAG re-run for the same run id) finds the list run in
status ``refilling``. If the platform's count equals what the confirmed batches accepted, the
retry sends only the batches not yet confirmed; otherwise (a batch may have been applied without
our knowing) it clears and refills from scratch. Either way a list never ends half-filled while
marked ``synced``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, select, update

from include.crm_sync.extract.snapshot_reader import iter_snapshot
from include.crm_sync.platforms.base import Recipient, RecipientListPlatform
from include.crm_sync.staging.tables import list_batch, list_rejected, list_run, sync_run
from include.crm_sync.sync.batch_results import BatchOutcome, record_batch
from include.crm_sync.sync.progress import Progress

log = logging.getLogger(__name__)


class RefillError(RuntimeError):
    """The refill did not complete; the list run stays resumable."""


class RefillNotAllowed(RefillError):
    """The preconditions of a refill do not hold (feedback not applied, snapshot not validated)."""


class CountMismatch(RefillError):
    """After the last batch the platform holds a different number of recipients than accepted."""


@dataclass(frozen=True)
class RefillOptions:
    batch_size: int = 1000
    max_parallel_calls: int = 4
    progress_every_seconds: float = 10.0

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
    window_seconds: float = 0.0


@dataclass(frozen=True)
class _ListRun:
    list_run_id: int
    run_id: str
    list_name: str
    platform_list_id: str
    optin_process_id: str
    attribute_names: tuple[str, ...]
    status: str
    snapshot_rows: int


def _load_list_run(engine: Engine, list_run_id: int) -> _ListRun:
    with engine.connect() as conn:
        row = conn.execute(select(list_run).where(list_run.c.list_run_id == list_run_id)).mappings().one()
        feedback_ok = conn.execute(
            select(sync_run.c.feedback_ok).where(sync_run.c.run_id == row["run_id"])
        ).scalar_one_or_none()
    if not feedback_ok:
        raise RefillNotAllowed(
            f"list {row['list_name']!r}: the feedback import of run {row['run_id']!r} has not succeeded; "
            "refilling now could re-add people who unsubscribed or bounced"
        )
    if row["status"] not in ("validated", "refilling", "synced"):
        raise RefillNotAllowed(
            f"list {row['list_name']!r}: snapshot status is {row['status']!r}; only a validated snapshot "
            "is uploaded"
        )
    return _ListRun(
        list_run_id=row["list_run_id"],
        run_id=row["run_id"],
        list_name=row["list_name"],
        platform_list_id=row["platform_list_id"],
        optin_process_id=row["optin_process_id"],
        attribute_names=tuple(row["attribute_names"]),
        status=row["status"],
        snapshot_rows=row["snapshot_rows"] or 0,
    )


def _confirmed_batches(engine: Engine, list_run_id: int) -> dict[int, tuple[int, str]]:
    """batch_no -> (accepted, codes) of every batch the platform already confirmed."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(list_batch.c.batch_no, list_batch.c.accepted, list_batch.c.codes).where(
                list_batch.c.list_run_id == list_run_id
            )
        )
        return {r.batch_no: (r.accepted, r.codes) for r in rows}


def _forget_batches(engine: Engine, list_run_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(list_batch).where(list_batch.c.list_run_id == list_run_id))
        conn.execute(delete(list_rejected).where(list_rejected.c.list_run_id == list_run_id))


def _set_list_run(engine: Engine, list_run_id: int, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(list_run).where(list_run.c.list_run_id == list_run_id).values(**values))


def _numbered_batches(
    engine: Engine, list_run_id: int, batch_size: int, skip: set[int]
) -> Iterator[tuple[int, list[Recipient]]]:
    """(batch_no, recipients) in upload order; seqs are dense, so batch k starts at k*batch_size."""
    for batch_no, chunk in enumerate(iter_snapshot(engine, list_run_id, chunk_size=batch_size)):
        if batch_no not in skip:
            yield batch_no, chunk


def refill_list(
    engine: Engine,
    platform: RecipientListPlatform,
    list_run_id: int,
    options: RefillOptions | None = None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RefillReport:
    """Make the platform list equal the list run's snapshot. Safe to call again after any failure."""
    options = options or RefillOptions()
    batch_size = min(options.batch_size, platform.max_batch_size)
    lr = _load_list_run(engine, list_run_id)
    label = f"list {lr.list_name} (platform list {lr.platform_list_id})"
    report = RefillReport(lr.list_run_id, lr.list_name, lr.platform_list_id, lr.snapshot_rows)

    if lr.status == "synced":
        report.platform_count = platform.count(lr.platform_list_id)
        log.info("%s: already synced in this run (%d recipients on the platform)", label, report.platform_count)
        return _report_from_audit(engine, report)

    # Slow preparation before the list is emptied: session, WSDL, proof the list exists.
    current = platform.count(lr.platform_list_id)
    report.previous_count = current
    confirmed = _confirmed_batches(engine, list_run_id) if lr.status == "refilling" else {}
    confirmed_accepted = sum(accepted for accepted, _ in confirmed.values())
    if lr.status == "refilling" and current == confirmed_accepted:
        report.resumed = True
        log.info(
            "%s: resuming: platform holds %d recipients, exactly what the %d confirmed batches accepted",
            label, current, len(confirmed),
        )
    else:
        if lr.status == "refilling":
            log.warning(
                "%s: platform holds %d recipients but confirmed batches accepted %d: clearing and "
                "refilling from scratch", label, current, confirmed_accepted,
            )
        _forget_batches(engine, list_run_id)
        confirmed = {}
        log.info("%s: clearing %d recipients, then uploading %d", label, current, lr.snapshot_rows)
        _set_list_run(engine, list_run_id, status="refilling", cleared_at=now(), error=None)
        platform.clear(lr.platform_list_id)

    total_batches = -(-lr.snapshot_rows // batch_size)
    progress = Progress(
        total_rows=lr.snapshot_rows, total_batches=total_batches, log=log, label=label,
        every_seconds=options.progress_every_seconds,
    )
    progress.rows_done = sum(len(codes) for _, codes in confirmed.values())
    progress.batches_done = len(confirmed)

    try:
        _upload(engine, platform, lr, batch_size, options.max_parallel_calls, set(confirmed), progress)
    except Exception as exc:
        _set_list_run(engine, list_run_id, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise

    finished = now()
    platform_count = platform.count(lr.platform_list_id)
    report = _report_from_audit(engine, report)
    report.platform_count = platform_count
    with engine.connect() as conn:
        cleared_at = conn.execute(
            select(list_run.c.cleared_at).where(list_run.c.list_run_id == list_run_id)
        ).scalar_one()
    report.window_seconds = (finished - cleared_at).total_seconds() if cleared_at else 0.0
    values = dict(
        uploaded=report.uploaded, accepted=report.accepted, result_codes={str(k): v for k, v in report.result_codes.items()},
        rejected=report.rejected, platform_count=platform_count, last_batch_at=finished,
        window_seconds=round(report.window_seconds),
    )
    if platform_count != report.accepted:
        message = (
            f"{label}: platform count {platform_count} != {report.accepted} accepted recipients after the refill"
        )
        _set_list_run(engine, list_run_id, error=message, **values)
        raise CountMismatch(message)
    _set_list_run(engine, list_run_id, status="synced", finished_at=finished, error=None, **values)
    log.info(
        "%s: synced %d of %d recipients (codes %s), list empty for %.1fs",
        label, report.accepted, report.uploaded, dict(sorted(report.result_codes.items())), report.window_seconds,
    )
    return report


def _upload(
    engine: Engine,
    platform: RecipientListPlatform,
    lr: _ListRun,
    batch_size: int,
    max_parallel: int,
    skip: set[int],
    progress: Progress,
) -> None:
    """Send the not-yet-confirmed batches with bounded concurrency; record each as it returns.

    Results are written from this thread only (one writer keeps SQLite happy). On the first
    failure no new batch is sent; those in flight are awaited and recorded, then the error
    propagates, so what is confirmed stays exactly what the platform answered.
    """
    batches = _numbered_batches(engine, lr.list_run_id, batch_size, skip)
    in_flight: dict[Future, tuple[int, Sequence[Recipient]]] = {}
    failure: BaseException | None = None

    def send(recipients: Sequence[Recipient]):
        return platform.add_batch(lr.platform_list_id, lr.optin_process_id, lr.attribute_names, recipients)

    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix=f"refill-{lr.list_name}") as pool:
        exhausted = False
        while True:
            while not exhausted and failure is None and len(in_flight) < max_parallel:
                nxt = next(batches, None)
                if nxt is None:
                    exhausted = True
                    break
                batch_no, recipients = nxt
                in_flight[pool.submit(send, recipients)] = (batch_no, recipients)
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                batch_no, recipients = in_flight.pop(future)
                try:
                    results = future.result()
                except Exception as exc:  # keep the first failure, finish the others
                    if failure is None:
                        failure = exc
                        log.error("list %s: batch %d failed: %s", lr.list_name, batch_no, exc)
                    continue
                record_batch(
                    engine, lr.list_run_id,
                    BatchOutcome(batch_no, batch_no * batch_size, recipients, results), lr.run_id,
                )
                progress.advance(len(recipients))
    if failure is not None:
        raise RefillError(
            f"list {lr.list_name}: refill stopped after {progress.batches_done} of {progress.total_batches} "
            f"batches: {failure}"
        ) from failure


def _report_from_audit(engine: Engine, report: RefillReport) -> RefillReport:
    """Totals from the recorded batches: the audit is the source of truth, also after a resume."""
    codes: Counter[int] = Counter()
    uploaded = accepted = 0
    with engine.connect() as conn:
        for row in conn.execute(
            select(list_batch.c.codes, list_batch.c.accepted).where(list_batch.c.list_run_id == report.list_run_id)
        ):
            codes.update(int(c) for c in row.codes)
            uploaded += len(row.codes)
            accepted += row.accepted
    report.uploaded, report.accepted = uploaded, accepted
    report.result_codes = dict(sorted(codes.items()))
    report.rejected = uploaded - accepted
    return report

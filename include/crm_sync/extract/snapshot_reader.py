"""Read a frozen snapshot back in upload order, in bounded chunks, for the refill.

Keyset pagination on ``(list_run_id, seq)`` -- the table's primary key -- costs the same for the
last page as for the first and holds no transaction or cursor open between pages, so a refill
that takes hours neither pins a PostgreSQL snapshot nor a SQLite read lock. Seqs are dense
(0..n-1), so each chunk but the last has exactly ``chunk_size`` rows and chunk k starts at
``start_seq + k * chunk_size``; a gap means the snapshot was tampered with and is an error.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Engine, select

from include.crm_sync.platforms.base import Recipient
from include.crm_sync.staging.tables import list_snapshot


class SnapshotGapError(RuntimeError):
    """The snapshot's seqs are not dense: rows were removed after the extraction."""


def iter_snapshot(
    engine: Engine | Connection, list_run_id: int, start_seq: int = 0, chunk_size: int = 1000
) -> Iterator[list[Recipient]]:
    """Chunks of recipients of ``list_run_id`` from ``start_seq`` on, in seq order.

    Given an engine, each page checks a connection out of the pool and returns it. A long reader
    (the refill) passes one ``Connection`` in ``AUTOCOMMIT`` mode instead: every page is then one
    statement that commits on its own -- still no transaction or snapshot held between pages -- and
    the pool's per-checkout ping and reset-on-return round trips are saved on every page.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    query = (
        select(
            list_snapshot.c.seq,
            list_snapshot.c.recipient_id,
            list_snapshot.c.email,
            list_snapshot.c.attr_values,
        )
        .where(list_snapshot.c.list_run_id == list_run_id)
        .order_by(list_snapshot.c.seq)
        .limit(chunk_size)
    )
    next_seq = start_seq
    while True:
        page = query.where(list_snapshot.c.seq >= next_seq)
        if isinstance(engine, Connection):
            rows = engine.execute(page).all()
        else:
            with engine.connect() as conn:
                rows = conn.execute(page).all()
        if not rows:
            return
        if rows[0].seq != next_seq or rows[-1].seq != next_seq + len(rows) - 1:
            raise SnapshotGapError(
                f"snapshot of list run {list_run_id} has a gap near seq {next_seq}: re-extract the list"
            )
        yield [
            Recipient(r.recipient_id, r.email, tuple("" if v is None else str(v) for v in r.attr_values))
            for r in rows
        ]
        if len(rows) < chunk_size:
            return
        next_seq += len(rows)

"""The membership sync's own record: ``platform_membership`` and ``platform_list_sync``.

Spotler cannot list an audience's members, so what the sync put there is known only from this
record, and the record is written ONLY after the platform confirmed a call: a member is marked
``in_audience`` after its add was answered, unmarked after its removal was answered, and its
``fields_hash`` is set after its upsert was answered OK (NULL otherwise: upload again next time,
never add). A call whose answer was lost leaves the record behind the platform; the sync-state row
(``in_progress`` from before the first write until the end) tells the next run to distrust it.

All queries are keyed on the primary key ``(platform, platform_list_id, member_id)`` and page by
keyset, so memory stays flat whatever the list size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    Text,
    and_,
    any_,
    bindparam,
    exists,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result

from include.crm_sync.imports.sql_files import import_sql
from include.crm_sync.staging.tables import list_snapshot, platform_list_sync, platform_membership
from include.crm_sync.staging.types import UTCDateTime

M = platform_membership
S = platform_list_sync

IN_PROGRESS = "in_progress"
SYNCED = "synced"

_FIELD_SEP = "\x1f"

#: past every seq of a snapshot (seq is an INTEGER column)
_END_OF_SNAPSHOT = 2**31 - 1

#: rows PostgreSQL's cursor hands over per fetch when streaming the recorded hashes
_STREAM_ROWS = 5000


def fields_hash(attribute_names: Sequence[str], email: str, values: Sequence[str]) -> str:
    """sha256 of what an upsert uploads for one contact (names included: a new mapping re-uploads)."""
    text = _FIELD_SEP.join((email, *attribute_names, "\x1e", *values))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SyncState:
    status: str
    list_run_id: int | None
    members: int


@dataclass(frozen=True)
class Recorded:
    fields_hash: str | None
    in_audience: bool


class MembershipStore:
    """The record of one platform list (``platform``, ``list_id``)."""

    def __init__(self, platform: str, list_id: str) -> None:
        self.platform = platform
        self.list_id = list_id
        self._mine = and_(M.c.platform == platform, M.c.platform_list_id == list_id)

    # ------------------------------------------------------------------ sync state

    def state(self, conn: Connection) -> SyncState | None:
        row = conn.execute(
            select(S.c.status, S.c.list_run_id, S.c.members).where(
                S.c.platform == self.platform, S.c.platform_list_id == self.list_id
            )
        ).first()
        return None if row is None else SyncState(row.status, row.list_run_id, row.members)

    def begin_writing(
        self, conn: Connection, *, list_run_id: int, mode: str, reason: str | None, now: datetime
    ) -> None:
        """Mark the list ``in_progress`` before the first write: a crash from here on is a doubt."""
        values = {
            "status": IN_PROGRESS,
            "list_run_id": list_run_id,
            "mode": mode,
            "reason": reason,
            "started_at": now,
            "finished_at": None,
        }
        key = {"platform": self.platform, "platform_list_id": self.list_id}
        _upsert(conn, S, key, {**values, "members": self._count_in_audience(conn)})

    def finish(self, conn: Connection, *, members: int, now: datetime) -> None:
        conn.execute(
            update(S)
            .where(S.c.platform == self.platform, S.c.platform_list_id == self.list_id)
            .values(status=SYNCED, members=members, finished_at=now)
        )

    def forget_list(self, conn: Connection) -> None:
        """The platform list is gone (deleted): drop its record and state."""
        conn.execute(M.delete().where(self._mine))
        conn.execute(S.delete().where(S.c.platform == self.platform, S.c.platform_list_id == self.list_id))

    # ------------------------------------------------------------------ members

    @staticmethod
    def _one_of(conn: Connection):  # noqa: ANN205 - a SQL condition on member_id
        """``member_id`` is one of the ``:ids`` bound: on PostgreSQL ``= ANY(array)``, one parameter
        (an expanding IN of 2,500 ids is 2,500 parameters to render and parse: 50 ms a page of adds
        at 1M contacts, bench/run.py --only spotler with BENCH_PROFILE)."""
        if conn.dialect.name == "postgresql":
            return M.c.member_id == any_(bindparam("ids", type_=postgresql.ARRAY(Text)))
        return M.c.member_id.in_(bindparam("ids", expanding=True))

    def recorded(self, conn: Connection, member_ids: Sequence[str]) -> dict[str, Recorded]:
        if not member_ids:
            return {}
        rows = conn.execute(
            select(M.c.member_id, M.c.fields_hash, M.c.in_audience).where(self._mine, self._one_of(conn)),
            {"ids": list(member_ids)},
        )
        return {r.member_id: Recorded(r.fields_hash, bool(r.in_audience)) for r in rows}

    @contextmanager
    def recorded_hashes(self, engine: Engine, list_run_id: int) -> Iterator[RecordedHashes]:
        """The recorded fields hash of every row of the snapshot of ``list_run_id``, page by page in
        seq order (see ``RecordedHashes``), read on a connection of its own."""
        with engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                # SQLite: no read transaction held between pages (it would block the record's
                # commits); PostgreSQL's server-side cursor lives in one
                conn.execution_options(isolation_level="AUTOCOMMIT")
            hashes = RecordedHashes(conn, self, list_run_id)
            try:
                yield hashes
            finally:
                hashes.close()

    def record_upserts(
        self, conn: Connection, results: Sequence[tuple[str, str | None, str]], now: datetime
    ) -> None:
        """(member id, fields hash or None when refused, platform code) of answered upserts."""
        if not results:
            return
        if conn.dialect.name == "postgresql":
            # One statement per batch, the rows as arrays: one round trip between two platform calls
            # and nothing to compile per batch. (An executemany of an ON CONFLICT insert is no
            # "insertmanyvalues": psycopg2 sent a statement per contact; a multi-row VALUES cost
            # SQLAlchemy a compile of every row's parameters -- bench/run.py measured both.)
            conn.execute(
                import_sql("membership", "record_upserts", now=UTCDateTime()),
                {
                    "platform": self.platform,
                    "platform_list_id": self.list_id,
                    "member_ids": [member_id for member_id, _, _ in results],
                    "fields_hashes": [digest for _, digest, _ in results],
                    "codes": [code for _, _, code in results],
                    "now": now,
                },
            )
            return
        # SQLite (in-process: an executemany costs no round trips): one cached statement
        statement = sqlite.insert(M)
        statement = statement.on_conflict_do_update(
            index_elements=[M.c.platform, M.c.platform_list_id, M.c.member_id],
            set_={
                name: statement.excluded[name]
                for name in ("fields_hash", "upsert_code", "upserted_at", "confirmed_at")
            },
        )
        conn.execute(
            statement,
            [
                {
                    "platform": self.platform,
                    "platform_list_id": self.list_id,
                    "member_id": member_id,
                    "in_audience": False,
                    "fields_hash": digest,
                    "upsert_code": code,
                    "upserted_at": now,
                    "confirmed_at": now,
                }
                for member_id, digest, code in results
            ],
        )

    def refresh_statistics(self, conn: Connection) -> None:
        """PostgreSQL: ``ANALYZE`` the record after the upserts, which may have grown it from nothing
        to the whole list, and the snapshot, written by this run's extraction. With the statistics
        of empty tables the planner read every page of the adds (``joining_page``) from all of the
        list -- the record's rows (bench/run.py --only spotler, 1M contacts: 18 s a page of 2,500),
        or the snapshot's rows after ``seq`` sorted (--only mailjet: 13 s a page of 1,000) --
        instead of the snapshot's next rows by its key: the night's adds were quadratic in the
        list. Autovacuum comes too late for that."""
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE platform_membership, list_snapshot")

    def mark(self, conn: Connection, member_ids: Sequence[str], *, in_audience: bool, now: datetime) -> None:
        """An add (``True``) or removal (``False``) of these members was confirmed."""
        if not member_ids:
            return
        conn.execute(
            update(M).where(self._mine, self._one_of(conn)).values(in_audience=in_audience, confirmed_at=now),
            {"ids": list(member_ids)},
        )

    def forget_members(self, conn: Connection, now: datetime) -> None:
        """The list was emptied (confirmed): nobody is in it any more."""
        conn.execute(update(M).where(self._mine, M.c.in_audience).values(in_audience=False, confirmed_at=now))

    def _count_in_audience(self, conn: Connection) -> int:
        return conn.execute(select(func.count()).where(self._mine, M.c.in_audience)).scalar_one()

    def count_in_audience(self, conn: Connection) -> int:
        return self._count_in_audience(conn)

    # ------------------------------------------------------------------ what to change

    def _leaving(self, list_run_id: int):  # noqa: ANN202 - a SQL condition
        """In the list but not (eligibly) in the snapshot: gone from it, or refused at upsert."""
        in_snapshot = exists().where(
            list_snapshot.c.list_run_id == list_run_id, list_snapshot.c.recipient_id == M.c.member_id
        )
        return and_(self._mine, M.c.in_audience, or_(not_(in_snapshot), M.c.fields_hash.is_(None)))

    def count_leaving(self, conn: Connection, list_run_id: int) -> int:
        return conn.execute(select(func.count()).where(self._leaving(list_run_id))).scalar_one()

    def leaving_page(self, conn: Connection, list_run_id: int, after: str | None, limit: int) -> list[str]:
        """The next ``limit`` members to remove, by member id after ``after``."""
        query = select(M.c.member_id).where(self._leaving(list_run_id))
        if after is not None:
            query = query.where(M.c.member_id > after)
        return list(conn.execute(query.order_by(M.c.member_id).limit(limit)).scalars())

    def _joining(self, list_run_id: int):  # noqa: ANN202 - the joined tables and the condition
        """Snapshot members whose upsert is confirmed and who are not in the list."""
        joined = list_snapshot.join(M, and_(self._mine, M.c.member_id == list_snapshot.c.recipient_id))
        condition = and_(
            list_snapshot.c.list_run_id == list_run_id, M.c.fields_hash.is_not(None), not_(M.c.in_audience)
        )
        return joined, condition

    def count_joining(self, conn: Connection, list_run_id: int) -> int:
        """How many members ``joining_page`` will hand out in all."""
        joined, condition = self._joining(list_run_id)
        return conn.execute(select(func.count()).select_from(joined).where(condition)).scalar_one()

    def joining_page(
        self, conn: Connection, list_run_id: int, after_seq: int, limit: int
    ) -> list[tuple[int, str]]:
        """The next ``limit`` (seq, member id) of the snapshot whose upsert is confirmed and who are
        not in the list, in snapshot order after ``after_seq``."""
        joined, condition = self._joining(list_run_id)
        query = (
            select(list_snapshot.c.seq, list_snapshot.c.recipient_id)
            .select_from(joined)
            .where(condition, list_snapshot.c.seq > after_seq)
            .order_by(list_snapshot.c.seq)
            .limit(limit)
        )
        return [(r.seq, r.recipient_id) for r in conn.execute(query)]

    def count_members_in_snapshot(self, conn: Connection, list_run_id: int) -> int:
        """Members in the list that the snapshot holds (after a sync: everyone accepted)."""
        return conn.execute(
            select(func.count())
            .select_from(M.join(list_snapshot, list_snapshot.c.recipient_id == M.c.member_id))
            .where(self._mine, M.c.in_audience, list_snapshot.c.list_run_id == list_run_id)
        ).scalar_one()


class RecordedHashes:
    """Per snapshot row, in seq order, the fields hash recorded for its contact (None: upload it).

    ``page(first_seq, count)`` must be asked for consecutive pages from seq 0, as the upsert phase
    reads the snapshot. On PostgreSQL the whole snapshot is one query (``sql/membership/
    recorded_hashes.sql``) streamed through a server-side cursor: a lookup per page cost 102 ms at
    1M contacts on a first night (the record, grown from nothing, had the statistics of an empty
    table, so each lookup read all of it: 29 of the night's 76 s, and quadratic in the list) and
    still 15 ms on the second; the one query, as a hash join, 0.3 s in all. SQLite, in-process,
    runs the same query one page at a time.
    """

    #: PostgreSQL, for the streamed query's transaction (see ``_streamed``); the hash of a 1M-member
    #: record fits in 64 MB
    PLAN_SETTINGS = ("SET LOCAL enable_nestloop = off", "SET LOCAL work_mem = '64MB'")

    def __init__(self, conn: Connection, store: MembershipStore, list_run_id: int) -> None:
        self._conn = conn
        self._params = {
            "platform": store.platform,
            "platform_list_id": store.list_id,
            "list_run_id": list_run_id,
        }
        self._stream: Result | None = None
        self._next_seq = 0

    def page(self, first_seq: int, count: int) -> list[str | None]:
        if first_seq != self._next_seq:
            raise ValueError(
                f"recorded hashes are read in seq order: asked for {first_seq}, at {self._next_seq}"
            )
        if self._conn.dialect.name == "postgresql":
            rows = self._streamed(count)
        else:
            rows = self._conn.execute(
                import_sql("membership", "recorded_hashes"),
                {**self._params, "first_seq": first_seq, "end_seq": first_seq + count},
            ).all()
        if len(rows) != count or (rows and (rows[0][0] != first_seq or rows[-1][0] != first_seq + count - 1)):
            # snapshot_batches checked the page has no gap, so the snapshot changed under the sync
            raise RuntimeError(
                f"snapshot of list run {self._params['list_run_id']} changed while its page at seq "
                f"{first_seq} was read ({len(rows)} recorded rows for {count})"
            )
        self._next_seq = first_seq + count
        return [digest for _, digest in rows]

    def _streamed(self, count: int) -> list[tuple[int, str | None]]:
        if self._stream is None:
            # The planner must not probe the record per snapshot row: it plans the record (grown
            # by this very sync, or never analysed) as a few rows, and a nested loop over it read
            # the record's rows again for every row of the snapshot (2 s a fetch of 1,000 at 1M).
            # A hash join reads it once (the snapshot partition's own statistics may be as stale).
            for setting in self.PLAN_SETTINGS:
                self._conn.exec_driver_sql(setting)
            self._stream = self._conn.execution_options(stream_results=True, yield_per=_STREAM_ROWS).execute(
                import_sql("membership", "recorded_hashes"),
                {**self._params, "first_seq": 0, "end_seq": _END_OF_SNAPSHOT},
            )
        return [tuple(row) for row in self._stream.fetchmany(count)]

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


@contextmanager
def record_writer(engine: Engine) -> Iterator[Connection]:
    """The connection the confirmed calls are recorded on, one transaction per call's answer.

    On PostgreSQL its commits do not wait for the WAL flush (``synchronous_commit`` off for this
    session): a record sits between two platform calls, and a disk sync per call (milliseconds on a
    busy disk) was most of a night's time (40k contacts: 400 upsert records, 18 s). Safe here: the
    state row is written ``in_progress`` synchronously on another connection before the first
    membership write, and ``synced`` only at the end (that commit flushes every record before it:
    WAL order). A server crash that loses the last records therefore always leaves ``in_progress``,
    and the next run empties and refills; a lost upsert record only uploads that contact again.
    """
    with engine.connect() as writer:
        if writer.dialect.name == "postgresql":
            with writer.begin():
                writer.exec_driver_sql("SET synchronous_commit TO OFF")  # session level
        try:
            yield writer
        finally:
            if writer.dialect.name == "postgresql":
                try:
                    if writer.in_transaction():
                        writer.rollback()
                    with writer.begin():
                        writer.exec_driver_sql("RESET synchronous_commit")  # the pool hands it on
                except Exception:  # noqa: BLE001 - a broken connection is dropped by the pool anyway
                    writer.invalidate()


def _upsert(conn: Connection, table, key: dict, values: dict, insert_only: dict | None = None) -> None:  # noqa: ANN001
    """INSERT ... ON CONFLICT (primary key) DO UPDATE on PostgreSQL and SQLite."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[conn.dialect.name]
    statement = dialect.insert(table).values(**key, **values, **(insert_only or {}))
    conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))

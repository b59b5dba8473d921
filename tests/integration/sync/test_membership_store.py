"""The membership record's writes cost one round trip per confirmed call, whatever the batch size.

``record_upserts`` runs between two platform calls of a membership sync, once per upsert batch; the
benchmark (``bench/run.py --only spotler,mailjet``) found it sent as an ``executemany`` of one
INSERT ... ON CONFLICT, which psycopg2 sends as one statement per contact -- most of a night's time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from include.crm_sync.staging.tables import platform_membership as M
from include.crm_sync.sync.membership_store import MembershipStore, record_writer


def _statements(engine: sa.Engine, run) -> list[tuple[str, bool]]:  # noqa: ANN001 - a callable
    sent: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append((statement, executemany))

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    return sent


def test_an_upsert_batch_is_recorded_by_one_statement(staging_engine: sa.Engine) -> None:
    store = MembershipStore("spotler", "aud-1")
    first = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [(f"m{i:04d}", f"hash{i}", "OK") for i in range(1000)]

    def record(batch, now) -> None:  # noqa: ANN001
        with record_writer(staging_engine) as writer, writer.begin():
            store.record_upserts(writer, batch, now)

    sent = _statements(staging_engine, lambda: record(rows, first))
    inserts = [(s, many) for s, many in sent if s.lstrip().upper().startswith("INSERT")]
    if staging_engine.dialect.name == "postgresql":  # over the network: one statement, one round trip
        assert len(inserts) == 1 and not inserts[0][1], [(s[:60], many) for s, many in inserts]
    else:  # SQLite runs in-process: one prepared statement for the batch
        assert len(inserts) == 1, [(s[:60], many) for s, many in inserts]

    # a later batch updates the rows it names (fields, code, time) and leaves the others alone
    later = first + timedelta(days=1)
    record([("m0001", None, "CONTACT_OPTOUT"), ("m5000", "new", "OK")], later)
    with staging_engine.connect() as conn:
        got = {
            r.member_id: (r.fields_hash, r.upsert_code, r.in_audience)
            for r in conn.execute(sa.select(M).where(M.c.member_id.in_(["m0000", "m0001", "m5000"])))
        }
        total = conn.execute(sa.select(sa.func.count()).select_from(M)).scalar_one()
    assert got == {
        "m0000": ("hash0", "OK", False),
        "m0001": (None, "CONTACT_OPTOUT", False),
        "m5000": ("new", "OK", False),
    }
    assert total == 1001

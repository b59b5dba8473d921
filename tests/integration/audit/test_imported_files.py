"""The demo's file summary: the ledger's rows summed per kind of file, every row accounted for. (That a
re-delivered event is "known" the second time is the feedback apply's rule, tested in
tests/integration/feedback/test_apply_file.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from include.crm_sync.audit.imported_files import ImportedKind, imported_files
from include.crm_sync.staging import tables as t

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def ledger(
    conn: sa.Connection,
    file_id: int,
    kind: str,
    read: int,
    applied: int,
    known: int = 0,
    ignored: int | None = None,
    rejected: int = 0,
) -> None:
    conn.execute(
        t.file_ledger.insert().values(
            file_id=file_id,
            kind=kind,
            file_name=f"file-{file_id}.csv",
            size_bytes=1,
            sha256=f"{file_id:064d}",
            status="applied",
            rows_read=read,
            rows_applied=applied,
            rows_known=known,
            rows_ignored=ignored,
            rows_rejected=rejected,
            received_at=T0,
            applied_at=T0,
        )
    )


def test_the_ledger_is_summed_per_kind_of_file(staging_engine: sa.Engine) -> None:
    with staging_engine.begin() as conn:
        ledger(conn, 1, "responses", read=6, applied=3, ignored=3)
        ledger(conn, 2, "bounces", read=5, applied=2, known=2, rejected=1)
        ledger(conn, 3, "bounces", read=4, applied=4)
        ledger(conn, 4, "unsubscribes", read=2, applied=1, known=1)

    kinds = {k.kind: k for k in imported_files(staging_engine)}

    assert kinds["responses"] == ImportedKind(
        "responses", 1, read=6, applied=3, known=0, ignored=3, rejected=0
    )
    assert kinds["bounces"] == ImportedKind("bounces", 2, read=9, applied=6, known=2, ignored=0, rejected=1)
    assert kinds["unsubscribes"] == ImportedKind(
        "unsubscribes", 1, read=2, applied=1, known=1, ignored=0, rejected=0
    )
    assert all(k.adds_up for k in kinds.values())

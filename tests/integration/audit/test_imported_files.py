"""The demo's file summary: an event the response import applied and the next night's feedback
export delivers again is "known" the second time, not "applied" twice (issue 16, point 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def bounce(
    conn: sa.Connection,
    file_id: int,
    line_no: int,
    entity: str,
    category: str = "hardbounce",
    minutes: int = 0,
) -> None:
    conn.execute(
        t.feedback_bounce.insert().values(
            event_key=f"b-{file_id}-{line_no}-{entity}",
            file_id=file_id,
            line_no=line_no,
            recipient_id=entity,
            entity_id=entity,
            category=category,
            platform_list_id="1001",
            mailing_id="7004",
            occurred_at=T0 + timedelta(minutes=minutes),
            received_at=T0,
        )
    )


def unsubscribe(conn: sa.Connection, file_id: int, line_no: int, entity: str, minutes: int = 0) -> None:
    conn.execute(
        t.feedback_unsubscribe.insert().values(
            event_key=f"u-{file_id}-{line_no}-{entity}",
            file_id=file_id,
            line_no=line_no,
            recipient_id=entity,
            entity_id=entity,
            platform_list_id="1001",
            mailing_id="7004",
            occurred_at=T0 + timedelta(minutes=minutes),
            received_at=T0,
        )
    )


def test_events_delivered_again_by_a_later_file_are_known_not_applied(staging_engine: sa.Engine) -> None:
    with staging_engine.begin() as conn:
        # the response file: 2 hard bounces, 1 unsubscribe, 3 opens (ignored: no campaign mapping)
        ledger(conn, 1, "responses", read=6, applied=3, ignored=3)
        bounce(conn, 1, 2, "C1")
        bounce(conn, 1, 3, "C2")
        unsubscribe(conn, 1, 4, "C3")
        # the next night's bounce export: C1 and C2 again (stored again: the event keys differ), one new
        # bounce of C4, a soft bounce of C1 (another category: new), one rejected row
        ledger(conn, 2, "bounces", read=5, applied=4, rejected=1)
        bounce(conn, 2, 2, "C1")
        bounce(conn, 2, 3, "C2")
        bounce(conn, 2, 4, "C4")
        bounce(conn, 2, 5, "C1", category="softbounce")
        # and its unsubscribe export: C3 again, and C3 at another time (a second unsubscribe: new)
        ledger(conn, 3, "unsubscribes", read=2, applied=2)
        unsubscribe(conn, 3, 2, "C3")
        unsubscribe(conn, 3, 3, "C3", minutes=5)

    kinds = {k.kind: k for k in imported_files(staging_engine)}

    assert kinds["responses"] == ImportedKind(
        "responses", 1, read=6, applied=3, known=0, ignored=3, rejected=0
    )
    # the ledger says 4 applied; two of them re-deliver the response file's bounces
    assert kinds["bounces"] == ImportedKind("bounces", 1, read=5, applied=2, known=2, ignored=0, rejected=1)
    assert kinds["unsubscribes"] == ImportedKind(
        "unsubscribes", 1, read=2, applied=1, known=1, ignored=0, rejected=0
    )
    assert all(k.adds_up for k in kinds.values())


def test_an_import_of_the_same_events_in_one_file_only_is_applied(staging_engine: sa.Engine) -> None:
    with staging_engine.begin() as conn:
        ledger(conn, 1, "bounces", read=2, applied=2)
        bounce(conn, 1, 2, "C1")
        bounce(conn, 1, 3, "C2")
    [kind] = imported_files(staging_engine)
    assert (kind.applied, kind.known) == (2, 0)

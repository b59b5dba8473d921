"""Issue 12 point 0 at the extraction: held people are left out and counted, and exact blocklist
entries match whatever their case (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

from include.crm_sync.audit.summary import build_run_summary
from include.crm_sync.extract import ExclusionReason, extract_snapshot
from include.crm_sync.imports.holds import HoldCandidate, hold_people, list_holds, resolve_holds
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import NOW, CrmState, add_sync_run, list_def, snapshot_rows


def _kept(engine: sa.Engine, run_id: str) -> tuple[dict[str, int], set[str]]:
    report = extract_snapshot(engine, list_def(), run_id=run_id)
    return report.excluded, {row[1] for row in snapshot_rows(engine, report.list_run_id)}


def test_an_exact_blocklist_entry_matches_in_any_case(staging_engine: sa.Engine) -> None:
    (
        CrmState()
        .entity("C1", "jane.doe@example.com")
        .entity("C2", "keep@example.com")
        .block("Jane.Doe@Example.COM")  # entered by hand, as the person wrote it
        .write(staging_engine)
    )
    excluded, kept = _kept(staging_engine, "run-1")
    assert excluded[ExclusionReason.BLOCKLISTED] == 1
    assert kept == {"C2"}


def test_held_people_are_left_out_by_id_and_by_address_until_resolved(staging_engine: sa.Engine) -> None:
    (
        CrmState()
        .entity("C1", "by.id@example.com")
        .entity("C2", "By.Address@example.com")
        .entity("L2", "by.address@example.com", entity_type="lead")  # the same address: held too
        .entity("C3", "keep@example.com")
        .write(staging_engine)
    )
    with staging_engine.begin() as conn:
        held = hold_people(
            conn,
            1,
            [
                HoldCandidate(7, "unknown category for unsubscribes", ("C1",), ("",)),
                HoldCandidate(
                    9,
                    "neither a usable recipient id nor a usable e-mail",
                    ("X" * 80,),
                    (" BY.ADDRESS@example.com\u200b",),
                ),
                HoldCandidate(11, "unknown category", ("NOBODY",), ("nobody@example.com",)),
            ],
            NOW,
        )
        # the same rows again (a retried apply) add nothing
        hold_people(conn, 1, [HoldCandidate(7, "unknown category for unsubscribes", ("C1",), ("",))], NOW)
    assert held == {"C1", "C2", "L2"}
    with staging_engine.connect() as conn:
        holds = list_holds(conn)
    assert sorted((h.entity_id, h.email_normalized, h.line_no) for h in holds) == [
        ("C1", None, 7),
        ("C2", "by.address@example.com", 9),
        ("L2", "by.address@example.com", 9),
    ]

    excluded, kept = _kept(staging_engine, "run-1")
    assert excluded[ExclusionReason.FEEDBACK_HELD] == 3
    assert kept == {"C3"}
    assert "operator" in ExclusionReason.FEEDBACK_HELD.plain_words
    # the run report says so in plain words
    summary = build_run_summary(staging_engine, "run-1")
    assert summary.lists[0].excluded["feedback_held"] == 3
    assert summary.held_people == 3 and summary.as_dict()["held_people"] == 3
    assert "3 person(s) are held out of every list" in summary.as_table()

    with staging_engine.begin() as conn:
        assert resolve_holds(conn, now=NOW, resolved_by="test", entity_ids=["C1"]) == 1
    add_sync_run(staging_engine, "run-2")
    excluded, kept = _kept(staging_engine, "run-2")
    assert excluded[ExclusionReason.FEEDBACK_HELD] == 2
    assert kept == {"C1", "C3"}
    assert build_run_summary(staging_engine, "run-2").held_people == 2
    with staging_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.crm_feedback_hold)).scalar_one() == 3

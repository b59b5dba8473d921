"""End to end: ``import_feedback`` against the Optimizely emulator over real HTTP with the real zeep
client, into SQLite and PostgreSQL. The emulator clock is frozen; time moves only when a test says."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.crm_sync.feedback import FeedbackGapError, FeedbackImportError, import_feedback
from include.crm_sync.platforms.base import FeedbackKind
from include.crm_sync.staging.tables import (
    export_watermark,
)
from tests.integration.feedback.conftest import (
    EMULATOR_EPOCH,
    FAST_RETRY_ATTEMPTS,
    LIST_CONSENTS,
    crm_state,
    default_entities,
    email_of,
    entity_id,
    expected_effects,
    feedback_state,
    inject,
    ledger_rows,
    platform_events,
    rejected_rows,
    reset_feedback,
    seed_crm,
    table_rows,
)

EMULATOR_NOW = EMULATOR_EPOCH
RUN_NOW = EMULATOR_EPOCH + timedelta(minutes=5)
N_BIG = 3000
#: a mailing the emulator's seed does not know (the seed's mailings are outside the frozen clock's
#: retention, and the platform stops exporting the feedback of mailings older than that)
MAILING = 9001


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def big_crm(engine: sa.Engine) -> list[tuple[str, str | None]]:
    entities = default_entities(N_BIG)
    seed_crm(engine, entities)
    return entities


def bounce_events(ids: range, *, at: datetime, category=lambda i: "hardbounce" if i % 3 else "softbounce"):
    return [
        {
            "kind": "bounce",
            "category": category(i),
            "recipient_id": entity_id(i),
            "email": email_of(i),
            "list_id": 1001,
            "mailing_id": MAILING,
            "occurred_at": iso(at - timedelta(seconds=i % 500)),
            "exported_at": iso(at),
        }
        for i in ids
    ]


def unsubscribe_events(ids: range, *, at: datetime):
    lists = (1001, 1002, 1003, None)
    return [
        {
            "kind": "unsubscribe",
            "recipient_id": entity_id(i),
            "email": email_of(i),
            "list_id": lists[i % 4],
            "mailing_id": MAILING if i % 2 else None,
            "occurred_at": iso(at - timedelta(seconds=i % 300)),
            "exported_at": iso(at),
        }
        for i in ids
    ]


def run_import(engine, make_platform, tmp_path: Path, run_id: str = "run-1", **kw):
    kw.setdefault("list_consents", LIST_CONSENTS)
    kw.setdefault("now", RUN_NOW)
    platform = make_platform()
    try:
        return import_feedback(engine, platform, landing_dir=tmp_path / "landing", run_id=run_id, **kw)
    finally:
        platform.close()


def watermarks(engine) -> dict[str, datetime]:
    return {r.export_name: r.watermark for r in table_rows(engine, export_watermark)}


def assert_crm_matches_platform(engine, emulator, entities) -> None:
    bounced, revoked = expected_effects(platform_events(emulator), entities)
    state = crm_state(engine)
    assert state.bounced == bounced
    assert state.revoked == revoked


# ------------------------------------------------------------------ the normal path


def test_paging_through_thousands_of_rows_applies_everything(
    staging_engine, emulator, make_platform, tmp_path
):
    entities = big_crm(staging_engine)
    at = EMULATOR_NOW - timedelta(hours=2)
    inject(emulator, bounce_events(range(2600), at=at) + unsubscribe_events(range(1000, 2300), at=at))

    report = run_import(staging_engine, make_platform, tmp_path)

    bounces, unsubscribes = report.file(FeedbackKind.BOUNCES), report.file(FeedbackKind.UNSUBSCRIBES)
    # (the emulator's seed feedback lies after the frozen clock: not exported yet)
    assert (bounces.counts.read, bounces.counts.applied) == (2600, 2600)  # 3 pages of getResponses
    # one row per unsubscribe: the platform drops getUnsubscribes' copy of a mailing unsubscribe
    assert (unsubscribes.counts.read, unsubscribes.counts.applied) == (1300, 1300)
    for file in (bounces, unsubscribes):
        assert file.status == "applied" and file.counts.adds_up
        assert file.window_since == EMULATOR_NOW - timedelta(days=30) and file.window_until == EMULATOR_NOW
        with open(file.path, encoding="utf-8", newline="") as f:
            assert sum(1 for _ in csv.reader(f)) == file.counts.read + 1
        assert f"_{file.kind.value}_" in file.file_name and "run-1" in file.file_name
    assert report.totals.read == bounces.counts.read + unsubscribes.counts.read

    assert_crm_matches_platform(staging_engine, emulator, entities)
    state = crm_state(staging_engine)
    assert len(state.bounced) == 2600 - 867  # every third is a soft bounce
    assert watermarks(staging_engine) == {
        "optimizely:bounces": EMULATOR_NOW,
        "optimizely:unsubscribes": EMULATOR_NOW,
    }
    ledger = ledger_rows(staging_engine)
    assert [(r.kind, r.status, r.rows_read) for r in ledger] == [
        ("bounces", "applied", 2600),
        ("unsubscribes", "applied", 1300),
    ]
    assert ledger[0].source == "optimizely:bounces" and ledger[0].run_id == "run-1"
    assert ledger[0].window_since == EMULATOR_NOW - timedelta(days=30)
    assert rejected_rows(staging_engine) == []
    calls = emulator.control.state()["calls"]
    assert calls["ClosedLoop.getResponses"] == 3 and calls["ClosedLoop.getUnsubscribes"] == 2


def test_rerun_and_overlapping_windows_change_nothing_but_add_the_new(
    staging_engine, emulator, make_platform, tmp_path
):
    entities = big_crm(staging_engine)
    inject(
        emulator,
        bounce_events(range(0, 50), at=EMULATOR_NOW - timedelta(minutes=20))
        + unsubscribe_events(range(100, 140), at=EMULATOR_NOW - timedelta(minutes=20)),
    )
    run_import(staging_engine, make_platform, tmp_path, "run-1")
    state, stored = crm_state(staging_engine), feedback_state(staging_engine)

    # the same run again (a retry), clock unchanged: the overlap re-exports the same rows, a file
    # with the content of an applied one -> a ledger duplicate, nothing applied
    again = run_import(staging_engine, make_platform, tmp_path, "run-1", now=RUN_NOW + timedelta(hours=1))
    assert {f.status for f in again.files} == {"duplicate"}
    assert (crm_state(staging_engine), feedback_state(staging_engine)) == (state, stored)

    # later: an overlapping window re-delivers the last hour's events; only new ones are added
    emulator.control.advance_clock(30 * 60)
    late = EMULATOR_NOW - timedelta(minutes=10)  # exported late, before the previous window's end
    inject(
        emulator,
        bounce_events(range(50, 60), at=late)
        + unsubscribe_events(range(140, 150), at=late)
        + bounce_events(range(60, 70), at=EMULATOR_NOW + timedelta(minutes=5)),
    )
    second = run_import(staging_engine, make_platform, tmp_path, "run-2", now=RUN_NOW + timedelta(hours=1))
    b = second.file(FeedbackKind.BOUNCES)
    assert b.window_since == EMULATOR_NOW - timedelta(hours=1)
    assert (b.counts.applied, b.counts.known) == (20, 50)
    u = second.file(FeedbackKind.UNSUBSCRIBES)
    assert (u.counts.applied, u.counts.known) == (10, 40)
    assert_crm_matches_platform(staging_engine, emulator, entities)
    assert len(feedback_state(staging_engine)["bounces"]) == len(stored["bounces"]) + 20
    # entities changed before keep their first record
    after = crm_state(staging_engine)
    assert all(after.entities[e] == state.entities[e] for e in state.bounced)

    # a re-run of the whole thing later: everything known, the CRM as it was
    emulator.control.advance_clock(10 * 60)
    snapshot = (crm_state(staging_engine), feedback_state(staging_engine))
    third = run_import(staging_engine, make_platform, tmp_path, "run-3", now=RUN_NOW + timedelta(hours=2))
    assert all(f.counts.applied == 0 for f in third.files)
    assert (crm_state(staging_engine), feedback_state(staging_engine)) == snapshot


def test_empty_exports_land_header_only_files_and_move_the_watermark(
    staging_engine, emulator, make_platform, tmp_path
):
    seed_crm(staging_engine, default_entities())
    inject(emulator, bounce_events(range(3), at=EMULATOR_NOW) + unsubscribe_events(range(3), at=EMULATOR_NOW))
    emulator.control.advance_clock(60)
    assert all(
        f.counts.applied == 3 for f in run_import(staging_engine, make_platform, tmp_path, "run-1").files
    )
    emulator.control.advance_clock(2 * 3600)  # the next window still overlaps those rows: same bytes
    assert {f.status for f in run_import(staging_engine, make_platform, tmp_path, "run-2").files} == {
        "duplicate"
    }
    # the first empty export of a kind is applied (counts 0); the next has the same bytes: a duplicate
    for step, status in ((1, "applied"), (2, "duplicate")):
        emulator.control.advance_clock(3 * 3600)
        report = run_import(staging_engine, make_platform, tmp_path, f"run-empty-{step}")
        for file in report.files:
            assert (file.kind, file.status, file.counts.read) == (
                file.kind,
                status,
                0,
            ) and file.counts.adds_up
            assert (
                file.path.read_text(encoding="utf-8")
                == "recipient_id,email,category,occurred_at,list_id,mailing_id\n"
            )
        expected = EMULATOR_NOW + timedelta(hours=2 + 3 * step, seconds=60)
        assert watermarks(staging_engine) == {
            "optimizely:bounces": expected,
            "optimizely:unsubscribes": expected,
        }


def test_unknown_recipients_injection_and_duplicates_from_the_platform(
    staging_engine, emulator, make_platform, tmp_path
):
    seed_crm(staging_engine, default_entities())
    at = EMULATOR_NOW - timedelta(minutes=5)
    hostile = [
        {
            "kind": "bounce",
            "category": "hardbounce",
            "recipient_id": '=HYPERLINK("http://x")',
            "email": "victim@example.com",
            "occurred_at": iso(at),
            "exported_at": iso(at),
        },
        {
            "kind": "bounce",
            "category": "hardbounce",
            "recipient_id": "GHOST-1",
            "email": "ghost@example.com",
            "occurred_at": iso(at),
            "exported_at": iso(at),
        },
        {
            "kind": "unsubscribe",
            "recipient_id": "@SUM(1+1)",
            "email": email_of(3),
            "list_id": 1001,
            "occurred_at": iso(at),
            "exported_at": iso(at),
        },
        {
            "kind": "unsubscribe",
            "recipient_id": entity_id(4),
            "email": email_of(4),
            "list_id": 1001,
            "occurred_at": iso(at),
            "exported_at": iso(at),
        },
        {
            "kind": "unsubscribe",
            "recipient_id": entity_id(4),
            "email": email_of(4),
            "list_id": 1001,
            "occurred_at": iso(at),
            "exported_at": iso(at),
        },  # the very same event twice
    ]
    inject(emulator, hostile)
    report = run_import(staging_engine, make_platform, tmp_path)
    u = report.file(FeedbackKind.UNSUBSCRIBES)
    assert u.counts.known == 1 and u.counts.adds_up
    reasons = {(r.field, r.reason.split(" (")[0]) for r in rejected_rows(staging_engine)}
    assert reasons == {("recipient_id", "unknown recipient")}  # the hostile id and the ghost: nobody known
    state = crm_state(staging_engine)
    # a formula-like recipient id is stored, never evaluated; its address still identifies the person
    # who said no (issue 12 point 0: a "no" is applied whenever any field identifies its person)
    assert state.revoked == {(entity_id(3), "newsletter-nl"), (entity_id(4), "newsletter-nl")}
    assert state.bounced == set()
    # the landing file keeps them raw (quoted CSV), the rejected rows escaped
    assert '"=HYPERLINK(""http://x"")"' in report.file(FeedbackKind.BOUNCES).path.read_text(encoding="utf-8")


# ------------------------------------------------------------------ faults while paging


def test_session_expiry_mid_paging_is_survived(staging_engine, emulator, make_platform, tmp_path):
    entities = big_crm(staging_engine)
    inject(emulator, bounce_events(range(2500), at=EMULATOR_NOW - timedelta(hours=1)))
    emulator.control.add_fault("getResponses", "expire_session", nth=2)
    report = run_import(staging_engine, make_platform, tmp_path)
    assert emulator.control.faults()[0]["fired"] == 1
    assert emulator.control.state()["calls"]["Session.login"] >= 2
    assert report.file(FeedbackKind.BOUNCES).counts.applied == 2500
    assert_crm_matches_platform(staging_engine, emulator, entities)


def test_http500_mid_paging_fails_the_step_then_a_retry_reaches_the_same_state(
    staging_engine, emulator, make_platform, tmp_path
):
    entities = big_crm(staging_engine)
    inject(
        emulator,
        bounce_events(range(2500), at=EMULATOR_NOW - timedelta(hours=1))
        + unsubscribe_events(range(0, 400), at=EMULATOR_NOW - timedelta(hours=1)),
    )
    # the third page fails more often than the client retries
    emulator.control.add_fault("getResponses", "http500", nth=3, times=FAST_RETRY_ATTEMPTS)
    with pytest.raises(FeedbackImportError) as err:
        run_import(staging_engine, make_platform, tmp_path, "run-1")
    assert "optimizely:bounces" in str(err.value) and "refill must not run" in str(err.value)
    # nothing of the bounce export landed or moved; the unsubscribes were applied on their own
    assert [r.kind for r in ledger_rows(staging_engine)] == ["unsubscribes"]
    assert list(watermarks(staging_engine)) == ["optimizely:unsubscribes"]
    assert not any("bounces" in p.name for p in (tmp_path / "landing").iterdir())
    assert crm_state(staging_engine).bounced == set()

    emulator.control.clear_faults()
    emulator.control.advance_clock(60)
    retried = run_import(staging_engine, make_platform, tmp_path, "run-1")
    assert retried.file(FeedbackKind.BOUNCES).counts.applied == 2500
    assert retried.file(FeedbackKind.UNSUBSCRIBES).counts.applied == 0
    retried_state = (effects(staging_engine), feedback_state(staging_engine))
    assert_crm_matches_platform(staging_engine, emulator, entities)

    # the same import without any fault, from scratch, ends in the same CRM and event store
    reset_feedback(staging_engine)
    clean = run_import(staging_engine, make_platform, tmp_path / "clean", "run-clean")
    assert all(f.status == "applied" for f in clean.files)
    assert (effects(staging_engine), feedback_state(staging_engine)) == retried_state


def test_http500_that_the_client_retries_away_is_invisible(staging_engine, emulator, make_platform, tmp_path):
    entities = big_crm(staging_engine)
    inject(emulator, bounce_events(range(2100), at=EMULATOR_NOW - timedelta(hours=1)))
    emulator.control.add_fault("getResponses", "http500", nth=2, times=1)
    report = run_import(staging_engine, make_platform, tmp_path)
    assert report.file(FeedbackKind.BOUNCES).counts.applied == 2100
    assert_crm_matches_platform(staging_engine, emulator, entities)


# ------------------------------------------------------------------ the retention gap


def test_gap_longer_than_retention_fails_before_fetching_and_the_override_imports(
    staging_engine, emulator, make_platform, tmp_path
):
    entities = big_crm(staging_engine)
    inject(
        emulator,
        bounce_events(range(10), at=EMULATOR_NOW - timedelta(days=2))
        + unsubscribe_events(range(10), at=EMULATOR_NOW - timedelta(minutes=30)),
    )
    stale = EMULATOR_NOW - timedelta(days=31)
    with staging_engine.begin() as conn:
        conn.execute(
            export_watermark.insert(),
            [
                {"export_name": "optimizely:bounces", "watermark": stale, "last_success_at": stale},
                {
                    "export_name": "optimizely:unsubscribes",
                    "watermark": EMULATOR_NOW - timedelta(days=1),
                    "last_success_at": stale,
                },
            ],
        )
    calls_before = emulator.control.state()["calls"].get("ClosedLoop.getResponses", 0)
    with pytest.raises(FeedbackGapError) as err:
        run_import(staging_engine, make_platform, tmp_path)
    assert "optimizely:bounces" in str(err.value) and "may be lost" in str(err.value)
    lost = (stale.isoformat(), (EMULATOR_NOW - timedelta(days=30)).isoformat())
    assert f"response data between {lost[0]} and {lost[1]} may be lost" in str(err.value)
    assert ledger_rows(staging_engine) == [] and crm_state(staging_engine).revoked == set()
    assert emulator.control.state()["calls"].get("ClosedLoop.getResponses", 0) == calls_before

    report = run_import(staging_engine, make_platform, tmp_path, allow_gap=True)
    assert report.file(FeedbackKind.BOUNCES).gap == (stale, EMULATOR_NOW - timedelta(days=30))
    assert report.file(FeedbackKind.UNSUBSCRIBES).gap is None
    assert watermarks(staging_engine)["optimizely:bounces"] == EMULATOR_NOW
    assert_crm_matches_platform(staging_engine, emulator, entities)
    # and the next run is a normal one again
    emulator.control.advance_clock(3600)
    assert all(f.gap is None for f in run_import(staging_engine, make_platform, tmp_path, "run-2").files)


def effects(engine: sa.Engine) -> tuple[dict, dict]:
    """The CRM state minus the consent's source (it names the landing file, which differs per run)."""
    state = crm_state(engine)
    return state.entities, {
        key: (status, revoked_at) for key, (status, revoked_at, *_) in state.consents.items()
    }

"""The response import against the emulator's real SFTP server on loopback, on SQLite and PostgreSQL:
what gets applied, what is counted, idempotency, and every way a file or a download can go wrong."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from include.crm_sync.responses import (
    DownloadError,
    ReimportRange,
    ResponseFilesFailedError,
    ResponseGapError,
    ResponseImportSettings,
)
from include.crm_sync.staging.tables import (
    crm_campaign_response,
    feedback_bounce,
    feedback_unsubscribe,
    file_ledger,
    mailing_campaign,
    rejected_row,
    response_event,
)
from tests.integration.responses.conftest import (
    MARKETING,
    NOW,
    clicks,
    counts_tuple,
    entity_id,
    event,
    mailing,
    opens,
    rows,
    run_job,
    snapshot,
    standard_events,
    write_file,
)

HEADER = (
    b"recipient_id,entity_type,entity_id,recipient_list_id,mailing_id,"
    b"wave_id,event_type,occurred_at,link_url\n"
)


def line_of(emulator, file_name: str, needle: str) -> int:
    """1-based line of the file (header = 1) that contains ``needle``."""
    lines = emulator.response_files.read(file_name).decode().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def sftp_opens(emulator) -> int:
    return emulator.control.sftp()["calls"].get("open", 0)


# ------------------------------------------------------------------ what is applied


def test_first_import_applies_bounces_unsubscribes_and_campaign_responses(run_import, sftp_emulator, crm):
    events, mailings = standard_events(sftp_emulator)
    name = write_file(sftp_emulator, events)

    report = run_import()

    assert [(f.file_name, f.status) for f in report.files] == [(name, "applied")]
    counts = report.files[0].counts
    # 17 lines: 7 opens/clicks of the campaign mailing, 5 of the unmapped one, hard, soft, autoresponder,
    # 2 unsubscribes (one of a recipient the CRM does not know)
    assert counts_tuple(counts) == (17, 10, 0, 6, 1)
    assert counts.ignored_by_reason == {"no CRM campaign": 5, "autoresponder": 1}
    assert counts.rejected_by_reason == {"unknown recipient": 1}
    assert report.recorded_success

    state = snapshot(crm)
    # hard bounce -> entity bounced (the feedback apply of step 2), soft bounce stored only
    assert {e for e, (bounced, *_r) in state.entities.items() if bounced} == {entity_id(10)}
    assert state.entities[entity_id(10)][1:3] == (NOW - timedelta(hours=2), "hardbounce")
    assert sorted(b[1:] for b in state.bounces) == [
        (entity_id(10), "hardbounce"),
        (entity_id(11), "softbounce"),
    ]
    # unsubscribe from a mailing to list 1002 -> the consent of that list only
    assert {k for k, (status, *_r) in state.consents.items() if status == "revoked"} == {
        (entity_id(13), "product_updates")
    }
    assert [u[1:] for u in state.unsubscribes] == [(entity_id(13), "product_updates")]
    # opens/clicks of the mailing sent for CRM campaign CMP-EVENTS (closed-loop wave id)
    assert state.mappings == [(str(mailings["mapped"]), "CMP-EVENTS", "closed_loop")]
    assert sorted(r[1:] for r in state.campaign_responses) == sorted(
        [("CMP-EVENTS", entity_id(i), "open") for i in range(5)]
        + [("CMP-EVENTS", entity_id(i), "click") for i in range(2)]
    )
    statuses = {}
    for _key, event_type, status, _entity, _mailing in state.events:
        statuses[(event_type, status)] = statuses.get((event_type, status), 0) + 1
    assert statuses == {
        ("open", "applied"): 5,
        ("click", "applied"): 2,
        ("open", "ignored_no_campaign"): 4,
        ("click", "ignored_no_campaign"): 1,
        ("hardbounce", "applied"): 1,
        ("softbounce", "applied"): 1,
        ("autoresponder", "ignored_autoresponder"): 1,
        ("unsubscribe", "applied"): 1,
        ("unsubscribe", "unknown_recipient"): 1,
    }
    ledger = rows(crm, file_ledger)
    assert [
        (
            r.file_name,
            r.kind,
            r.status,
            r.rows_read,
            r.rows_applied,
            r.rows_known,
            r.rows_ignored,
            r.rows_rejected,
        )
        for r in ledger
    ] == [(name, "responses", "applied", 17, 10, 0, 6, 1)]
    file_id = ledger[0].file_id
    assert {r.file_id for r in rows(crm, feedback_bounce) + rows(crm, feedback_unsubscribe)} == {file_id}
    assert [(r.file_id, r.line_no, r.reason) for r in rows(crm, rejected_row)] == [
        (file_id, line_of(sftp_emulator, name, "UNKNOWN-1"), "unknown recipient")
    ]


def test_unsubscribe_from_an_unmapped_list_revokes_every_marketing_consent(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1001)
    write_file(
        sftp_emulator,
        [
            event("unsubscribe", entity_id(3), m, list_id=1001),
            event("unsubscribe", entity_id(4), m, list_id=9999),
        ],
    )
    report = run_import()
    assert counts_tuple(report.totals) == (2, 2, 0, 0, 0)
    revoked = {k for k, (status, *_r) in snapshot(crm).consents.items() if status == "revoked"}
    assert revoked == {(entity_id(3), "newsletter")} | {(entity_id(4), c) for c in MARKETING}


def test_opens_and_clicks_of_mailings_without_campaign_are_counted_as_ignored(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1002)
    write_file(sftp_emulator, opens(m, [entity_id(i) for i in range(6)]) + clicks(m, [entity_id(0)]))
    report = run_import()
    counts = report.totals
    assert counts_tuple(counts) == (7, 0, 0, 7, 0)
    assert counts.ignored_by_reason == {"no CRM campaign": 7}
    assert rows(crm, crm_campaign_response) == []
    assert {r.status for r in rows(crm, response_event)} == {"ignored_no_campaign"}
    assert rows(crm, file_ledger)[0].rows_ignored == 7


def test_configured_mapping_makes_opens_campaign_responses_and_wins_over_wave_ids(
    run_import, sftp_emulator, crm
):
    by_config = mailing(sftp_emulator, 1002)
    both = mailing(sftp_emulator, 1003, wave_id="CMP-FROM-WAVE")
    write_file(sftp_emulator, opens(by_config, [entity_id(1)]) + opens(both, [entity_id(2)], list_id=1003))
    settings = ResponseImportSettings(mailing_campaigns={str(by_config): "CMP-A", str(both): "CMP-B"})
    report = run_import(settings=settings)
    assert counts_tuple(report.totals) == (2, 2, 0, 0, 0)
    assert sorted((r.crm_campaign_id, r.entity_id) for r in rows(crm, crm_campaign_response)) == [
        ("CMP-A", entity_id(1)),
        ("CMP-B", entity_id(2)),
    ]
    assert sorted((r.mailing_id, r.crm_campaign_id, r.source) for r in rows(crm, mailing_campaign)) == [
        (str(by_config), "CMP-A", "config"),
        (str(both), "CMP-B", "config"),
    ]


def test_entity_type_and_id_from_the_list_are_used_to_find_the_crm_entity(run_import, sftp_emulator, crm):
    """The platform knows the entity id as a list attribute; its recipient id may differ."""
    state = sftp_emulator.state
    rlist = state.lists[1002]
    names = ["entity-type", "entity-id"]
    with rlist.lock:
        rlist.recipients["platform-rid-7"] = (
            "x@example.com",
            rlist.packer(rlist.resolve_attributes(names))(["contact", entity_id(7)]),
            False,
            0,
            0.0,
        )
    m = mailing(sftp_emulator, 1002)
    name = write_file(sftp_emulator, [event("bounce", "platform-rid-7", m, category="hardbounce")])
    assert b"platform-rid-7,contact,C000007,1002" in sftp_emulator.response_files.read(name)
    report = run_import()
    assert counts_tuple(report.totals) == (1, 1, 0, 0, 0)
    assert snapshot(crm).entities[entity_id(7)][0]


# ------------------------------------------------------------------ idempotency


def test_only_new_content_is_applied(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")
    first = write_file(sftp_emulator, opens(m, [entity_id(1), entity_id(2)], list_id=1003))
    run_import()
    second = write_file(sftp_emulator, opens(m, [entity_id(3)], list_id=1003, at="-10m"))
    opened_before = sftp_opens(sftp_emulator)
    ledger_before = rows(crm, file_ledger)

    report = run_import()

    assert [(f.file_name, f.status) for f in report.files] == [
        (first, "already_imported"),
        (second, "applied"),
    ]
    # a file is known by its content: the first one is read again (and hashed), not applied again
    assert sftp_opens(sftp_emulator) == opened_before + 2
    assert rows(crm, file_ledger)[0] == ledger_before[0]
    assert counts_tuple(report.totals) == (1, 1, 0, 0, 0)
    assert len(rows(crm, crm_campaign_response)) == 3


def test_the_same_file_twice_applies_nothing_the_second_time(run_import, sftp_emulator, crm):
    events, _ = standard_events(sftp_emulator)
    write_file(sftp_emulator, events)
    run_import()
    before = snapshot(crm)
    report = run_import(now=NOW + timedelta(hours=1))
    assert [f.status for f in report.files] == ["already_imported"]
    assert snapshot(crm) == before


def test_the_same_content_under_a_new_name_applies_nothing(run_import, sftp_emulator, crm):
    events, _ = standard_events(sftp_emulator)
    name = write_file(sftp_emulator, events)
    run_import()
    before = snapshot(crm)
    copy = sftp_emulator.response_files.put_raw(
        "responses_1_20260301T130000Z_copy.csv", sftp_emulator.response_files.read(name)
    )

    report = run_import(now=NOW + timedelta(hours=1))

    assert [(f.file_name, f.status) for f in report.files] == [
        (name, "already_imported"),
        (copy.name, "duplicate"),
    ]
    after = snapshot(crm)
    assert dataclasses.replace(after, ledger=before.ledger) == before
    assert after.ledger[-1] == (copy.name, "duplicate", None, None, None, None, None)


def test_overlapping_files_store_each_event_once(run_import, sftp_emulator, crm):
    """The same events in two different files (e.g. a platform job re-run): applied once, then known."""
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")
    name = write_file(
        sftp_emulator,
        opens(m, [entity_id(1), entity_id(2)], list_id=1003)
        + [event("bounce", entity_id(4), m, list_id=1003, category="hardbounce")],
    )
    body = sftp_emulator.response_files.read(name)
    extra = f"{entity_id(3)},,,1003,{m},CMP-1,open,2026-03-01T11:30:00Z,\n".encode()
    sftp_emulator.response_files.put_raw("responses_1_20260301T120500Z_rerun.csv", body + extra)
    report = run_import()
    assert [counts_tuple(f.counts) for f in report.files] == [(3, 3, 0, 0, 0), (4, 1, 3, 0, 0)]
    assert len(rows(crm, response_event)) == 4
    assert len(rows(crm, crm_campaign_response)) == 3
    assert len(rows(crm, feedback_bounce)) == 1


def test_duplicate_lines_within_a_file_count_as_known(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")
    line = f"{entity_id(1)},,,1003,{m},CMP-1,open,2026-03-01T11:00:00Z,\n".encode()
    same_time_other_offset = f"{entity_id(1)},,,1003,{m},CMP-1,open,2026-03-01T12:00:00+01:00,\n".encode()
    sftp_emulator.response_files.put_raw("responses_dups.csv", HEADER + line + line + same_time_other_offset)
    report = run_import()
    assert counts_tuple(report.totals) == (3, 1, 2, 0, 0)
    assert len(rows(crm, response_event)) == 1


# ------------------------------------------------------------------ downloads that go wrong


def test_connection_dropped_mid_download_leaves_nothing_partial_and_the_retry_completes(
    run_import, sftp_emulator, crm
):
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")
    first = write_file(sftp_emulator, opens(m, [entity_id(i) for i in range(3)], list_id=1003, at="-2h"))
    second = write_file(sftp_emulator, opens(m, [entity_id(i) for i in range(3, 30)], list_id=1003, at="-1h"))
    size = sftp_emulator.response_files.files()[-1].size
    sftp_emulator.control.add_sftp_fault("drop", size // 2, path=second)

    with pytest.raises(DownloadError, match="download failed") as failure:
        run_import()

    assert [(f.file_name, f.status) for f in failure.value.report.files] == [
        (first, "applied"),
        (second, "failed"),
    ]
    assert [(r.file_name, r.status) for r in rows(crm, file_ledger)] == [(first, "applied")]
    landed = sorted(p.name for p in run_import.landing.iterdir() if p.is_file())
    assert landed == [first]  # no partial or temporary file of the second one
    assert sftp_emulator.control.sftp_faults()[0]["fired"] == 1

    report = run_import()  # the task's retry: a new connection
    assert [(f.file_name, f.status) for f in report.files] == [
        (first, "already_imported"),
        (second, "applied"),
    ]
    assert [(r.file_name, r.status, r.rows_read) for r in rows(crm, file_ledger)] == [
        (first, "applied", 3),
        (second, "applied", 27),
    ]
    assert len(rows(crm, crm_campaign_response)) == 30


def test_a_short_read_is_detected_by_the_size_check(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")
    name = write_file(sftp_emulator, opens(m, [entity_id(i) for i in range(10)], list_id=1003))
    sftp_emulator.control.add_sftp_fault("truncate", 300, path=name)
    with pytest.raises(DownloadError, match="received 300 bytes but the server listed"):
        run_import()
    assert rows(crm, file_ledger) == [] and rows(crm, response_event) == []
    assert not any(p.is_file() for p in run_import.landing.rglob("*"))
    report = run_import()
    assert counts_tuple(report.totals) == (10, 10, 0, 0, 0)


# ------------------------------------------------------------------ files that are wrong


def test_a_truncated_file_is_refused_whole_and_imported_once_complete(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")
    good = write_file(sftp_emulator, opens(m, [entity_id(1)], list_id=1003))
    complete = HEADER + b"".join(
        f"{entity_id(i)},,,1003,{m},CMP-1,open,2026-03-01T10:00:{i:02d}Z,\n".encode() for i in range(2, 6)
    )
    cut = complete[: len(complete) - 7]  # in the middle of the last line
    name = "responses_1_20260301T121000Z_partial.csv"
    sftp_emulator.response_files.put_raw(name, cut)

    with pytest.raises(ResponseFilesFailedError, match="truncated") as failure:
        run_import()

    report = failure.value.report
    assert [(f.file_name, f.status) for f in report.files] == [(good, "applied"), (name, "refused")]
    assert not report.recorded_success
    assert [r.file_name for r in rows(crm, file_ledger)] == [good]  # the refused file is not in the ledger
    assert (run_import.landing / "refused" / name).read_bytes() == cut

    sftp_emulator.response_files.put_raw(name, complete)  # the platform finished writing it
    report = run_import()
    assert [(f.file_name, f.status) for f in report.files] == [(good, "already_imported"), (name, "applied")]
    assert counts_tuple(report.totals) == (4, 4, 0, 0, 0)


def test_a_file_with_a_wrong_header_is_refused(run_import, sftp_emulator, crm):
    bad = HEADER.replace(b"event_type", b"type") + b"C000001,,,1002,7001,,open,2026-03-01T10:00:00Z,\n"
    sftp_emulator.response_files.put_raw("responses_bad_header.csv", bad)
    with pytest.raises(ResponseFilesFailedError) as failure:
        run_import()
    error = failure.value.report.files[0].error
    assert "line 1: wrong header: missing column(s) event_type; unexpected column(s) 'type'" in error
    assert rows(crm, file_ledger) == [] and rows(crm, response_event) == []


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(run_import, sftp_emulator, crm):
    body = (
        HEADER
        + b"C000001,,,1002,7001,,open,2026-03-01T10:00:00Z,\n"
        + "C000002,,,1002,7001,,click,2026-03-01T10:00:00Z,https://example.com/caf\u00e9\n".encode("latin-1")
    )
    sftp_emulator.response_files.put_raw("responses_latin1.csv", body)
    with pytest.raises(ResponseFilesFailedError) as failure:
        run_import()
    assert "line 3 is not valid UTF-8" in failure.value.report.files[0].error
    assert rows(crm, file_ledger) == [] and rows(crm, response_event) == []


def test_malformed_rows_are_rejected_with_line_and_reason_and_the_rest_is_loaded(
    run_import, sftp_emulator, crm
):
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")

    def good(i):
        return f"{entity_id(i)},contact,{entity_id(i)},1003,{m},CMP-1,open,2026-03-01T10:00:00Z,"

    lines = [
        good(1),  # 2 ok
        f"{entity_id(2)},contact,{entity_id(2)},1003,{m},CMP-1,open",  # 3 too few fields
        good(3) + ",extra",  # 4 too many fields
        f'"{entity_id(4)},contact,{entity_id(4)},1003,{m},CMP-1,open,2026-03-01T10:00:00Z,',  # 5 stray quote
        good(5),  # 6 ok (not swallowed by line 5)
        f"{entity_id(6)},contact,{entity_id(6)},1003,{m},CMP-1,opened,2026-03-01T10:00:00Z,",  # 7 type
        f"{entity_id(7)},contact,{entity_id(7)},1003,{m},CMP-1,open,2026-03-01 10:00:00,",  # 8 no offset
        f"{entity_id(8)},contact,{entity_id(8)},1003,{m},CMP-1,open,2026-02-30T10:00:00Z,",  # 9 no such day
        f"=cmd|' /C calc'!A0,contact,,1003,{m},CMP-1,open,2026-03-01T10:00:00Z,",  # 10 formula
        f"{entity_id(9)},robot,{entity_id(9)},1003,{m},CMP-1,open,2026-03-01T10:00:00Z,",  # 11 entity type
        f",contact,,1003,{m},CMP-1,open,2026-03-01T10:00:00Z,",  # 12 no recipient
        "",  # 13 empty line
        good(10),  # 14 ok
    ]
    name = "responses_malformed.csv"
    sftp_emulator.response_files.put_raw(name, HEADER + "\n".join(lines).encode() + b"\n")

    report = run_import()

    counts = report.files[0].counts
    assert counts_tuple(counts) == (13, 3, 0, 0, 10)
    file_id = report.files[0].file_id
    rejected = [(r.line_no, r.field, r.reason) for r in rows(crm, rejected_row, rejected_row.c.line_no)]
    assert rejected == [
        (3, None, "the line has 7 fields, expected 9"),
        (4, None, "the line has 10 fields, expected 9"),
        (
            5,
            None,
            (
                "unbalanced quote: the quote opened on this line does not close (the file ends inside it); "
                "only this line is rejected"
            ),
        ),
        (
            7,
            "event_type",
            (
                "unknown event type (expected autoresponder | click | hardbounce | open | softbounce | "
                "unsubscribe)"
            ),
        ),
        (
            8,
            "occurred_at",
            "malformed timestamp (expected ISO 8601 with an offset, e.g. 2026-01-31T23:59:59Z)",
        ),
        (
            9,
            "occurred_at",
            "malformed timestamp (expected ISO 8601 with an offset, e.g. 2026-01-31T23:59:59Z)",
        ),
        (10, "recipient_id", "value starts with a formula trigger (= + - @; CSV injection guard)"),
        (11, "entity_type", "unknown entity type (expected account | contact | lead or empty)"),
        (12, "recipient_id", "recipient_id is missing"),
        (13, None, "the line is empty"),
    ]
    assert {r.file_id for r in rows(crm, rejected_row)} == {file_id}
    assert sorted(r.entity_id for r in rows(crm, crm_campaign_response)) == [
        entity_id(1),
        entity_id(5),
        entity_id(10),
    ]
    assert sum(counts.rejected_by_reason.values()) == 10


# ------------------------------------------------------------------ re-import, dry run, gap, tidy


def test_reimport_applies_what_became_applicable_and_nothing_else(run_import, sftp_emulator, crm):
    events, mailings = standard_events(sftp_emulator)
    write_file(sftp_emulator, events)
    run_import()
    before = snapshot(crm)
    settings = ResponseImportSettings(mailing_campaigns={str(mailings["unmapped"]): "CMP-LATE"})
    today = ReimportRange(NOW.date(), NOW.date())

    report = run_import(settings=settings, reimport=today, now=NOW + timedelta(hours=1))

    assert [(f.status, f.reimport) for f in report.files] == [("applied", True)]
    # the 5 opens/clicks of the newly mapped mailing are applied now; the rest was there already
    assert counts_tuple(report.files[0].counts) == (17, 5, 10, 1, 1)
    after = snapshot(crm)
    assert len(after.campaign_responses) == len(before.campaign_responses) + 5
    assert (after.entities, after.consents, after.bounces, after.unsubscribes) == (
        before.entities,
        before.consents,
        before.bounces,
        before.unsubscribes,
    )
    assert len(after.rejected) == len(before.rejected) == 1  # regenerated, not doubled

    again = run_import(settings=settings, reimport=today, now=NOW + timedelta(hours=2))
    assert counts_tuple(again.files[0].counts) == (17, 0, 15, 1, 1)
    assert dataclasses.replace(snapshot(crm), ledger=None) == dataclasses.replace(after, ledger=None)


def test_a_reimport_range_that_does_not_cover_the_file_skips_it(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1002)
    write_file(sftp_emulator, opens(m, [entity_id(1)]))
    run_import()
    yesterday = NOW.date() - timedelta(days=1)
    report = run_import(reimport=ReimportRange(yesterday, yesterday))
    assert [f.status for f in report.files] == ["already_imported"]


def test_dry_run_reports_the_real_counts_and_changes_nothing(run_import, sftp_emulator, crm):
    events, _ = standard_events(sftp_emulator)
    write_file(sftp_emulator, events)
    before = snapshot(crm)

    dry = run_import(dry_run=True)

    assert [f.status for f in dry.files] == ["dry_run"] and not dry.recorded_success
    assert snapshot(crm) == before
    real = run_import()
    assert counts_tuple(real.totals) == counts_tuple(dry.totals) == (17, 10, 0, 6, 1)


def test_the_gap_detector_fires_when_the_last_import_is_older_than_the_lifetime(
    run_import, sftp_emulator, crm
):
    m = mailing(sftp_emulator, 1002)
    write_file(sftp_emulator, opens(m, [entity_id(1)]))
    run_import()  # the first import ever never fires: there is nothing to compare with
    settings = ResponseImportSettings(file_lifetime_days=14)

    run_import(settings=settings, now=NOW + timedelta(days=13, hours=23))  # within the lifetime: fine
    later = NOW + timedelta(days=13, hours=23) + timedelta(days=14, seconds=1)
    with pytest.raises(ResponseGapError, match="may be lost") as failure:
        run_import(settings=settings, now=later)
    assert "allow_gap" in str(failure.value)

    report = run_import(settings=settings, now=later, allow_gap=True)
    assert report.gap is not None and report.gap.gap is not None and report.recorded_success
    run_import(settings=settings, now=later + timedelta(days=1))  # the gap was accepted: fine again


def test_a_failed_run_does_not_count_as_success_for_the_gap_detector(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1002)
    write_file(sftp_emulator, opens(m, [entity_id(1)]))
    run_import()
    sftp_emulator.response_files.put_raw("responses_broken.csv", HEADER + b"C000001,,,1002")  # truncated
    settings = ResponseImportSettings(file_lifetime_days=14)
    for day in (5, 10):
        with pytest.raises(ResponseFilesFailedError):
            run_import(settings=settings, now=NOW + timedelta(days=day))
    with pytest.raises(ResponseGapError):
        run_import(settings=settings, now=NOW + timedelta(days=15))


@pytest.mark.parametrize("after_import", ["delete", "move"])
def test_imported_files_are_deleted_or_moved_on_the_server_when_configured(
    run_import, sftp_emulator, sftp_connect, crm, after_import
):
    from include.crm_sync.responses import tidy_remote_files

    m = mailing(sftp_emulator, 1002)
    imported = write_file(sftp_emulator, opens(m, [entity_id(1)]))
    run_import()
    newer = write_file(sftp_emulator, opens(m, [entity_id(2)], at="-5m"))  # not imported yet: stays
    settings = ResponseImportSettings(after_import=after_import, move_to="/archive/responses")
    client = sftp_connect()

    actions = tidy_remote_files(crm, client, settings)

    assert [(a.file_name, a.action) for a in actions] == [
        (imported, "deleted" if after_import == "delete" else "moved")
    ]
    assert sorted(client.listdir("/responses")) == [newer]
    if after_import == "move":
        assert client.listdir("/archive/responses") == [imported]
    assert tidy_remote_files(crm, client, settings) == []  # nothing left to do


def test_events_of_unknown_recipients_are_rejected_whatever_their_type(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")
    write_file(
        sftp_emulator,
        [
            event("open", "NOT-IN-CRM", m, list_id=1003),
            event("bounce", "NOT-IN-CRM", m, list_id=1003, category="hardbounce"),
            event(
                "bounce", "NOT-IN-CRM", m, list_id=1003, category="autoresponder"
            ),  # ignored before matching
        ],
    )
    report = run_import()
    assert counts_tuple(report.totals) == (3, 0, 0, 1, 2)
    assert [r.reason for r in rows(crm, rejected_row)] == ["unknown recipient", "unknown recipient"]


def test_counts_add_up_over_a_seeded_random_mix(run_import, sftp_emulator, crm):
    """A real simulated mailing (the emulator decides who bounces, opens, clicks, unsubscribes)."""
    rlist = sftp_emulator.state.lists[1001]
    names = rlist.resolve_attributes(["entity-type", "entity-id"])
    with rlist.lock:
        for i in range(N := 40):
            eid = entity_id(i) if i < 30 or i % 2 == 0 else f"L{i:06d}"
            rlist.recipients[eid] = (
                f"{eid.lower()}@example.com",
                rlist.packer(names)(["lead" if eid.startswith("L") else "contact", eid]),
                False,
                0,
                0.0,
            )
    sftp_emulator.control.send_mailing(
        1001,
        bounce_rate=0.1,
        soft_bounce_rate=0.1,
        autoresponder_rate=0.05,
        unsubscribe_rate=0.1,
        open_rate=0.6,
        click_rate=0.5,
        seed=7,
        wave_id="CMP-NEWS",
    )
    sftp_emulator.control.send_mailing(1001, open_rate=0.5, seed=8)  # no campaign: ignored opens
    name = run_job(sftp_emulator)
    lines = len(sftp_emulator.response_files.read(name).splitlines()) - 1
    assert lines > 40
    report = run_import()
    counts = report.totals
    assert counts.read == lines == len(rows(crm, response_event)) and N
    assert counts.adds_up and counts.rejected == 0 and counts.known == 0
    assert counts.ignored == sum(1 for r in rows(crm, response_event) if r.status.startswith("ignored"))
    with crm.connect() as conn:
        leads = conn.execute(
            sa.select(sa.func.count())
            .select_from(response_event)
            .where(response_event.c.entity_type == "lead")
        ).scalar()
    assert leads > 0


def test_bad_lines_at_chunk_edges_keep_their_line_and_values_needing_escapes_round_trip(
    run_import, sftp_emulator, crm
):
    """Bad lines at a chunk's end, the next one's start and in its middle keep their file line and
    field; values COPY's text format must escape (a backslash, a literal ``\\N``) and a quoted comma
    are stored exactly, never as NULL."""
    m = mailing(sftp_emulator, 1003, wave_id="CMP-1")

    def click(k: int, link: str = "", event_type: str = "click", sep: str = "T") -> str:
        at = f"2026-03-01{sep}10:{k // 60:02d}:{k % 60:02d}Z"
        return f"{entity_id(k % 30)},contact,{entity_id(k % 30)},1003,{m},CMP-1,{event_type},{at},{link}"

    lines = [click(k) for k in range(250)]  # data line k is file line k + 2
    lines[0] = click(0, "https://x.example/a\\b")  # backslash
    lines[1] = click(1, "\\N")  # a literal \N, not NULL
    lines[198] = click(198, '"https://x.example/?q=a,b"')
    lines[99] = click(99, sep=" ")  # line 101: last of chunk 1, no 'T'
    lines[100] = click(100, event_type="clack")  # line 102: first of chunk 2
    lines[148] = click(148, "=HYPERLINK()")  # line 150: middle of chunk 2
    sftp_emulator.response_files.put_raw("responses_chunks.csv", HEADER + "\n".join(lines).encode() + b"\n")

    report = run_import(settings=ResponseImportSettings(chunk_rows=100))

    assert counts_tuple(report.files[0].counts) == (250, 247, 0, 0, 3)
    assert [
        (r.line_no, r.field, r.reason.split(" (")[0]) for r in rows(crm, rejected_row, rejected_row.c.line_no)
    ] == [
        (101, "occurred_at", "malformed timestamp"),
        (102, "event_type", "unknown event type"),
        (150, "link_url", "value starts with a formula trigger"),
    ]
    links = {r.line_no: r.link_url for r in rows(crm, response_event)}
    assert len(links) == 247 and {101, 102, 150}.isdisjoint(links)
    assert (links[2], links[3], links[200], links[4]) == (
        "https://x.example/a\\b",
        "\\N",
        "https://x.example/?q=a,b",
        None,
    )
    assert len(rows(crm, crm_campaign_response)) == 247

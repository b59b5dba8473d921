"""Issue 12 points 0 and 8 for the SFTP response files: a bounce or unsubscribe whose line fails a
check is still applied when an id identifies its person, a line that cannot be applied but names a
CRM person holds them, and the next night's extraction leaves every one of them out (SQLite and
PostgreSQL, files served by the emulator's real SFTP server)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.responses import ResponseImportSettings
from include.crm_sync.responses.file_format import COLUMN_NAMES
from include.crm_sync.staging.tables import crm_entity, crm_feedback_hold, rejected_row, response_event
from tests.integration.extract.crm_state import add_sync_run, list_def, snapshot_rows
from tests.integration.responses.conftest import NOW, counts_tuple, entity_id, mailing, rows

HEADER = (",".join(COLUMN_NAMES) + "\n").encode()
AT = "2026-03-01T10:00:00Z"


def _line(
    recipient: str,
    event_type: str,
    *,
    entity_type: str = "contact",
    entity: str = "",
    list_id: str = "",
    mailing_id: str = "7001",
    wave: str = "",
    at: str = AT,
    link: str = "",
) -> str:
    return ",".join((recipient, entity_type, entity, list_id, mailing_id, wave, event_type, at, link))


def _night(engine: sa.Engine, run_id: str) -> tuple[dict[str, int], set[str]]:
    add_sync_run(engine, run_id)
    report = extract_snapshot(engine, list_def(consent="newsletter"), run_id=run_id)
    return report.excluded, {row[1] for row in snapshot_rows(engine, report.list_run_id)}


def test_every_no_that_fails_a_check_is_applied_or_holds_its_person_and_the_night_leaves_them_out(
    run_import, sftp_emulator, crm
):
    m = str(mailing(sftp_emulator, 1002))
    e = entity_id
    lines = [
        _line(e(1), "unsubscribe", mailing_id="-" + m),  # 2 formula-like mailing id
        _line(e(2), "unsubscribe", wave="=HYPERLINK(1)", link="@x"),  # 3 formula-like wave id, link
        _line("R" * 80, "unsubscribe", entity=e(3)),  # 4 recipient id over 64: entity id
        _line(e(4) + "\u200b", "hardbounce", entity=e(4)),  # 5 non-printable recipient id
        _line(e(5), "unsubscribe", entity_type="robot"),  # 6 unknown entity type
        _line(e(6), "unsubscribe", mailing_id=""),  # 7 no mailing id
        _line(e(7), "hardbounce", at="2099-01-01T00:00:00Z"),  # 8 dated in the future
        _line(e(8), "unsubscribe", at="1970-01-01T00:00:00Z"),  # 9 dated before the platform
        _line(e(9), "unsubscribe", at="yesterday"),  # 10 malformed date
        _line(e(10), "unsubscribed"),  # 11 unknown type: held
        _line(e(11) + "\u200b", "unsubscribe", entity_type=""),  # 12 no usable id: held
        f"{e(12)},contact,,,{m},,unsubscribe",  # 13 unreadable line: held
        _line(e(13), "open", at="2099-01-01T00:00:00Z"),  # 14 an open from 2099: rejected
        _line(e(14), "open", mailing_id=m),  # 15 an open of no campaign
        _line(e(15) + "\u200b", "unsubscribe", entity="GHOST-9"),  # 16 the usable id finds nobody: held
    ]
    sftp_emulator.response_files.put_raw("responses_failsafe.csv", HEADER + "\n".join(lines).encode() + b"\n")

    report = run_import()

    (file,) = report.files
    assert file.status == "applied", file.error
    # 9 "no"s applied; 4 rejected (3 holding their person, the 2099 open); 1 open ignored
    assert counts_tuple(file.counts) == (15, 9, 0, 1, 5)
    assert file.held_entities == 4
    assert sum(file.untrusted_dates.values()) == 3
    rejected = {r.line_no: (r.field, r.reason) for r in rows(crm, rejected_row)}
    assert sorted(rejected) == [11, 12, 13, 14, 16]
    assert rejected[16] == ("entity_id", "unknown recipient")
    assert rejected[14][0] == "occurred_at" and "in the future" in rejected[14][1]
    holds = sorted((h.entity_id, h.line_no) for h in rows(crm, crm_feedback_hold))
    assert holds == [(e(10), 11), (e(11), 12), (e(12), 13), (e(15), 16)]
    # the untrusted dates are recorded as the time of receipt
    with crm.connect() as conn:
        bounced_at = conn.execute(
            sa.select(crm_entity.c.bounced_at).where(crm_entity.c.entity_id == e(7))
        ).scalar()
        stored = conn.execute(sa.select(response_event.c.recipient_id, response_event.c.occurred_at)).all()
    assert bounced_at == NOW
    assert len({r for r, _ in stored if r.startswith("RRRR")}) == 1 and all(len(r) <= 64 for r, _ in stored)

    excluded, kept = _night(crm, "night-1")
    said_no = {e(i) for i in (*range(1, 13), 15)}
    assert not said_no & kept
    assert excluded["unsubscribed"] == 7  # 1, 2, 3, 5, 6, 8, 9
    assert excluded["entity_bounced"] == 2  # 4 and 7
    assert excluded["feedback_held"] == 4  # 10, 11, 12, 15
    assert {e(13), e(14)} <= kept


def test_the_clock_skew_and_the_earliest_date_are_configurable(run_import, sftp_emulator, crm):
    m = str(mailing(sftp_emulator, 1002))
    lines = [
        _line(entity_id(1), "open", mailing_id=m, at="2026-03-01T12:30:00Z"),  # 30 min ahead of NOW
        _line(entity_id(2), "open", mailing_id=m, at="2026-02-01T10:00:00Z"),
        _line(entity_id(3), "unsubscribe", mailing_id=m, at="2026-02-01T10:00:00Z"),
    ]
    sftp_emulator.response_files.put_raw("responses_dates.csv", HEADER + "\n".join(lines).encode() + b"\n")
    strict = ResponseImportSettings(max_clock_skew_minutes=0, earliest_event_date=date(2026, 2, 15))

    (file,) = run_import(settings=strict).files

    assert counts_tuple(file.counts) == (3, 1, 0, 0, 2)  # the opens rejected, the unsubscribe applied
    reasons = sorted(r.reason.split(" (")[0].split(",")[0] for r in rows(crm, rejected_row))
    assert reasons == ["event time before 2026-02-15", "event time in the future"]
    assert sum(file.untrusted_dates.values()) == 1

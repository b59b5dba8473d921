"""Issue 12, points 3 and 4, over the emulator's real SFTP server on loopback (SQLite and PostgreSQL):
a CSV record is a record (a quoted line break never fabricates a row), and a response file is known
by its content (sha256), not by its name and size."""

from __future__ import annotations

import csv
import hashlib
import io

from include.crm_sync.staging.tables import crm_consent, feedback_unsubscribe, file_ledger, rejected_row
from tests.integration.responses.conftest import MARKETING, entity_id, mailing, rows

HEADER = [
    "recipient_id",
    "entity_type",
    "entity_id",
    "recipient_list_id",
    "mailing_id",
    "wave_id",
    "event_type",
    "occurred_at",
    "link_url",
]


def csv_bytes(*records: list[str]) -> bytes:
    """A response file as an RFC 4180 writer makes it (values holding a line break are quoted)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(records)
    return buffer.getvalue().encode()


def record(
    recipient: str, mailing_id: int, event_type: str, at: str = "2026-03-01T10:00:00Z", link: str = ""
) -> list:
    return [recipient, "contact", recipient, "1002", str(mailing_id), "", event_type, at, link]


def consents_of(engine, entity: str) -> dict[str, str]:
    return {r.consent_id: r.status for r in rows(engine, crm_consent) if r.entity_id == entity}


# ------------------------------------------------------------------ point 4: a CSV record is a record


def test_a_quoted_line_break_in_a_link_never_revokes_a_consent(run_import, sftp_emulator, crm):
    m = mailing(sftp_emulator, 1002)
    forged = f"https://x.example/a\n{entity_id(20)},contact,{entity_id(20)},1002,{m},,unsubscribe,2026-03-01T10:00:00Z,x"
    body = csv_bytes(
        record(entity_id(1), m, "open"),
        record(entity_id(5), m, "click", link=forged),  # lines 3-4
        record(entity_id(13), m, "unsubscribe", at="2026-03-01T09:00:00Z"),  # a real unsubscribe: line 5
    )
    assert body.count(b"\n") == 5
    name = "responses_forged_link.csv"
    sftp_emulator.response_files.put_raw(name, body)

    report = run_import()

    (file_report,) = report.files
    assert file_report.status == "applied"
    assert consents_of(crm, entity_id(20)) == {c: "granted" for c in (*MARKETING, "service_mail")}
    assert [r.entity_id for r in rows(crm, feedback_unsubscribe)] == [entity_id(13)]
    assert consents_of(crm, entity_id(13))["product_updates"] == "revoked"
    rejected = [(r.line_no, r.reason) for r in rows(crm, rejected_row)]
    assert len(rejected) == 1 and rejected[0][0] == 3 and "lines 3-4" in rejected[0][1]
    # read = applied + known + ignored + rejected, with the two-line record counted once
    assert (file_report.counts.read, file_report.counts.rejected) == (3, 1)


# ------------------------------------------------------------------ point 3: a file is known by its content

NAME = "responses_1_20260301T110000Z.csv"


def unsubscribe_file(emulator, who: int) -> bytes:
    """A file with one unsubscribe of ``entity_id(who)``: the same size whoever it is."""
    m = mailing(emulator, 1002)
    return csv_bytes(record(entity_id(who), m, "unsubscribe"))


def test_same_name_and_size_with_new_content_is_imported_not_skipped(run_import, sftp_emulator, crm):
    first = unsubscribe_file(sftp_emulator, 14)
    sftp_emulator.response_files.put_raw(NAME, first)
    run_import()
    assert consents_of(crm, entity_id(14))["product_updates"] == "revoked"
    second = first.replace(entity_id(14).encode(), entity_id(13).encode())
    assert len(second) == len(first) and second != first
    sftp_emulator.response_files.put_raw(NAME, second)  # same name, same size, same mtime (frozen clock)

    report = run_import()

    (file_report,) = report.files
    assert file_report.status == "applied" and "new content under a known name" in file_report.note
    assert consents_of(crm, entity_id(13))["product_updates"] == "revoked"
    ledger = [(r.file_name, r.status, r.source) for r in rows(crm, file_ledger, file_ledger.c.file_id)]
    assert ledger[0] == (NAME, "applied", f"sftp:/responses/{NAME}")
    assert ledger[1][1:] == ("applied", f"sftp:/responses/{NAME}") and ledger[1][0] != NAME
    again = run_import()  # and now both contents are known: nothing more to do
    assert [f.status for f in again.files] == ["already_imported"]


def test_a_dry_runs_landed_copy_is_never_applied_over_newer_server_content(run_import, sftp_emulator, crm):
    old = unsubscribe_file(sftp_emulator, 14)
    sftp_emulator.response_files.put_raw(NAME, old)
    dry = run_import(dry_run=True)
    assert [f.status for f in dry.files] == ["dry_run"]
    assert not any(p for p in run_import.landing.rglob("*") if p.is_file())  # a dry run leaves nothing behind
    newer = old.replace(entity_id(14).encode(), entity_id(13).encode())
    sftp_emulator.response_files.put_raw(NAME, newer)  # the platform rewrote the file: same size

    run_import()

    assert consents_of(crm, entity_id(13))["product_updates"] == "revoked"
    assert consents_of(crm, entity_id(14))["product_updates"] == "granted"
    (entry,) = rows(crm, file_ledger)
    assert entry.sha256 == hashlib.sha256(newer).hexdigest()


def test_a_local_copy_of_a_failed_attempt_is_not_trusted_either(run_import, sftp_emulator, crm):
    old = unsubscribe_file(sftp_emulator, 14)
    sftp_emulator.response_files.put_raw(NAME, old)
    run_import.landing.mkdir(parents=True)
    (run_import.landing / NAME).write_bytes(old)  # left by an earlier attempt (or anyone)
    newer = old.replace(entity_id(14).encode(), entity_id(13).encode())
    sftp_emulator.response_files.put_raw(NAME, newer)

    run_import()

    assert consents_of(crm, entity_id(13))["product_updates"] == "revoked"
    assert consents_of(crm, entity_id(14))["product_updates"] == "granted"
    assert (run_import.landing / NAME).read_bytes() == newer


def test_tidying_never_deletes_a_file_whose_content_was_not_imported(
    run_import, sftp_emulator, sftp_connect, crm
):
    from include.crm_sync.responses import ResponseImportSettings, tidy_remote_files

    first = unsubscribe_file(sftp_emulator, 14)
    sftp_emulator.response_files.put_raw(NAME, first)
    run_import()
    sftp_emulator.response_files.put_raw(NAME, first.replace(entity_id(14).encode(), entity_id(13).encode()))
    client = sftp_connect()

    actions = tidy_remote_files(crm, client, ResponseImportSettings(after_import="delete"))

    assert [a.action for a in actions] == [] and client.listdir("/responses") == [NAME]
    run_import()  # imported now: tidied
    assert [
        a.action for a in tidy_remote_files(crm, client, ResponseImportSettings(after_import="delete"))
    ] == ["deleted"]

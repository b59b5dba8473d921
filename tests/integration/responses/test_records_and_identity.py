"""Issue 12, points 3 and 4, over the emulator's real SFTP server on loopback (SQLite and PostgreSQL):
a CSV record is a record (a quoted line break never fabricates a row), and a response file is known
by its content (sha256), not by its name and size."""

from __future__ import annotations

import csv
import io

from include.crm_sync.staging.tables import crm_consent, feedback_unsubscribe, rejected_row
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

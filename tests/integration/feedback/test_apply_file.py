"""Applying landed files to the CRM (SQLite and PostgreSQL): effects, counts, bad input, idempotency."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from include.crm_sync.feedback import (
    FeedbackConfigError,
    FeedbackFileError,
    LedgerConflictError,
    apply_feedback_file,
)
from include.crm_sync.feedback.csv_schema import COLUMN_NAMES
from include.crm_sync.feedback.event_key import row_key
from include.crm_sync.staging.tables import crm_feedback_hold, feedback_bounce, feedback_unsubscribe
from tests.integration.feedback.conftest import (
    CRM_TIME,
    LIST_CONSENTS,
    SHARED_EMAIL,
    SHARED_ENTITIES,
    bounce,
    crm_state,
    csv_text,
    email_of,
    entity_id,
    feedback_state,
    ledger_rows,
    rejected_rows,
    table_rows,
    unsubscribe,
    write_csv,
)

NOW = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
MARKETING = ("events", "newsletter-nl", "product-updates")


def apply(engine, path, kind="bounces", **kw):
    kw.setdefault("list_consents", LIST_CONSENTS)
    kw.setdefault("now", NOW)
    return apply_feedback_file(engine, path, kind, **kw)


# ------------------------------------------------------------------ bounces


def test_hard_bounces_and_overflow_mark_entities_soft_bounces_are_only_stored(crm, tmp_path):
    path = write_csv(
        tmp_path / "b.csv",
        [
            bounce(entity_id(1), email_of(1), "hardbounce", "2026-01-05T10:00:00Z"),
            bounce(entity_id(2), email_of(2), "overflow", "2026-01-05T11:00:00Z"),
            bounce(entity_id(3), email_of(3), "softbounce", "2026-01-05T12:00:00Z"),
            bounce("", email_of(4).upper(), "hardbounce", "2026-01-05T13:00:00+02:00"),  # by e-mail only
        ],
    )
    before = crm_state(crm)
    report = apply(crm, path)
    after = crm_state(crm)

    assert report.status == "applied"
    assert (report.counts.read, report.counts.applied, report.counts.known, report.counts.rejected) == (
        4,
        4,
        0,
        0,
    )
    assert report.entities_bounced == 3
    assert after.bounced == {entity_id(1), entity_id(2), entity_id(4)}
    assert after.entities[entity_id(1)][1:] == (datetime(2026, 1, 5, 10, tzinfo=UTC), "hardbounce", NOW)
    assert after.entities[entity_id(2)][1:3] == (datetime(2026, 1, 5, 11, tzinfo=UTC), "overflow")
    assert after.entities[entity_id(4)][1] == datetime(2026, 1, 5, 11, tzinfo=UTC)
    assert after.entities[entity_id(3)] == before.entities[entity_id(3)]
    assert after.consents == before.consents
    stored = table_rows(crm, feedback_bounce, feedback_bounce.c.line_no)
    assert [(r.line_no, r.entity_id, r.category) for r in stored] == [
        (2, entity_id(1), "hardbounce"),
        (3, entity_id(2), "overflow"),
        (4, entity_id(3), "softbounce"),
        (5, entity_id(4), "hardbounce"),
    ]
    assert all(r.file_id == report.file_id and r.received_at == NOW for r in stored)
    assert stored[3].email_normalized == email_of(4) and stored[3].recipient_id is None


def test_first_bounce_wins_within_a_file_and_across_files(crm, tmp_path):
    first = write_csv(
        tmp_path / "1.csv",
        [
            bounce(entity_id(1), category="overflow", at="2026-01-05T12:00:00Z"),
            bounce(entity_id(1), category="hardbounce", at="2026-01-05T09:00:00Z", mailing_id="7002"),
            bounce(entity_id(1), category="softbounce", at="2026-01-05T08:00:00Z"),
        ],
    )
    apply(crm, first)
    assert crm_state(crm).entities[entity_id(1)][1:3] == (datetime(2026, 1, 5, 9, tzinfo=UTC), "hardbounce")
    # an earlier hard bounce arriving later does not rewrite the record
    later = write_csv(
        tmp_path / "2.csv", [bounce(entity_id(1), at="2026-01-01T00:00:00Z", mailing_id="7003")]
    )
    state = crm_state(crm)
    report = apply(crm, later, now=datetime(2026, 3, 1, tzinfo=UTC))
    assert report.counts.applied == 1 and report.entities_bounced == 0
    assert crm_state(crm) == state


def test_an_address_shared_by_several_entities_bounces_all_of_them_one_row_each(crm, tmp_path):
    path = write_csv(tmp_path / "b.csv", [bounce("", f"  {SHARED_EMAIL.upper()} ")])
    report = apply(crm, path)
    assert report.counts.applied == 1 and report.entities_bounced == 2
    assert crm_state(crm).bounced == set(SHARED_ENTITIES)
    stored = table_rows(crm, feedback_bounce)
    assert sorted(r.entity_id for r in stored) == sorted(SHARED_ENTITIES)
    assert len({r.event_key for r in stored}) == 2


def test_recipient_id_wins_over_the_address(crm, tmp_path):
    # the id is the CRM entity the sync uploaded; the address may meanwhile belong to someone else
    path = write_csv(tmp_path / "b.csv", [bounce(entity_id(5), SHARED_EMAIL)])
    apply(crm, path)
    assert crm_state(crm).bounced == {entity_id(5)}


def test_unknown_id_falls_back_to_the_address(crm, tmp_path):
    path = write_csv(tmp_path / "b.csv", [bounce("PLATFORM-ONLY-7", email_of(6))])
    apply(crm, path)
    assert crm_state(crm).bounced == {entity_id(6)}


# ------------------------------------------------------------------ unsubscribes


def test_unsubscribe_from_a_mapped_list_revokes_that_consent_only(crm, tmp_path):
    path = write_csv(
        tmp_path / "u.csv",
        [
            unsubscribe(entity_id(1), list_id="1002", at="2026-01-06T10:00:00Z"),
            unsubscribe(entity_id(2), list_id="1001", at="2026-01-06T11:00:00Z", mailing_id="7001"),
        ],
    )
    before = crm_state(crm)
    report = apply(crm, path, "unsubscribes")
    after = crm_state(crm)
    assert report.consents_revoked == 2
    assert after.revoked == {(entity_id(1), "product-updates"), (entity_id(2), "newsletter-nl")}
    status, revoked_at, source, updated_at = after.consents[(entity_id(1), "product-updates")]
    assert (status, revoked_at, source, updated_at) == (
        "revoked",
        datetime(2026, 1, 6, 10, tzinfo=UTC),
        "feedback:u.csv",
        NOW,
    )
    assert after.entities == before.entities
    stored = {r.entity_id: r for r in table_rows(crm, feedback_unsubscribe)}
    assert stored[entity_id(1)].consent_id == "product-updates"
    assert stored[entity_id(1)].platform_list_id == "1002"


@pytest.mark.parametrize("list_id", ["", "4711"])
def test_unsubscribe_without_a_known_list_revokes_every_marketing_consent(crm, tmp_path, list_id):
    path = write_csv(tmp_path / "u.csv", [unsubscribe(entity_id(3), list_id=list_id)])
    apply(crm, path, "unsubscribes")
    state = crm_state(crm)
    assert state.revoked == {(entity_id(3), c) for c in MARKETING}
    assert state.consents[(entity_id(3), "service-mail")][0] == "granted"  # not a marketing consent
    assert table_rows(crm, feedback_unsubscribe)[0].consent_id is None


def test_unsubscribe_by_address_reaches_every_entity_with_it(crm, tmp_path):
    path = write_csv(tmp_path / "u.csv", [unsubscribe("", SHARED_EMAIL, list_id="1003")])
    apply(crm, path, "unsubscribes")
    assert crm_state(crm).revoked == {(e, "events") for e in SHARED_ENTITIES}


def test_a_revoked_consent_keeps_its_first_revocation(crm, tmp_path):
    apply(
        crm,
        write_csv(tmp_path / "1.csv", [unsubscribe(entity_id(1), list_id="1001", at="2026-01-06T10:00:00Z")]),
        "unsubscribes",
    )
    state = crm_state(crm)
    report = apply(
        crm,
        write_csv(
            tmp_path / "2.csv",
            [
                unsubscribe(entity_id(1), list_id="1001", at="2026-01-01T10:00:00Z"),
            ],
        ),
        "unsubscribes",
        now=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert report.counts.applied == 1 and report.consents_revoked == 0
    assert crm_state(crm) == state


def test_mapping_to_a_consent_the_crm_lacks_is_refused_before_anything(crm, tmp_path):
    path = write_csv(tmp_path / "u.csv", [unsubscribe(entity_id(1), list_id="1001")])
    with pytest.raises(FeedbackConfigError, match="no-such-consent.*1009"):
        apply(crm, path, "unsubscribes", list_consents={"1009": "no-such-consent"})
    assert ledger_rows(crm) == [] and crm_state(crm).revoked == set()


# ------------------------------------------------------------------ duplicates, unknown, counts


def test_duplicates_unknown_recipients_and_bad_rows_are_counted(crm, tmp_path):
    rows = [
        bounce(entity_id(1)),  # 2 applied
        bounce(entity_id(1)),  # 3 duplicate line -> known
        bounce("NOBODY-1", "nobody@example.org"),  # 4 unknown -> rejected
        bounce("NOBODY-1", "nobody@example.org"),  # 5 its duplicate -> rejected too
        bounce(entity_id(2), at="2026-02-30T00:00:00Z"),  # 6 malformed timestamp -> applied, time of receipt
        bounce(entity_id(3), category="spam"),  # 7 unknown category -> rejected, C3 held
        bounce(entity_id(4), "@cmd|calc"),  # 8 formula-like address, the id identifies -> applied
        bounce("", ""),  # 9 neither id nor e-mail -> rejected
        bounce(entity_id(5), category="softbounce"),  # 10 applied
    ]
    report = apply(crm, write_csv(tmp_path / "b.csv", rows))
    counts = report.counts
    assert (counts.read, counts.applied, counts.known, counts.rejected) == (9, 4, 1, 4)
    rejected = rejected_rows(crm, report.file_id)
    assert sorted((r.line_no, r.field, r.reason.split(" (")[0]) for r in rejected) == [
        (4, "recipient_id", "unknown recipient"),
        (5, "recipient_id", "unknown recipient"),
        (7, "category", "unknown category for bounces"),
        (9, "recipient_id", "neither a usable recipient id nor a usable e-mail"),
    ]
    (ledger,) = ledger_rows(crm)
    assert (
        ledger.status,
        ledger.rows_read,
        ledger.rows_applied,
        ledger.rows_known,
        ledger.rows_rejected,
    ) == ("applied", 9, 4, 1, 4)
    assert report.held_entities == 1 and report.untrusted_dates == {
        "malformed timestamp (expected ISO 8601 with UTC offset)": 1
    }
    assert [(h.entity_id, h.line_no) for h in table_rows(crm, crm_feedback_hold)] == [(entity_id(3), 7)]
    assert report.rejected_by_reason["unknown recipient"] == 2
    # the unknown recipient's event is kept (entity_id NULL), once
    unknown = [r for r in table_rows(crm, feedback_bounce) if r.entity_id is None]
    assert [(r.recipient_id, r.email_normalized) for r in unknown] == [("NOBODY-1", "nobody@example.org")]
    assert crm_state(crm).bounced == {entity_id(1), entity_id(2), entity_id(4)}
    assert crm_state(crm).entities[entity_id(2)][1] == NOW  # the bounce counts from its time of receipt


def test_overlapping_files_store_each_event_once(crm, tmp_path):
    a = [bounce(entity_id(i), at=f"2026-01-05T10:00:0{i}Z") for i in range(1, 5)]
    b = a[2:] + [bounce(entity_id(i), at=f"2026-01-05T10:00:0{i}Z") for i in range(5, 8)]
    first = apply(crm, write_csv(tmp_path / "1.csv", a))
    second = apply(crm, write_csv(tmp_path / "2.csv", b))
    assert (first.counts.applied, first.counts.known) == (4, 0)
    assert (second.counts.applied, second.counts.known) == (3, 2)
    stored = table_rows(crm, feedback_bounce)
    assert len(stored) == 7 and len({r.event_key for r in stored}) == 7
    assert crm_state(crm).bounced == {entity_id(i) for i in range(1, 8)}


def test_an_event_redelivered_under_another_key_is_known_not_applied(crm, tmp_path):
    # The platform sends the same bounce and unsubscribe in a response file (by address) and in the next
    # night's export (by recipient id): other event keys, same entity, time and mailing. The second
    # file changes nothing in the CRM, so its rows are known, not applied (issue 16 point 2).
    by_address = [bounce("", email_of(1), at="2026-01-05T10:00:00Z", mailing_id="7002")]
    by_id = [
        bounce(entity_id(1), at="2026-01-05T10:00:00Z", mailing_id="7002"),
        bounce(entity_id(2), at="2026-01-05T10:00:00Z", mailing_id="7002"),
    ]  # new: applied
    first = apply(crm, write_csv(tmp_path / "responses-bounces.csv", by_address))
    second = apply(crm, write_csv(tmp_path / "export-bounces.csv", by_id))
    assert (first.counts.applied, first.counts.known) == (1, 0)
    assert (second.counts.read, second.counts.applied, second.counts.known) == (2, 1, 1)
    assert second.entities_bounced == 1
    assert len(table_rows(crm, feedback_bounce)) == 3  # every delivery is still stored with its file

    unsub_by_address = [unsubscribe("", email_of(3), at="2026-01-06T10:00:00Z")]
    unsub_by_id = [unsubscribe(entity_id(3), at="2026-01-06T10:00:00Z")]
    apply(crm, write_csv(tmp_path / "responses-unsubs.csv", unsub_by_address), kind="unsubscribes")
    again = apply(crm, write_csv(tmp_path / "export-unsubs.csv", unsub_by_id), kind="unsubscribes")
    assert (again.counts.applied, again.counts.known, again.consents_revoked) == (0, 1, 0)


@pytest.mark.parametrize("kind", ["bounces", "unsubscribes"])
def test_the_redelivered_check_is_one_join_not_a_lookup_per_row(crm, kind):
    # feedback_bounce/unsubscribe have no index on entity_id: a correlated lookup per new row scanned the
    # whole table once per row, O(N^2) -- the 100k-event bench import sat in it for minutes.
    from include.crm_sync.imports.sql_files import import_sql

    statement = import_sql("feedback", f"redelivered_{kind}").bindparams(file_id=1, id_before=0)
    sql = str(statement.compile(crm, compile_kwargs={"literal_binds": True}))
    with crm.connect() as conn:
        if crm.dialect.name == "postgresql":
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}").scalars())
            assert "SubPlan" not in plan, plan
        else:
            plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "CORRELATED" not in plan, plan


def test_stored_event_key_is_the_documented_row_key(crm, tmp_path):
    apply(
        crm, write_csv(tmp_path / "b.csv", [bounce(entity_id(1)), bounce("", SHARED_EMAIL), bounce("GHOST")])
    )
    with crm.connect() as conn:
        stored = conn.execute(
            sa.select(feedback_bounce.c.line_no, feedback_bounce.c.entity_id, feedback_bounce.c.event_key)
        ).all()
    from include.crm_sync.feedback.load import check_structure, read_chunks
    from include.crm_sync.platforms.base import FeedbackKind

    path = tmp_path / "b.csv"
    (chunk,) = list(read_chunks(path, FeedbackKind.BOUNCES, check_structure(path)))
    event_of_line = dict(zip(chunk.rows["line_no"], chunk.rows["event_key"], strict=True))
    assert sorted(r.event_key for r in stored) == sorted(
        row_key(event_of_line[r.line_no], r.entity_id) for r in stored
    )
    assert len(stored) == 4


# ------------------------------------------------------------------ whole files refused, idempotency


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (csv_text([bounce(entity_id(1))], header=COLUMN_NAMES[:-1]).encode(), "missing column(s) mailing_id"),
        (
            csv_text([bounce(entity_id(1)) + ["x"]], header=[*COLUMN_NAMES, "x"]).encode(),
            "unexpected column(s) 'x'",
        ),
        (
            csv_text([bounce(entity_id(1)), bounce(entity_id(2)) + ["surplus"]]).encode(),
            "line 3 has 7 fields",
        ),
        (
            csv_text([bounce(entity_id(1)), bounce(entity_id(2), "jos\u00e9@example.com")]).encode("latin-1"),
            "line 3 is not valid UTF-8",
        ),
        (b"", "the file is empty"),
    ],
)
def test_a_broken_file_is_refused_whole_and_can_be_retried_once_fixed(crm, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = crm_state(crm)
    with pytest.raises(FeedbackFileError) as err:
        apply(crm, path)
    assert message in str(err.value) and "bad.csv" in str(err.value)
    assert crm_state(crm) == before
    assert feedback_state(crm) == {"bounces": [], "unsubscribes": []} and rejected_rows(crm) == []
    (ledger,) = ledger_rows(crm)
    assert ledger.status == "failed" and message in ledger.error
    # a fixed file is a new file (new name: a landed file never changes)
    fixed = write_csv(tmp_path / "fixed.csv", [bounce(entity_id(1)), bounce(entity_id(2))])
    assert apply(crm, fixed).counts.applied == 2
    assert crm_state(crm).bounced == {entity_id(1), entity_id(2)}


def test_header_only_file_applies_with_zero_counts(crm, tmp_path):
    report = apply(crm, write_csv(tmp_path / "empty.csv", []), "unsubscribes")
    assert report.status == "applied" and report.counts.read == report.counts.applied == 0
    assert ledger_rows(crm)[0].status == "applied"


def test_same_file_twice_is_applied_once(crm, tmp_path):
    path = write_csv(
        tmp_path / "u.csv", [unsubscribe(entity_id(1), list_id="1001"), unsubscribe(entity_id(2))]
    )
    first = apply(crm, path, "unsubscribes")
    state, stored = crm_state(crm), feedback_state(crm)
    again = apply(crm, path, "unsubscribes", now=datetime(2026, 5, 1, tzinfo=UTC))
    assert (
        again.status == "already_applied" and again.file_id == first.file_id and again.counts == first.counts
    )
    copy = tmp_path / "u-copy.csv"
    shutil.copyfile(path, copy)
    duplicate = apply(crm, copy, "unsubscribes", now=datetime(2026, 5, 1, tzinfo=UTC))
    assert duplicate.status == "duplicate" and duplicate.counts.read == 0
    assert (crm_state(crm), feedback_state(crm)) == (state, stored)
    assert [(r.file_name, r.status) for r in ledger_rows(crm)] == [
        ("u.csv", "applied"),
        ("u-copy.csv", "duplicate"),
    ]
    assert f"file {first.file_id}" in ledger_rows(crm)[1].error
    assert len(rejected_rows(crm)) == 0


def test_same_content_as_another_kind_is_not_a_duplicate(crm, tmp_path):
    empty_b = write_csv(tmp_path / "b.csv", [])
    empty_u = write_csv(tmp_path / "u.csv", [])
    assert apply(crm, empty_b, "bounces").status == "applied"
    assert apply(crm, empty_u, "unsubscribes").status == "applied"


def test_a_landed_file_that_changed_is_refused(crm, tmp_path):
    path = write_csv(tmp_path / "b.csv", [bounce(entity_id(1))])
    apply(crm, path)
    write_csv(path, [bounce(entity_id(2))])
    with pytest.raises(LedgerConflictError, match="b.csv"):
        apply(crm, path)
    assert crm_state(crm).bounced == {entity_id(1)}


def test_reapplying_after_crm_reset_restores_the_flags(crm, tmp_path):
    """Effects follow every valid event in the file, stored before or not (safety over economy)."""
    apply(crm, write_csv(tmp_path / "1.csv", [bounce(entity_id(1))]))
    with crm.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE crm_entity SET is_bounced = FALSE, bounced_at = NULL, bounce_category = NULL"
        )
    report = apply(crm, write_csv(tmp_path / "2.csv", [bounce(entity_id(1)), bounce(entity_id(9))]))
    assert (report.counts.applied, report.counts.known, report.entities_bounced) == (1, 1, 2)
    assert crm_state(crm).bounced == {entity_id(1), entity_id(9)}


def test_crm_rows_untouched_by_feedback_keep_their_timestamps(crm, tmp_path):
    apply(crm, write_csv(tmp_path / "b.csv", [bounce(entity_id(1))]))
    state = crm_state(crm)
    assert {e for e, v in state.entities.items() if v[3] != CRM_TIME} == {entity_id(1)}
    assert all(v[3] == CRM_TIME for v in state.consents.values())


def test_a_failure_late_in_the_apply_rolls_everything_back_and_a_retry_applies(crm, tmp_path, monkeypatch):
    from include.crm_sync.imports import apply_session

    path = write_csv(tmp_path / "u.csv", [unsubscribe(entity_id(1), list_id="1001"), unsubscribe("GHOST")])
    real_sql = apply_session.import_sql

    def failing_sql(folder, name, **types):
        if name == "revoke_consents":  # after events and rejected rows were written
            raise RuntimeError("connection lost while talking about jane.doe@example.com")
        return real_sql(folder, name, **types)

    monkeypatch.setattr(apply_session, "import_sql", failing_sql)
    before = crm_state(crm)
    with pytest.raises(RuntimeError):
        apply(crm, path, "unsubscribes")
    assert crm_state(crm) == before
    assert feedback_state(crm) == {"bounces": [], "unsubscribes": []} and rejected_rows(crm) == []
    (ledger,) = ledger_rows(crm)
    assert ledger.status == "failed" and "connection lost" in ledger.error
    assert "jane.doe@example.com" not in ledger.error  # masked

    monkeypatch.setattr(apply_session, "import_sql", real_sql)
    report = apply(crm, path, "unsubscribes")
    assert report.status == "applied" and report.file_id == ledger.file_id
    assert (report.counts.applied, report.counts.rejected) == (1, 1)
    assert crm_state(crm).revoked == {(entity_id(1), "newsletter-nl")}
    assert ledger_rows(crm)[0].status == "applied" and ledger_rows(crm)[0].error is None


def test_bad_rows_inside_chunks_keep_their_line_and_field_and_escapes_round_trip(crm, tmp_path):
    """Small chunks put bad rows at a chunk's start, middle and end; values that COPY's text format
    must escape (a backslash, a literal ``\\N``) are stored exactly as given, never as NULL."""
    rows = [bounce(entity_id(i), email_of(i), at=f"2026-01-05T10:00:0{i}.000000Z") for i in range(1, 9)]
    rows[3] = bounce(entity_id(4), at="2026-01-05 10:00:00.000000Z")  # line 5: no 'T' -> time of receipt
    rows[4] = bounce("\\N", "back\\slash@example.org")  # line 6: unknown recipient
    rows[5] = bounce(entity_id(6), "=1+1")  # line 7: formula-like, id identifies
    rows[6] = bounce(entity_id(7), email_of(7), category="bogus")  # line 8: unknown category
    report = apply(crm, write_csv(tmp_path / "b.csv", rows), chunk_rows=3)
    counts = report.counts
    assert (counts.read, counts.applied, counts.known, counts.rejected) == (8, 6, 0, 2)
    assert sorted(
        (r.line_no, r.field, r.reason.split(" (")[0]) for r in rejected_rows(crm, report.file_id)
    ) == [
        (6, "recipient_id", "unknown recipient"),
        (8, "category", "unknown category for bounces"),
    ]
    unknown = [r for r in table_rows(crm, feedback_bounce) if r.entity_id is None]
    assert [(r.recipient_id, r.email_normalized, r.line_no) for r in unknown] == [
        ("\\N", "back\\slash@example.org", 6)
    ]
    assert crm_state(crm).bounced == {entity_id(i) for i in (1, 2, 3, 4, 6, 8)}
    assert [(h.entity_id, h.line_no) for h in table_rows(crm, crm_feedback_hold)] == [(entity_id(7), 8)]
    stored = {r.line_no: r for r in table_rows(crm, feedback_bounce)}
    assert stored[9].occurred_at == datetime(2026, 1, 5, 10, 0, 8, tzinfo=UTC)
    assert stored[9].mailing_id == "7001" and stored[9].platform_list_id == "1001"


def test_unsubscribes_dated_2099_or_1970_revoke_from_their_time_of_receipt(crm, tmp_path):
    """Issue 12 point 8: the date is not trusted, the unsubscribe still takes effect."""
    rows = [
        unsubscribe(entity_id(1), at="2099-01-01T00:00:00.000000Z", list_id="1001"),
        unsubscribe(entity_id(2), at="1970-01-01T00:00:00.000000Z", list_id="1001"),
        unsubscribe(entity_id(3), at="2026-01-31T00:00:00.000000Z", list_id="1001"),
    ]
    report = apply(crm, write_csv(tmp_path / "u.csv", rows), "unsubscribes")
    assert (report.counts.applied, report.counts.rejected) == (3, 0)
    assert sum(report.untrusted_dates.values()) == 2
    consents = crm_state(crm).consents
    assert [consents[(entity_id(i), "newsletter-nl")][:2] for i in (1, 2, 3)] == [
        ("revoked", NOW),
        ("revoked", NOW),
        ("revoked", datetime(2026, 1, 31, tzinfo=UTC)),
    ]


def test_a_row_that_finds_nobody_by_its_usable_field_holds_whom_its_unusable_field_names(crm, tmp_path):
    """Fail-safe: the id finds nobody, the address (with a zero-width character) names entity 1."""
    rows = [
        bounce("GHOST", email_of(1) + "\u200b"),  # 2 unknown; holds entity 1
        bounce(entity_id(2), email_of(2) + "\u200b"),  # 3 found by its id: no hold
        bounce("GHOST-2", "nobody\u200b@example.com"),
    ]  # 4 unknown; names nobody
    report = apply(crm, write_csv(tmp_path / "b.csv", rows))
    assert (report.counts.applied, report.counts.rejected) == (1, 2)
    assert report.held_entities == 1
    holds = table_rows(crm, crm_feedback_hold)
    assert [(h.entity_id, h.email_normalized, h.line_no) for h in holds] == [(entity_id(1), email_of(1), 2)]
    assert holds[0].reason.startswith("unknown recipient; not used: email")
    assert crm_state(crm).bounced == {entity_id(2)}

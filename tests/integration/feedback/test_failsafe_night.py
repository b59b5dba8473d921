"""Issue 12 points 0 and 8 for the SOAP feedback import (ClosedLoop exports of the Optimizely
emulator, real zeep client over HTTP, SQLite and PostgreSQL): bounces and unsubscribes whose rows
fail a check are applied when any field identifies their person, rows that cannot be applied but
name a CRM person hold them, impossible dates are replaced by the time of receipt, and the next
night's extraction leaves every one of those people out."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.platforms.base import FeedbackKind
from include.crm_sync.staging.tables import crm_entity, crm_feedback_hold
from tests.integration.extract.crm_state import add_sync_run, list_def, snapshot_rows
from tests.integration.feedback.conftest import (
    EMULATOR_EPOCH,
    LIST_CONSENTS,
    crm_state,
    default_entities,
    inject,
    rejected_rows,
    seed_crm,
    table_rows,
)
from tests.integration.feedback.test_import_emulator import RUN_NOW, iso, run_import

AT = EMULATOR_EPOCH - timedelta(minutes=5)
LONG_ID = "R" * 80  # the platform keys recipients by address; ids over 64 characters exist
#: entity id -> address of the people whose "no" fails one check or another
PEOPLE = {
    "P-DASH": "-dash@example.com",
    "P-PLUS": "+plus@example.com",
    "P-EQ": "=eq@example.com",
    "P-LONG": "long.id@example.com",
    "P-FUTURE": "future@example.com",
    "P-LIST": "odd.list@example.com",
    "P-HELD": "held@example.com",
}


def _event(kind: str, email: str, recipient_id: str = "", *, at=AT, **extra) -> dict:
    event = {
        "kind": kind,
        "recipient_id": recipient_id,
        "email": email,
        "occurred_at": iso(at),
        "exported_at": iso(AT),
        **extra,
    }
    if kind == "bounce":
        event.setdefault("category", "hardbounce")
    return event


def test_every_no_that_fails_a_check_is_applied_or_held_and_the_next_night_leaves_them_out(
    staging_engine, emulator, make_platform, tmp_path
):
    seed_crm(staging_engine, default_entities(5) + list(PEOPLE.items()))
    inject(
        emulator,
        [
            # formula guard on the address: addresses may legally start with - + =
            _event("unsubscribe", PEOPLE["P-DASH"], list_id=1001),
            _event("bounce", PEOPLE["P-PLUS"]),
            _event("unsubscribe", PEOPLE["P-EQ"], "=not-a-formula"),
            # a recipient id over 64 characters: the address identifies the person
            _event("bounce", PEOPLE["P-LONG"], LONG_ID),
            # a date that cannot be true: the no counts, from its time of receipt (the emulator, like the
            # platform, exports nothing older than its retention: 1970 is covered by test_apply_file)
            _event("bounce", PEOPLE["P-FUTURE"], at=EMULATOR_EPOCH + timedelta(days=365 * 60)),
            # an unusable list id: an unsubscribe from an unknown list revokes every marketing consent
            _event("unsubscribe", PEOPLE["P-LIST"], list_id=10**70),
            # neither the id nor the address is usable as sent: rejected, but it names a CRM person
            _event("unsubscribe", "held@example.com\u200b", "P-HELD\u200b", list_id=1001),
        ],
    )

    report = run_import(staging_engine, make_platform, tmp_path)

    bounces, unsubscribes = report.file(FeedbackKind.BOUNCES), report.file(FeedbackKind.UNSUBSCRIBES)
    assert (bounces.counts.read, bounces.counts.applied, bounces.counts.rejected) == (3, 3, 0)
    assert (unsubscribes.counts.read, unsubscribes.counts.applied, unsubscribes.counts.rejected) == (4, 3, 1)
    assert unsubscribes.held_entities == 1 and report.as_dict()["held_entities"] == 1
    assert sum(bounces.untrusted_dates.values()) == 1 and unsubscribes.untrusted_dates == {}
    (rejected,) = rejected_rows(staging_engine)
    assert rejected.reason == "neither a usable recipient id nor a usable e-mail"
    assert [(h.entity_id, h.line_no) for h in table_rows(staging_engine, crm_feedback_hold)] == [
        ("P-HELD", rejected.line_no)
    ]

    state = crm_state(staging_engine)
    assert state.bounced == {"P-PLUS", "P-LONG", "P-FUTURE"}
    assert {e for e, c in state.revoked if c == "newsletter-nl"} == {"P-DASH", "P-EQ", "P-LIST"}
    assert {c for e, c in state.revoked if e == "P-LIST"} == {"newsletter-nl", "product-updates", "events"}
    with staging_engine.connect() as conn:
        bounced_at = conn.execute(
            sa.select(crm_entity.c.bounced_at).where(crm_entity.c.entity_id == "P-FUTURE")
        ).scalar_one()
    assert bounced_at == RUN_NOW  # the time of receipt, not 2096

    # the night: none of them is extracted; the held person is counted as held
    add_sync_run(staging_engine, "night-1")
    night = extract_snapshot(staging_engine, list_def(consent="newsletter-nl"), run_id="night-1")
    kept = {row[1] for row in snapshot_rows(staging_engine, night.list_run_id)}
    assert not set(PEOPLE) & kept
    assert night.excluded["feedback_held"] == 1
    assert night.excluded["unsubscribed"] == 3 and night.excluded["entity_bounced"] == 3
    assert {f"C{i:06d}" for i in range(5)} <= kept

    # re-running the import changes nothing and adds no second hold
    run_import(staging_engine, make_platform, tmp_path, run_id="run-2")
    assert len(table_rows(staging_engine, crm_feedback_hold)) == 1
    assert LIST_CONSENTS["1001"] == "newsletter-nl"

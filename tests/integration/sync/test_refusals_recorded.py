"""Issue 12 point 0: the platform's refusals are learned. A recipient refused as unsubscribed
(addAll3 code 2) or over the bounce limit (code 4) is recorded in the CRM like code 3 already is,
so the next night's extraction leaves them out instead of sending them to be refused again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from include.crm_sync.platforms.base import AddOutcome, AddResult, Recipient
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.batch_results import BatchOutcome, record_batch
from include.crm_sync.sync.refill import RefillOptions, refill_list
from tests.integration.extract.crm_state import CrmState
from tests.integration.sync.scenario import (
    REFUSED,
    build_crm,
    list_run_row,
    make_platform,
    prepare,
    rejected,
    snapshot_list,
)

OPTIONS = RefillOptions(batch_size=10, max_parallel_calls=1, progress_every_seconds=0)


@pytest.fixture
def platform(optimizely_emulator):
    p = make_platform(optimizely_emulator.base_url)
    yield p
    p.close()


def _consents(engine: sa.Engine, entity_id: str) -> dict[str, tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.crm_consent).where(t.crm_consent.c.entity_id == entity_id))
        return {r.consent_id: (r.status, r.source) for r in rows}


def _entity(engine: sa.Engine, entity_id: str) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.crm_entity).where(t.crm_entity.c.entity_id == entity_id)).one()


def test_codes_2_and_4_are_recorded_and_the_next_night_leaves_them_out(staging_engine, platform):
    build_crm(staging_engine, 20)
    unsub_address, _ = REFUSED["R-UNSUB"]
    overflow_address, _ = REFUSED["R-OVERFLOW"]
    # a lead with the refused addresses (in another case): the platform keys recipients by address
    extra = CrmState()
    extra.entity("L-UNSUB", unsub_address.upper(), entity_type="lead")
    extra.consent("L-UNSUB", "events", "granted")  # a second marketing consent: revoked as well
    extra.consent("L-UNSUB", "service", "granted")  # not a marketing consent: kept
    extra.entity("L-OVERFLOW", overflow_address, entity_type="lead")
    with staging_engine.begin() as conn:
        conn.execute(sa.insert(t.crm_entity), extra.entities)
        conn.execute(sa.insert(t.crm_consent), extra.consents)

    night_1 = prepare(staging_engine)
    refill_list(staging_engine, platform, night_1, OPTIONS)
    assert rejected(staging_engine, night_1)["R-UNSUB"] == 2
    assert rejected(staging_engine, night_1)["R-OVERFLOW"] == 4

    # code 2: every marketing consent revoked, for the refused entity and the one sharing its address
    assert _consents(staging_engine, "R-UNSUB") == {
        "newsletter": ("revoked", "refill run-1: unsubscribed on the platform (code 2)")
    }
    assert {c: status for c, (status, _) in _consents(staging_engine, "L-UNSUB").items()} == {
        "newsletter": "revoked",
        "events": "revoked",
        "service": "granted",
    }
    # code 4: marked bounced like an overflow bounce from the import
    for entity_id in ("R-OVERFLOW", "L-OVERFLOW"):
        entity = _entity(staging_engine, entity_id)
        assert (entity.is_bounced, entity.bounce_category) == (True, "overflow")

    night_2 = prepare(staging_engine, run_id="run-2", new_run=True)
    snapshot = snapshot_list(staging_engine, night_2)
    assert not {"R-UNSUB", "L-UNSUB", "R-OVERFLOW", "L-OVERFLOW"} & set(snapshot)
    excluded = list_run_row(staging_engine, night_2)["excluded"]
    assert excluded["unsubscribed"] == 1 + 2  # X-REVOKED, R-UNSUB, L-UNSUB
    assert excluded["entity_bounced"] == 1 + 2  # X-BOUNCED, R-OVERFLOW, L-OVERFLOW
    refill_list(staging_engine, platform, night_2, OPTIONS)
    assert not {2, 4} & set(rejected(staging_engine, night_2).values())


def test_recording_a_batch_again_changes_nothing_and_a_list_consent_can_be_named(staging_engine):
    """A retried refill records its batches again: the first revocation and bounce are kept."""
    build_crm(staging_engine, 1)
    list_run_id = prepare(staging_engine)
    recipients = [
        Recipient("R-UNSUB", REFUSED["R-UNSUB"][0]),
        Recipient("R-OVERFLOW", REFUSED["R-OVERFLOW"][0]),
    ]
    outcome = BatchOutcome(
        0,
        0,
        recipients,
        [AddResult("R-UNSUB", AddOutcome.UNSUBSCRIBED), AddResult("R-OVERFLOW", AddOutcome.BOUNCE_OVERFLOW)],
    )
    record_batch(staging_engine, list_run_id, outcome, "run-1", unsubscribe_consent="events")
    assert _consents(staging_engine, "R-UNSUB") == {"newsletter": ("granted", "crm")}  # only "events" named
    record_batch(staging_engine, list_run_id, outcome, "run-1")
    before = (_consents(staging_engine, "R-UNSUB"), _entity(staging_engine, "R-OVERFLOW"))
    assert before[0]["newsletter"][0] == "revoked" and before[1].is_bounced
    record_batch(staging_engine, list_run_id, outcome, "run-1b")
    assert (_consents(staging_engine, "R-UNSUB"), _entity(staging_engine, "R-OVERFLOW")) == before

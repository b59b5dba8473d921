"""The one-off import of a Mailjet list into the CRM, over real HTTP and a real staging database
(SQLite and PostgreSQL): matching by trimmed lower-case address, leads for unknown addresses,
consent with source and time where subscribed (and not excluded), Mailjet's "no" revoking, the
CRM's "no" kept; idempotent (the second run changes nothing and says so); dry run; crash + resume."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from include.crm_sync.mailjet.initial_import import InitialImportError, import_mailjet_list, lead_id
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import CrmState
from tests.integration.mailjet.scenario import NEWS, write_crm


def _dump(engine) -> tuple[list, list]:
    with engine.connect() as conn:
        entities = conn.execute(
            sa.select(
                t.crm_entity.c.entity_id, t.crm_entity.c.entity_type, t.crm_entity.c.email_normalized
            ).order_by(t.crm_entity.c.entity_id)
        ).all()
        consents = conn.execute(
            sa.select(
                t.crm_consent.c.entity_id,
                t.crm_consent.c.consent_id,
                t.crm_consent.c.status,
                t.crm_consent.c.source,
            ).order_by(t.crm_consent.c.entity_id, t.crm_consent.c.consent_id)
        ).all()
    return list(entities), list(consents)


@pytest.fixture
def world(staging_engine, mailjet, client):
    state = CrmState()
    state.entity("known", "  Known@Example.com ", consent=None)  # trimmed + lower-cased on match
    state.entity("left", "left@example.com", consent="granted")  # unsubscribed in Mailjet since
    state.entity("crm_no", "crm-no@example.com", consent="revoked")  # the CRM's own "no"
    state.entity("excl", "excl@example.com", consent=None)
    write_crm(staging_engine, state)
    control = mailjet.control
    control.set_clock("2030-01-01T00:00:00Z", frozen=True)  # after the CRM's grant times
    client.create_list(NEWS)
    for email in (
        "KNOWN@example.com",
        "new.person@example.com",
        "left@example.com",
        "crm-no@example.com",
        "excl@example.com",
        "not-an-address",
    ):
        control.signup(NEWS, email)
    control.unsubscribe(NEWS, "left@example.com")
    control.exclude("excl@example.com")
    return staging_engine


def _status(engine, entity_id: str, consent: str = "newsletter") -> tuple | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t.crm_consent.c.status, t.crm_consent.c.source, t.crm_consent.c.granted_at).where(
                t.crm_consent.c.entity_id == entity_id, t.crm_consent.c.consent_id == consent
            )
        ).first()
    return None if row is None else tuple(row)


def test_first_import_matches_creates_leads_and_records_consents(world, client):
    report = import_mailjet_list(world, client, list_name=NEWS, consent_id="newsletter")
    assert (report.members, report.rejected, report.matched, report.leads_created) == (6, 1, 4, 1)
    status, source, granted_at = _status(world, "known")
    assert (status, source) == ("granted", f"mailjet:{NEWS}") and granted_at.year == 2030
    assert _status(world, lead_id("new.person@example.com"))[0] == "granted"
    assert _status(world, "left")[0] == "revoked"  # Mailjet's "no" reached the CRM
    assert _status(world, "crm_no")[0] == "revoked"  # the CRM's "no" kept
    assert _status(world, "excl") is None  # excluded: no marketing consent
    assert (report.consents_granted, report.consents_revoked, report.consents_kept_revoked) == (2, 1, 1)


def test_a_second_run_changes_nothing_and_says_so(world, client):
    import_mailjet_list(world, client, list_name=NEWS, consent_id="newsletter")
    before = _dump(world)
    again = import_mailjet_list(world, client, list_name=NEWS, consent_id="newsletter")
    assert again.changed == 0 and "nothing changed" in again.summary()
    assert _dump(world) == before


def test_dry_run_reports_and_writes_nothing(world, client):
    before = _dump(world)
    dry = import_mailjet_list(world, client, list_name=NEWS, consent_id="newsletter", dry_run=True)
    assert _dump(world) == before
    real = import_mailjet_list(world, client, list_name=NEWS, consent_id="newsletter")
    assert {**dry.as_dict(), "dry_run": False, "summary": ""} == {**real.as_dict(), "summary": ""}


def test_service_consent_is_granted_despite_the_marketing_exclusion(world, client):
    import_mailjet_list(world, client, list_name=NEWS, consent_id="service")
    assert _status(world, "excl", "service")[0] == "granted"


def test_unknown_consent_or_list_is_refused(world, client):
    with pytest.raises(InitialImportError, match="not a CRM consent type"):
        import_mailjet_list(world, client, list_name=NEWS, consent_id="nope")
    with pytest.raises(InitialImportError, match="no list named"):
        import_mailjet_list(world, client, list_name="Nope", consent_id="newsletter")


def test_a_crash_mid_import_resumes_without_duplicates(staging_engine, mailjet, client):
    write_crm(staging_engine, CrmState())
    list_id = client.create_list(NEWS)
    emails = [f"p{i:04d}@example.com" for i in range(2500)]
    for start in range(0, len(emails), 1000):
        client.manage(list_id, "addnoforce", [{"Email": e} for e in emails[start : start + 1000]])
    mailjet.control.add_fault("listrecipient.list", "drop", nth=2, times=0)  # the second page, always
    with pytest.raises(Exception):  # noqa: B017 - the connection is gone, whatever the client says
        import_mailjet_list(staging_engine, client, list_name=NEWS, consent_id="newsletter")
    mailjet.control.clear_faults()
    report = import_mailjet_list(staging_engine, client, list_name=NEWS, consent_id="newsletter")
    assert (report.leads_created, report.consents_already_granted) == (2500 - 1000, 1000)
    entities, consents = _dump(staging_engine)
    assert len(entities) == len(consents) == 2500

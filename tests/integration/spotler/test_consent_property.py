"""Invariants 1 and 8 for Spotler, as a property over random CRM states and random "no"s made in
Spotler, across two nights of feedback import -> extract -> membership sync:

* nobody is in the audience whose consent is not granted, who is bounced (in the CRM or hard in
  Spotler), or who opted out in Spotler -- whatever the CRM says later (a re-grant does not undo a
  Spotler opt-out: no add that re-subscribes is ever sent);
* everybody else is in it (the audience is exactly the eligible people, so the property cannot pass
  by leaving the audience empty).

The oracle is plain Python from the rules; it knows nothing of the SQL or the record.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.crm_sync.feedback import import_feedback
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import CrmState, clear_staging
from tests.integration.spotler.scenario import AUDIENCE, audience, make_platform, prepare, sync

PEOPLE = [f"P{i}" for i in range(8)]


@dataclass(frozen=True)
class Person:
    consent: str | None  # night 1: granted | revoked | None (no consent row)
    crm_bounced: bool
    spotler_optout_before: bool  # a contact already in Spotler and opted out there
    #: made and opted out in Spotler after night 1's feedback import, before its sync: the feedback
    #: import cannot have seen it, only the upsert's CONTACT_OPTOUT tells
    spotler_optout_race: bool
    consent_night2: str  # same | granted | revoked
    spotler_optout_night2: bool  # opts out in Spotler after night 1 (if Spotler knows the contact)
    spotler_bounce_night2: str | None  # HARDBOUNCE | SOFTBOUNCE | None


person = st.builds(
    Person,
    consent=st.sampled_from(["granted"] * 4 + ["revoked", None]),
    crm_bounced=st.sampled_from([False] * 5 + [True]),
    spotler_optout_before=st.sampled_from([False] * 3 + [True]),
    spotler_optout_race=st.sampled_from([False] * 3 + [True]),
    consent_night2=st.sampled_from(["same"] * 3 + ["granted", "revoked"]),
    spotler_optout_night2=st.sampled_from([False] * 3 + [True]),
    spotler_bounce_night2=st.sampled_from([None] * 3 + ["HARDBOUNCE", "SOFTBOUNCE"]),
)


def email(entity_id: str) -> str:
    return f"{entity_id.lower()}@example.com"


def night(engine, spotler, tmp_path, run_id: str, between=lambda: None) -> None:
    platform = make_platform(spotler)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.sync_run).values(
                run_id=run_id, status="running", feedback_ok=False, started_at=sa.func.now()
            )
        )
    import_feedback(
        engine, platform, landing_dir=tmp_path / run_id, run_id=run_id, list_consents={AUDIENCE: "newsletter"}
    )
    with engine.begin() as conn:
        conn.execute(sa.update(t.sync_run).where(t.sync_run.c.run_id == run_id).values(feedback_ok=True))
    between()
    sync(engine, platform, prepare(engine, run_id), tmp_path, run_id=run_id)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=st.fixed_dictionaries({p: person for p in PEOPLE}))
def test_the_audience_is_exactly_the_eligible_people_over_two_nights(
    sqlite_engine, spotler, tmp_path, people
):
    engine = sqlite_engine
    clear_staging(engine)
    spotler.control.reset()
    state = CrmState()
    for entity_id, p in people.items():
        state.entity(entity_id, email(entity_id), consent=p.consent, is_bounced=p.crm_bounced)
        if p.spotler_optout_before:
            spotler.control.add_contacts(
                [{"externalId": entity_id, "properties": {"email": email(entity_id)}}]
            )
            spotler.control.opt_out(entity_id)
    state.write(engine, run_id="seed")
    opted_out = {e for e, p in people.items() if p.spotler_optout_before}
    hard_bounced = {e for e, p in people.items() if p.crm_bounced}
    consent = {e: p.consent for e, p in people.items()}

    def eligible() -> set[str]:
        return {e for e in PEOPLE if consent[e] == "granted" and e not in opted_out | hard_bounced}

    racing = {e for e, p in people.items() if p.spotler_optout_race and not p.spotler_optout_before}

    def race() -> None:
        for entity_id in sorted(racing):
            spotler.control.add_contacts(
                [{"externalId": entity_id, "properties": {"email": email(entity_id)}}]
            )
            spotler.control.opt_out(entity_id)

    night(engine, spotler, tmp_path, "night-1", between=race)
    # an opt-out in Spotler came back as a revoked consent (marketing-wide): through the feedback
    # import, or (racing) through the upsert's answer -- then only where the snapshot held them
    consent.update({e: "revoked" for e in opted_out if consent[e] is not None})
    consent.update({e: "revoked" for e in racing if consent[e] == "granted" and e not in hard_bounced})
    opted_out |= racing
    assert audience(spotler) == eligible()

    known_in_spotler = {c["externalId"] for c in spotler.control.state()["contacts"]}
    with engine.begin() as conn:
        for entity_id, p in people.items():
            if p.consent_night2 != "same" and consent[entity_id] is not None:
                conn.execute(
                    sa.update(t.crm_consent)
                    .where(t.crm_consent.c.entity_id == entity_id)
                    .values(status=p.consent_night2)
                )
                consent[entity_id] = p.consent_night2
    for entity_id, p in people.items():
        if entity_id not in known_in_spotler:
            continue
        if p.spotler_optout_night2:
            spotler.control.opt_out(entity_id)
            opted_out.add(entity_id)
            if consent[entity_id] is not None:
                consent[entity_id] = "revoked"
        if p.spotler_bounce_night2:
            spotler.control.add_bounce(entity_id, p.spotler_bounce_night2)
            if p.spotler_bounce_night2 == "HARDBOUNCE":
                hard_bounced.add(entity_id)
    night(engine, spotler, tmp_path, "night-2")
    assert audience(spotler) == eligible()

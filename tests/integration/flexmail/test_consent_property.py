"""The consent invariant for Flexmail as a hypothesis property, over two nights of random CRM states
and Flexmail unsubscribes: after feedback + sync, each label is carried by exactly the contacts
that hold the list's consent, have not bounced, are in the selection and are not blacklisted in
Flexmail -- every label that must go is removed, and no blacklisted contact is labelled."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.crm_sync.staging import tables as t
from include.crm_sync.staging.engine import create_staging_engine
from tests.integration.extract.crm_state import add_sync_run
from tests.integration.flexmail.crm import build_crm, email, feedback, pid, prepare, sync
from tests.integration.flexmail.scenario import HONDEN, KATTEN

person = st.fixed_dictionaries(
    {
        "newsletter": st.booleans(),
        "events": st.booleans(),
        "dutch": st.booleans(),
        "bounced": st.booleans(),
        "blacklist": st.booleans(),  # unsubscribes in Flexmail this night
    }
)
nights = st.integers(min_value=1, max_value=6).flatmap(
    lambda n: st.lists(st.lists(person, min_size=n, max_size=n), min_size=2, max_size=2)
)


def apply_night(engine, flexmail, night, blacklisted: set[int]) -> None:
    with engine.begin() as conn:
        for i, p in enumerate(night):
            for consent in ("newsletter", "events"):
                conn.execute(
                    sa.update(t.crm_consent)
                    .where(t.crm_consent.c.entity_id == pid(i), t.crm_consent.c.consent_id == consent)
                    .values(status="granted" if p[consent] else "revoked")
                )
            conn.execute(
                sa.update(t.crm_entity)
                .where(t.crm_entity.c.entity_id == pid(i))
                .values(language="nl" if p["dutch"] else "fr", is_bounced=p["bounced"])
            )
    for i, p in enumerate(night):
        if p["blacklist"] and i not in blacklisted:
            blacklisted.add(i)
            if any(c["email"] == email(i) for c in flexmail.control.state()["contacts"]):
                flexmail.control.unsubscribe(email(i))
            else:
                flexmail.control.add_contacts([{"email": email(i), "blacklisted": True}])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=nights)
def test_labels_equal_the_consent_scoped_selection_every_night(sqlite_template, flexmail, plan):
    flexmail.control.reset()
    flexmail.control.set_clock("2026-12-07T01:00:00Z", frozen=True)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(sqlite_template, Path(tmp) / "staging.db")
        engine = create_staging_engine(f"sqlite:///{tmp}/staging.db")
        try:
            n = len(plan[0])
            build_crm(engine, n)
            blacklisted: set[int] = set()
            for night_no, night in enumerate(plan, start=1):
                run_id = f"run-{night_no}"
                if night_no > 1:
                    add_sync_run(engine, run_id)
                apply_night(engine, flexmail, night, blacklisted)
                feedback(engine, flexmail, Path(tmp) / "landing", run_id)
                sync(engine, flexmail, prepare(engine, run_id), run_id=run_id)
                dogs = {
                    email(i)
                    for i, p in enumerate(night)
                    if p["newsletter"] and p["dutch"] and not p["bounced"] and i not in blacklisted
                }
                cats = {
                    email(i)
                    for i, p in enumerate(night)
                    if p["events"] and not p["bounced"] and i not in blacklisted
                }
                assert set(flexmail.control.label_members(HONDEN)) - {"an.peeters@example.com"} == dogs
                assert set(flexmail.control.label_members(KATTEN)) == cats
        finally:
            engine.dispose()

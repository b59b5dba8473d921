"""Property: over random CRM states and random Mailjet-side unsubscribes and exclusions, across two
nights, newsletter and service never mix -- the newsletter list's subscribed members all hold the
newsletter consent and the service list's the service consent -- and nobody's "no" made in Mailjet
is undone (an unsubscribed membership never becomes subscribed; ``addforce`` is never sent).
Real HTTP to the emulator and a real SQLite staging database per example."""

from __future__ import annotations

import shutil
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.crm_sync.staging.engine import create_staging_engine
from tests.integration.extract.crm_state import CrmState
from tests.integration.mailjet.scenario import NEWS, SERVICE, consents, make_platform, night, write_crm

STATUS = st.sampled_from(["granted", "revoked", None])
PEOPLE = st.lists(st.tuples(STATUS, STATUS), min_size=1, max_size=8)
#: Mailjet-side events between the nights: (person index, what)
EVENTS = st.lists(
    st.tuples(st.integers(0, 7), st.sampled_from(["unsub_news", "unsub_service", "exclude", "signup_news"])),
    max_size=6,
)


def _subscribed(mailjet, name: str) -> set[str]:
    return {e for e, m in mailjet.control.members(name).items() if not m["unsubscribed"]}


def _unsubscribed(mailjet, name: str) -> set[str]:
    return {e for e, m in mailjet.control.members(name).items() if m["unsubscribed"]}


def _check_no_mix(engine, mailjet) -> None:
    status = consents(engine)
    for name, consent in ((NEWS, "newsletter"), (SERVICE, "service")):
        for email in _subscribed(mailjet, name):
            entity = email.split("@")[0]
            if entity.startswith("p"):  # a CRM person (sign-ups made in Mailjet are "x..." addresses)
                assert status.get((entity, consent)) == "granted", (name, email)


@pytest.mark.usefixtures("mailjet_enabled")
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=PEOPLE, events=EVENTS)
def test_consents_never_mix_and_no_no_is_undone(mailjet_server, sqlite_template, tmp_path, people, events):
    mailjet = mailjet_server
    mailjet.control.reset()
    mailjet.control.set_clock("2026-12-01T02:00:00Z", frozen=True)
    mailjet.emulator.state.job_seconds = 0.0
    work = tmp_path / uuid.uuid4().hex  # one database and landing folder per example
    work.mkdir()
    path = work / "staging.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_staging_engine(f"sqlite:///{path}")
    try:
        state = CrmState()
        for i, (news, service) in enumerate(people):
            state.entity(f"p{i}", f"p{i}@Example.com", consent=news)
            if service is not None:
                state.consent(f"p{i}", "service", service)
        write_crm(engine, state)
        platform = make_platform(mailjet, engine)
        night(engine, platform, "run-1", work)
        _check_no_mix(engine, mailjet)

        mailjet.control.advance_clock(3600)
        for index, what in events:
            email = f"p{index % len(people)}@example.com"
            if what == "unsub_news":
                mailjet.control.unsubscribe(NEWS, email)
            elif what == "unsub_service":
                mailjet.control.unsubscribe(SERVICE, email)
            elif what == "exclude":
                mailjet.control.signup(SERVICE, f"x{index}@example.com")  # ensure a contact exists
                try:
                    mailjet.control.exclude(email)
                except Exception:  # noqa: BLE001 - not a Mailjet contact: nothing to exclude
                    pass
            else:
                mailjet.control.signup(NEWS, f"x{index}@example.com")
        mailjet.control.advance_clock(60)
        said_no = {(NEWS, e) for e in _unsubscribed(mailjet, NEWS)} | {
            (SERVICE, e) for e in _unsubscribed(mailjet, SERVICE)
        }

        night(engine, platform, "run-2", work)
        _check_no_mix(engine, mailjet)
        for name, email in said_no:
            assert email not in _subscribed(mailjet, name), (name, email)
        assert "action.addforce" not in mailjet.control.calls()
    finally:
        engine.dispose()

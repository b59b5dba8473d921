"""The incremental Mailjet run (only adds, both ways) over real HTTP and a real staging database:
new consented CRM profiles reach the list of THEIR consent with addnoforce, Mailjet sign-ups reach
the CRM with the list's consent, a re-run changes nothing, the nightly sync afterwards stays
incremental, an unsubscribe in Mailjet is never undone, and every write is under the list lock."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from include.crm_sync.mailjet.incremental import run_incremental
from include.crm_sync.mailjet.initial_import import lead_id
from include.crm_sync.staging import tables as t
from tests.integration.extract.crm_state import CrmState
from tests.integration.mailjet.scenario import (
    NEWS,
    SERVICE,
    consents,
    insert_people,
    make_platform,
    night,
    write_crm,
)

pytestmark = pytest.mark.usefixtures("mailjet_enabled")
LISTS = [(NEWS, "newsletter"), (SERVICE, "service")]


def _now(mailjet) -> datetime:
    return datetime.fromtimestamp(mailjet.emulator.clock.now(), UTC)


def _grant_new(engine, mailjet, people: dict[str, tuple[str | None, str | None]]) -> None:
    state = CrmState()
    for entity_id, (news, service) in people.items():
        state.entity(entity_id, f"{entity_id}@Example.com", consent=news)
        if service is not None:
            state.consent(entity_id, "service", service)
    for row in state.consents:  # granted "now" on the emulator's clock
        row["updated_at"] = row["granted_at"] = _now(mailjet)
    insert_people(engine, state)


@pytest.fixture
def nightly_done(staging_engine, mailjet, tmp_path):
    write_crm(
        staging_engine, CrmState().entity("old", "old@example.com").consent("old", "service", "granted")
    )
    platform = make_platform(mailjet, staging_engine)
    night(staging_engine, platform, "run-1", tmp_path)
    mailjet.control.advance_clock(900)
    return platform


def test_new_profiles_reach_the_list_of_their_consent_only(staging_engine, mailjet, nightly_done, tmp_path):
    _grant_new(staging_engine, mailjet, {"n": ("granted", None), "s": (None, "granted")})
    mailjet.control.advance_clock(60)
    reports = run_incremental(staging_engine, nightly_done, LISTS, now=_now(mailjet))
    assert [r.profiles_added for r in reports] == [1, 1]
    assert set(mailjet.control.members(NEWS)) == {"old@example.com", "n@example.com"}
    assert set(mailjet.control.members(SERVICE)) == {"old@example.com", "s@example.com"}
    again = run_incremental(staging_engine, nightly_done, LISTS, now=_now(mailjet))  # idempotent
    assert [r.profiles_added for r in again] == [0, 0]
    mailjet.control.advance_clock(3600)
    following = night(staging_engine, nightly_done, "run-2", tmp_path)
    assert following.reports["news_mj"].mode == "incremental"  # the record knew the incremental adds
    assert following.reports["news_mj"].added == following.reports["news_mj"].removed == 0
    assert "action.addforce" not in mailjet.control.calls()


def test_signups_in_mailjet_reach_the_crm_with_the_list_consent(
    staging_engine, mailjet, nightly_done, tmp_path
):
    mailjet.control.signup(NEWS, "Fresh@Example.com")
    mailjet.control.signup(SERVICE, "old@example.com")  # known address: service consent kept as is
    mailjet.control.advance_clock(60)
    reports = run_incremental(staging_engine, nightly_done, LISTS, now=_now(mailjet))
    assert reports[0].signups["leads_created"] == 1
    status = consents(staging_engine)
    assert status[(lead_id("fresh@example.com"), "newsletter")] == "granted"
    assert (lead_id("fresh@example.com"), "service") not in status  # never mixed
    assert run_incremental(staging_engine, nightly_done, LISTS, now=_now(mailjet))[0].signups["changed"] == 0
    mailjet.control.advance_clock(3600)
    following = night(staging_engine, nightly_done, "run-2", tmp_path)
    assert "fresh@example.com" in mailjet.control.members(NEWS)  # the nightly keeps the sign-up
    assert following.reports["news_mj"].mode == "incremental"  # ... and trusts its record
    assert following.reports["news_mj"].added == 0


def test_a_mailjet_unsubscribe_is_never_undone_by_the_incremental_adds(staging_engine, mailjet, nightly_done):
    mailjet.control.unsubscribe(NEWS, "late@example.com")  # unsubscribed in Mailjet ...
    _grant_new(staging_engine, mailjet, {"late": ("granted", None)})  # ... while the CRM says yes
    mailjet.control.advance_clock(60)
    run_incremental(staging_engine, nightly_done, [(NEWS, "newsletter")], now=_now(mailjet))
    assert mailjet.control.members(NEWS)["late@example.com"]["unsubscribed"] is True
    assert "action.addforce" not in mailjet.control.calls()


def test_every_write_happens_under_the_list_lock(staging_engine, mailjet, nightly_done):
    _grant_new(staging_engine, mailjet, {"n": ("granted", None)})
    held: list[str] = []

    @contextmanager
    def busy(name: str):
        held.append(name)
        raise RuntimeError(f"{name}: another writer holds the lock")
        yield  # pragma: no cover

    before = mailjet.control.calls().get("contactslist.managemanycontacts", 0)
    with pytest.raises(RuntimeError, match="another writer"):
        run_incremental(staging_engine, nightly_done, LISTS, list_lock=busy, now=_now(mailjet))
    assert held == [NEWS]
    assert mailjet.control.calls().get("contactslist.managemanycontacts", 0) == before
    with staging_engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(t.export_watermark)
                .where(t.export_watermark.c.export_name.like("mailjet:new_profiles:%"))
            ).scalar_one()
            == 0
        )


def test_the_nightly_pre_step_imports_signups_and_adds_nothing(
    staging_engine, mailjet, nightly_done, tmp_path
):
    _grant_new(staging_engine, mailjet, {"n": ("granted", None)})
    mailjet.control.signup(NEWS, "fresh@example.com")
    mailjet.control.advance_clock(60)
    reports = run_incremental(staging_engine, nightly_done, LISTS, now=_now(mailjet), add_profiles=False)
    assert reports[0].signups["leads_created"] == 1 and reports[0].profiles_added == 0
    assert "n@example.com" not in mailjet.control.members(NEWS)
    following = night(staging_engine, nightly_done, "run-2", tmp_path)
    assert following.reports["news_mj"].mode == "incremental"  # the sign-up was recorded by step 1
    assert set(mailjet.control.members(NEWS)) == {"old@example.com", "fresh@example.com", "n@example.com"}


def test_our_own_add_is_no_signup_and_a_late_crm_unsubscribe_stays(staging_engine, mailjet, tmp_path):
    """The nightly sync adds a (Mailjet stamps the membership with the add's time). a had
    unsubscribed elsewhere before that night; the CRM learns it after the night, with the event's
    time (as the response import records it). The next sign-ups pre-step reads a's membership as
    recent, but it is our add, not a's new "yes": the revocation stays."""
    write_crm(staging_engine, CrmState().entity("a", "a@example.com"))
    platform = make_platform(mailjet, staging_engine)
    unsubscribed_at = _now(mailjet)
    mailjet.control.advance_clock(600)
    night(staging_engine, platform, "run-1", tmp_path, only="news_mj")
    assert "a@example.com" in mailjet.control.members(NEWS)
    with staging_engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent)
            .where(t.crm_consent.c.entity_id == "a", t.crm_consent.c.consent_id == "newsletter")
            .values(status="revoked", revoked_at=unsubscribed_at, updated_at=_now(mailjet))
        )
    mailjet.control.advance_clock(900)
    reports = run_incremental(staging_engine, platform, LISTS, now=_now(mailjet), add_profiles=False)
    assert consents(staging_engine)[("a", "newsletter")] == "revoked"
    assert reports[0].signups["consents_granted"] == 0
    mailjet.control.advance_clock(60)
    night(staging_engine, platform, "run-2", tmp_path, only="news_mj", fresh_run=True)
    assert "a@example.com" not in mailjet.control.members(NEWS)

"""The nightly Mailjet run over real HTTP and a real staging database (SQLite and PostgreSQL):
Mailjet's "no" comes back first, the two consents land on their own lists, an unsubscribe is never
undone (``addforce`` is never sent), and a crash or a failed job resumes to list == snapshot."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from include.crm_sync.platforms.base import AddOutcome, MembershipTarget, Recipient
from include.crm_sync.platforms.mailjet.errors import JobFailed
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


def _crm(engine, people: dict[str, tuple[str | None, str | None]]) -> None:
    """people: entity id -> (newsletter status, service status); address = <id>@example.com."""
    state = CrmState()
    for entity_id, (news, service) in people.items():
        state.entity(entity_id, f"{entity_id}@Example.com", consent=news)
        if service is not None:
            state.consent(entity_id, "service", service)
    write_crm(engine, state)


def _active(mailjet, name: str) -> set[str]:
    return {e for e, m in mailjet.control.members(name).items() if not m["unsubscribed"]}


def test_first_night_puts_each_consent_on_its_own_list(staging_engine, mailjet, tmp_path):
    _crm(
        staging_engine,
        {
            "n1": ("granted", None),
            "s1": (None, "granted"),
            "b1": ("granted", "granted"),
            "r1": ("revoked", "revoked"),
        },
    )
    platform = make_platform(mailjet, staging_engine)
    result = night(staging_engine, platform, "run-1", tmp_path)
    assert set(mailjet.control.members(NEWS)) == {"n1@example.com", "b1@example.com"}
    assert set(mailjet.control.members(SERVICE)) == {"s1@example.com", "b1@example.com"}
    assert result.reports["news_mj"].added == 2 and result.reports["service_mj"].added == 2
    again = night(staging_engine, platform, "run-2", tmp_path)  # a quiet night changes nothing
    assert again.reports["news_mj"].added == again.reports["news_mj"].removed == 0
    assert "action.addforce" not in mailjet.control.calls()


def test_the_sync_holds_no_address_in_memory_that_the_lookup_knows(staging_engine, mailjet, tmp_path):
    """Every member is upserted before the first add: holding each address until its add made the
    sync's memory grow with the list (bench: 1M contacts). The add asks the lookup instead."""
    _crm(staging_engine, {f"p{i}": ("granted", "granted") for i in range(30)})
    platform = make_platform(mailjet, staging_engine)
    platform.ensure_target(MembershipTarget(NEWS, NEWS))
    results = platform.upsert((), [Recipient(f"p{i}", f"p{i}@example.com") for i in range(30)])
    assert {r.outcome for r in results} == {AddOutcome.ADDED}
    assert platform.remembered_addresses == 0
    night(staging_engine, platform, "run-1", tmp_path)
    assert platform.remembered_addresses == 0
    assert len(_active(mailjet, NEWS)) == len(_active(mailjet, SERVICE)) == 30


def test_list_unsubscribe_revokes_that_consent_and_is_never_undone(staging_engine, mailjet, tmp_path):
    _crm(staging_engine, {"a": ("granted", "granted"), "b": ("granted", None)})
    platform = make_platform(mailjet, staging_engine)
    night(staging_engine, platform, "run-1", tmp_path)
    mailjet.control.advance_clock(3600)
    mailjet.control.unsubscribe(NEWS, "a@example.com")
    mailjet.control.advance_clock(60)
    night(staging_engine, platform, "run-2", tmp_path)
    status = consents(staging_engine)
    assert status[("a", "newsletter")] == "revoked" and status[("a", "service")] == "granted"
    assert "a@example.com" not in _active(mailjet, NEWS)
    assert "a@example.com" in _active(mailjet, SERVICE)
    assert "action.addforce" not in mailjet.control.calls()


def test_unsubscribe_racing_the_feedback_import_stays_unsubscribed(staging_engine, mailjet, tmp_path):
    """Someone unsubscribes after the feedback import read Mailjet but before the adds: the adds
    (addnoforce) keep the unsubscribe; the next night brings it to the CRM."""
    _crm(staging_engine, {"a": ("granted", None)})
    platform = make_platform(mailjet, staging_engine)
    platform.client.ensure_list(NEWS)
    # stamped after the feedback window's end: as if made while the import was already done
    mailjet.control.unsubscribe(NEWS, "a@example.com", date="+10m")
    night(staging_engine, platform, "run-1", tmp_path)
    assert mailjet.control.members(NEWS)["a@example.com"]["unsubscribed"] is True
    assert consents(staging_engine)[("a", "newsletter")] == "granted"  # not yet known to the CRM
    assert "action.addforce" not in mailjet.control.calls()


def test_global_exclusion_revokes_marketing_but_not_service(staging_engine, mailjet, tmp_path):
    _crm(staging_engine, {"a": ("granted", "granted")})
    platform = make_platform(mailjet, staging_engine)
    night(staging_engine, platform, "run-1", tmp_path)
    mailjet.control.advance_clock(600)
    mailjet.control.exclude("a@example.com")
    mailjet.control.advance_clock(60)
    night(staging_engine, platform, "run-2", tmp_path)
    status = consents(staging_engine)
    assert (status[("a", "newsletter")], status[("a", "service")]) == ("revoked", "granted")
    assert "a@example.com" not in mailjet.control.members(NEWS)
    assert "a@example.com" in _active(mailjet, SERVICE)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_during_the_adds_resumes_to_list_equals_snapshot(
    staging_engine, mailjet, tmp_path, when, fake_time
):
    _crm(staging_engine, {f"p{i}": ("granted", None) for i in range(5)})
    platform = make_platform(mailjet, staging_engine)
    night(staging_engine, platform, "run-1", tmp_path, only="news_mj")
    _crm_more = CrmState()
    for i in range(5, 9):
        _crm_more.entity(f"p{i}", f"p{i}@Example.com")
    insert_people(staging_engine, _crm_more)
    mailjet.control.add_fault("contactslist.managemanycontacts", "drop", when=when, times=0)
    with pytest.raises(Exception):  # noqa: B017 - any failure: the connection is gone
        night(
            staging_engine,
            make_platform(mailjet, staging_engine, fake_time),
            "run-2",
            tmp_path,
            only="news_mj",
        )
    mailjet.control.clear_faults()
    # a new worker (nothing in memory) resumes the same run
    resumed = night(
        staging_engine,
        make_platform(mailjet, staging_engine),
        "run-2",
        tmp_path,
        fresh_run=False,
        only="news_mj",
    )
    assert resumed.reports["news_mj"].mode == "full"
    assert set(mailjet.control.members(NEWS)) == {f"p{i}@example.com" for i in range(9)}


def test_a_job_ending_in_error_fails_the_list_and_the_next_run_completes_it(
    staging_engine, mailjet, tmp_path
):
    _crm(staging_engine, {f"p{i}": ("granted", None) for i in range(3)})
    platform = make_platform(mailjet, staging_engine)
    mailjet.control.add_fault("contactslist.managemanycontacts", "job_error")
    with pytest.raises(JobFailed):
        night(staging_engine, platform, "run-1", tmp_path, only="news_mj")
    result = night(staging_engine, platform, "run-2", tmp_path, only="news_mj")
    assert result.reports["news_mj"].mode == "full"
    assert set(mailjet.control.members(NEWS)) == {f"p{i}@example.com" for i in range(3)}


def test_a_429_storm_is_waited_out_and_the_night_completes(staging_engine, mailjet, fake_time, tmp_path):
    """Every second of Mailjet time allows 2 requests: the night needs many more, waits them out
    (on the emulator's clock, no real sleeping) and ends with both lists equal to their snapshots."""
    _crm(staging_engine, {f"p{i}": ("granted", "granted" if i % 2 else None) for i in range(12)})
    mailjet.control.set_rate_limit(2)
    platform = make_platform(mailjet, staging_engine, fake_time)
    night(staging_engine, platform, "run-1", tmp_path)
    assert len(mailjet.control.members(NEWS)) == 12 and len(mailjet.control.members(SERVICE)) == 6
    assert platform.client.rate_limited >= 5  # the storm happened ...
    assert fake_time.slept and set(fake_time.slept) <= {1.0, 2.0, 4.0}  # ... and was waited out


@pytest.mark.parametrize("nth", [1, 2, 3, 4])
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_at_every_membership_call_resumes_to_list_equals_snapshot(
    staging_engine, mailjet, tmp_path, nth, when, fake_time
):
    """Night 2 removes 3 and adds 3 (jobs of 2 contacts: 4 calls); the connection drops at the
    nth of them (before Mailjet applied it, or after); a fresh worker then resumes the run."""
    _crm(staging_engine, {f"p{i}": ("granted", None) for i in range(6)})
    night(staging_engine, make_platform(mailjet, staging_engine), "run-1", tmp_path, only="news_mj")
    with staging_engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent)
            .where(t.crm_consent.c.entity_id.in_(["p0", "p1", "p2"]))
            .values(status="revoked")
        )
    more = CrmState()
    for i in range(6, 9):
        more.entity(f"p{i}", f"p{i}@Example.com")
    insert_people(staging_engine, more)
    mailjet.control.advance_clock(3600)
    platform = make_platform(mailjet, staging_engine, fake_time)  # retry waits on a fake clock
    platform.client.max_contacts_per_job = platform.max_member_batch = 2
    mailjet.control.add_fault("contactslist.managemanycontacts", "drop", nth=nth, when=when, times=0)
    with pytest.raises(Exception):  # noqa: B017 - the connection is gone
        night(staging_engine, platform, "run-2", tmp_path, only="news_mj")
    mailjet.control.clear_faults()
    night(
        staging_engine,
        make_platform(mailjet, staging_engine),
        "run-2",
        tmp_path,
        fresh_run=False,
        only="news_mj",
    )
    assert set(mailjet.control.members(NEWS)) == {f"p{i}@example.com" for i in range(3, 9)}


def test_an_address_changed_in_the_crm_moves_the_membership(staging_engine, mailjet, tmp_path):
    """Mailjet keys contacts by address: the old address leaves the list the first night (the
    member is refused ADDRESS_CHANGED and audited), the new one joins the next; never both."""
    _crm(staging_engine, {"a": ("granted", None), "b": ("granted", None)})
    platform = make_platform(mailjet, staging_engine)
    night(staging_engine, platform, "run-1", tmp_path, only="news_mj")
    with staging_engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_entity)
            .where(t.crm_entity.c.entity_id == "a")
            .values(email="a.new@Example.com", email_normalized="a.new@example.com")
        )
    mailjet.control.advance_clock(3600)
    second = night(staging_engine, make_platform(mailjet, staging_engine), "run-2", tmp_path, only="news_mj")
    assert second.reports["news_mj"].refused == {"ADDRESS_CHANGED": 1}
    assert set(mailjet.control.members(NEWS)) == {"b@example.com"}
    mailjet.control.advance_clock(3600)
    night(staging_engine, make_platform(mailjet, staging_engine), "run-3", tmp_path, only="news_mj")
    assert set(mailjet.control.members(NEWS)) == {"a.new@example.com", "b@example.com"}


def _rejected(engine) -> list[tuple[str, int, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(t.list_rejected.c.recipient_id, t.list_rejected.c.code, t.list_rejected.c.reason)
            )
        ]


def _list_status(engine, run_id: str, list_name: str) -> str:
    with engine.connect() as conn:
        status = sa.select(t.list_run.c.status).where(
            t.list_run.c.run_id == run_id, t.list_run.c.list_name == list_name
        )
        return conn.execute(status).scalar_one()


def test_per_contact_errors_of_an_add_job_are_refusals_and_the_list_completes(
    staging_engine, mailjet, tmp_path
):
    """Mailjet completes the addnoforce job but refuses one contact (its error file): that member is
    audited as refused (list_rejected, the report's refused by code), stays out of the record, and
    the list's sync completes; once Mailjet accepts it, the next night adds it."""
    _crm(staging_engine, {f"p{i}": ("granted", None) for i in range(4)})
    mailjet.control.refuse_contact("p1@example.com", "Contact is blocked")
    first = night(staging_engine, make_platform(mailjet, staging_engine), "run-1", tmp_path, only="news_mj")
    report = first.reports["news_mj"]
    assert (report.added, report.refused, report.members) == (3, {"Contact is blocked": 1}, 3)
    assert _list_status(staging_engine, "run-1", "news_mj") == "synced"
    assert _rejected(staging_engine) == [("p1", 7, "platform: other error (Contact is blocked)")]
    assert set(mailjet.control.members(NEWS)) == {"p0@example.com", "p2@example.com", "p3@example.com"}
    mailjet.control.refuse_contact("p1@example.com", clear=True)
    mailjet.control.advance_clock(3600)
    second = night(staging_engine, make_platform(mailjet, staging_engine), "run-2", tmp_path, only="news_mj")
    assert (second.reports["news_mj"].mode, second.reports["news_mj"].added) == ("incremental", 1)
    assert set(mailjet.control.members(NEWS)) == {f"p{i}@example.com" for i in range(4)}


def test_per_contact_errors_of_a_remove_job_keep_the_member_recorded(staging_engine, mailjet, tmp_path):
    """A removal Mailjet refuses for one contact leaves it in the list and in the record (the counts
    agree, the sync completes); the next night removes it."""
    _crm(staging_engine, {f"p{i}": ("granted", None) for i in range(3)})
    night(staging_engine, make_platform(mailjet, staging_engine), "run-1", tmp_path, only="news_mj")
    with staging_engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent).where(t.crm_consent.c.entity_id == "p0").values(status="revoked")
        )
    mailjet.control.refuse_contact("p0@example.com", "Internal error")
    mailjet.control.advance_clock(3600)
    second = night(staging_engine, make_platform(mailjet, staging_engine), "run-2", tmp_path, only="news_mj")
    report = second.reports["news_mj"]
    assert (report.removed, report.refused, report.members) == (0, {"remove:Internal error": 1}, 3)
    assert _list_status(staging_engine, "run-2", "news_mj") == "synced"
    assert "p0@example.com" in mailjet.control.members(NEWS)
    mailjet.control.refuse_contact("p0@example.com", clear=True)
    mailjet.control.advance_clock(3600)
    third = night(staging_engine, make_platform(mailjet, staging_engine), "run-3", tmp_path, only="news_mj")
    assert (third.reports["news_mj"].mode, third.reports["news_mj"].removed) == ("incremental", 1)
    assert set(mailjet.control.members(NEWS)) == {"p1@example.com", "p2@example.com"}


def test_an_unsubscribe_after_the_feedback_import_survives_the_removal_that_follows(
    staging_engine, mailjet, tmp_path
):
    """`remove` deletes the membership with its IsUnsubscribed. a's address changes in the CRM, so
    tonight's sync removes the old address; a unsubscribed from the list in Mailjet after the
    feedback import had read it. The sync re-reads the list's unsubscribes right before the remove
    job: a's newsletter consent is revoked in the CRM (the service consent stays), and the next
    night does not add a's new address."""
    _crm(staging_engine, {"a": ("granted", "granted"), "b": ("granted", None)})
    night(staging_engine, make_platform(mailjet, staging_engine), "run-1", tmp_path)
    with staging_engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_entity)
            .where(t.crm_entity.c.entity_id == "a")
            .values(email="a.new@Example.com", email_normalized="a.new@example.com")
        )
    mailjet.control.advance_clock(3600)
    # stamped after the coming feedback window's end: made while the import was already done
    mailjet.control.unsubscribe(NEWS, "a@example.com", date="+10m")
    second = night(staging_engine, make_platform(mailjet, staging_engine), "run-2", tmp_path, only="news_mj")
    assert second.feedback_rows == 0  # the feedback import did not see it ...
    assert "a@example.com" not in mailjet.control.members(NEWS)  # ... and the removal erased it in Mailjet
    status = consents(staging_engine)
    assert (status[("a", "newsletter")], status[("a", "service")]) == ("revoked", "granted")
    mailjet.control.advance_clock(3600)
    night(staging_engine, make_platform(mailjet, staging_engine), "run-3", tmp_path, only="news_mj")
    assert set(mailjet.control.members(NEWS)) == {"b@example.com"}

"""``MailjetClient`` against the emulator over real HTTP (mailjet-rest 1.9.1 underneath): errors
mapped by status, 5xx retried a bounded number of times, 429 waited out and never a failure,
jobs polled to Completed / Error / past their bound, ``addforce`` never sent."""

from __future__ import annotations

import pytest

from include.crm_sync.platforms.mailjet import MailjetClient
from include.crm_sync.platforms.mailjet.errors import (
    JobFailed,
    JobTimedOut,
    MailjetCredentialsError,
    MailjetNotFound,
    MailjetRateLimited,
    MailjetRequestRefused,
    MailjetTransientError,
)
from tests.integration.mailjet.conftest import KEY


def test_wrong_secret_is_a_credentials_error_and_right_keys_pass(mailjet, client):
    client.check_credentials()
    wrong = MailjetClient(mailjet.api_url, KEY, "wrong")
    with pytest.raises(MailjetCredentialsError) as exc:
        wrong.check_credentials()
    assert exc.value.status == 401 and "wrong" not in str(exc.value).replace("wrong secret", "")


def test_4xx_is_raised_at_once_without_retry(mailjet, client):
    with pytest.raises(MailjetNotFound):
        client.wait_job(12345, 1, 1)
    assert mailjet.control.calls()["contactslist.managemanycontacts.get"] == 1
    assert client.delete_list(12345) is False
    client.create_list("News")
    with pytest.raises(MailjetRequestRefused):
        client.create_list("News")
    assert mailjet.control.calls()["contactslist.create"] == 2


def test_ensure_list_finds_by_unique_name_or_creates(mailjet, client):
    first, created = client.ensure_list("Newsletter")
    again, created_again = client.ensure_list("Newsletter")
    assert (first, created, created_again) == (again, True, False)


def test_5xx_is_retried_then_raised_when_attempts_are_used_up(mailjet, client):
    mailjet.control.add_fault("contactslist.list", "http503", times=2)
    assert client.find_list("nothing") is None
    mailjet.control.add_fault("contactslist.list", "http500", times=0)
    with pytest.raises(MailjetTransientError) as exc:
        client.find_list("nothing")
    assert exc.value.status == 500
    assert mailjet.control.calls()["contactslist.list"] == 3 + 3


def test_a_429_storm_is_waited_out_and_never_fails(mailjet, client, fake_time):
    mailjet.control.add_fault("contactslist.list", "http429", times=25)
    assert client.find_list("nothing") is None  # 25 refusals, more than max_attempts
    assert client.rate_limited == 25 and fake_time.slept == [1.0] * 25  # Retry-After: 1 honoured


def test_the_per_second_limit_is_waited_out_across_many_calls(mailjet, client, fake_time):
    mailjet.control.set_rate_limit(3)
    list_id = client.create_list("News")
    for i in range(4):
        client.manage(list_id, "addnoforce", [{"Email": f"p{i}@example.com"}])
    assert len(mailjet.control.members("News")) == 4
    assert client.rate_limited > 0  # the limit was hit, and waited out


def test_429_beyond_its_budget_raises_a_transient_error(mailjet, client):
    mailjet.control.add_fault("contactslist.list", "http429", times=0)
    with pytest.raises(MailjetRateLimited):
        client.find_list("nothing")


def test_job_completes_after_polling_over_emulated_time(mailjet, client, fake_time):
    mailjet.emulator.state.job_seconds = 10
    list_id = client.create_list("News")
    result = client.manage(list_id, "addnoforce", [{"Email": "a@example.com"}, {"Email": "broken"}])
    assert result.status == "Completed" and result.errors == (("broken", "Invalid email address"),)
    assert sum(fake_time.slept) >= 10


def test_job_ending_in_error_raises_job_failed(mailjet, client):
    list_id = client.create_list("News")
    mailjet.control.add_fault("contactslist.managemanycontacts", "job_error")
    with pytest.raises(JobFailed):
        client.manage(list_id, "addnoforce", [{"Email": "a@example.com"}])
    assert mailjet.control.members("News") == {}


def test_job_hanging_past_its_bound_raises_job_timed_out(mailjet, client, fake_time):
    list_id = client.create_list("News")
    mailjet.control.add_fault("contactslist.managemanycontacts", "job_hang")
    with pytest.raises(JobTimedOut):
        client.manage(list_id, "addnoforce", [{"Email": "a@example.com"}])
    assert 60 <= fake_time.now <= 64  # bounded: gave up at max_wait, the waits doubling up to 4s


def test_addforce_is_refused_before_anything_is_sent(mailjet, client):
    list_id = client.create_list("News")
    with pytest.raises(ValueError, match="addforce"):
        client.manage(list_id, "addforce", [{"Email": "a@example.com"}])
    assert "action.addforce" not in mailjet.control.calls()


def test_a_dropped_connection_after_the_job_was_accepted_is_retried(mailjet, client):
    list_id = client.create_list("News")
    mailjet.control.add_fault("contactslist.managemanycontacts", "drop", when="after")
    client.manage(list_id, "addnoforce", [{"Email": "a@example.com"}])
    assert set(mailjet.control.members("News")) == {"a@example.com"}
    assert mailjet.control.calls()["action.addnoforce"] == 2  # sent twice; addnoforce is idempotent


def test_members_are_read_with_addresses_across_pages(mailjet, client):
    from include.crm_sync.platforms.mailjet.members import list_members

    list_id = client.create_list("News")
    emails = [f"p{i:04d}@example.com" for i in range(2300)]
    for start in range(0, len(emails), 1000):
        client.manage(list_id, "addnoforce", [{"Email": e} for e in emails[start : start + 1000]])
    mailjet.control.unsubscribe("News", "p0042@example.com")
    members = list(list_members(client, list_id))
    assert [m.email for m in members] == emails
    assert [m.email for m in members if m.unsubscribed] == ["p0042@example.com"]
    assert client.membership_count(list_id) == 2300

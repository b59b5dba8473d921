"""The Mailjet emulator's documented behaviours over real HTTP with the official client
(mailjet-rest 1.9.1): auth, envelope and paging, unique list names, contacts by address, the four
actions, jobs over emulated time, CSV import, metadata, the rate limit, faults and the control."""

from __future__ import annotations

import mailjet_rest
import pytest
import requests
from mailjet_rest.errors import ApiError, ApiRateLimitError, MailjetAuthError, ValidationError

from tests.integration.emulator_mailjet.conftest import KEY, SECRET, make_list


def _job(client, list_id: int, action: str, emails: list[str]) -> dict:
    job_id = client.contactslist_managemanycontacts.create(
        id=list_id, data={"Action": action, "Contacts": [{"Email": e} for e in emails]}
    ).json()["Data"][0]["JobID"]
    return client.contactslist_managemanycontacts.get(id=list_id, action_id=job_id).json()["Data"][0]


def test_basic_auth_is_required_and_checked(mailjet, client):
    with pytest.raises(MailjetAuthError) as wrong:
        mailjet_rest.Client(auth=(KEY, "nope"), version="v3", api_url=mailjet.api_url).contactslist.get()
    assert wrong.value.status_code == 401
    plain = requests.get(f"{mailjet.api_url}v3/REST/contactslist", timeout=10)
    assert plain.status_code == 401 and plain.json()["StatusCode"] == 401
    assert client.contactslist.get().status_code == 200


def test_envelope_paging_limit_and_count_only(client):
    for i in range(25):
        make_list(client, f"list {i:02d}")
    page = client.contactslist.get(filters={"Limit": 10, "Offset": 20}).json()
    assert (page["Count"], page["Total"]) == (5, 25)
    assert [x["Name"] for x in page["Data"]] == [f"list {i}" for i in range(20, 25)]
    assert client.contactslist.get().json()["Count"] == 10  # default Limit
    count = client.contactslist.get(filters={"countOnly": 1}).json()
    assert (count["Total"], count["Data"]) == (25, [])
    with pytest.raises(ValidationError):
        client.contactslist.get(filters={"Limit": 1001})
    assert client.contactslist.get(filters={"Limit": 1000}).json()["Count"] == 25


def test_list_names_are_unique_and_found_by_name(client):
    list_id = make_list(client, "Newsletter")
    with pytest.raises(ValidationError) as exc:
        client.contactslist.create(data={"Name": "Newsletter"})
    assert "already exists" in exc.value.response_body
    found = client.contactslist.get(filters={"Name": "Newsletter"}).json()["Data"]
    assert [x["ID"] for x in found] == [list_id]


def test_contacts_are_keyed_by_address_and_put_behaves_like_patch(client):
    created = client.contact.create(data={"Email": "Ann@Example.com", "Name": "Ann"}).json()["Data"][0]
    with pytest.raises(ValidationError):
        client.contact.create(data={"Email": "ann@example.com"})
    client.contact.update(id="ann@example.com", data={"IsExcludedFromCampaigns": True})
    by_id = client.contact.get(id=created["ID"]).json()["Data"][0]
    assert by_id["Name"] == "Ann" and by_id["IsExcludedFromCampaigns"] is True  # Name kept: PATCH
    excluded = client.contact.get(filters={"IsExcludedFromCampaigns": "true"}).json()["Data"]
    assert [c["Email"] for c in excluded] == ["Ann@Example.com"]


def test_the_four_actions(mailjet, client):
    list_id = make_list(client, "News")
    assert _job(client, list_id, "addnoforce", ["a@x.com", "b@x.com"])["Status"] == "Completed"
    mailjet.control.unsubscribe("News", "a@x.com")
    _job(client, list_id, "addnoforce", ["a@x.com"])  # keeps the unsubscribe
    assert mailjet.control.members("News")["a@x.com"]["unsubscribed"] is True
    _job(client, list_id, "addforce", ["a@x.com"])  # clears it
    assert mailjet.control.members("News")["a@x.com"]["unsubscribed"] is False
    _job(client, list_id, "unsub", ["b@x.com"])
    assert mailjet.control.members("News")["b@x.com"]["unsubscribed"] is True
    _job(client, list_id, "remove", ["b@x.com"])
    assert set(mailjet.control.members("News")) == {"a@x.com"}
    calls = mailjet.control.calls()
    assert (calls["action.addnoforce"], calls["action.addforce"], calls["action.remove"]) == (2, 1, 1)


def test_listrecipient_filters_and_getcontactslists(mailjet, client):
    news, service = make_list(client, "News"), make_list(client, "Service")
    _job(client, news, "addnoforce", ["a@x.com", "b@x.com"])
    _job(client, service, "addnoforce", ["a@x.com"])
    mailjet.control.unsubscribe("News", "b@x.com")
    rows = client.listrecipient.get(filters={"ContactsList": news, "Limit": 1000}).json()["Data"]
    assert {r["IsUnsubscribed"] for r in rows} == {True, False} and len(rows) == 2
    unsub = client.listrecipient.get(filters={"ContactsList": news, "IsUnsubscribed": "true"}).json()
    assert unsub["Count"] == 1 and unsub["Data"][0]["UnsubscribedAt"]
    active = client.listrecipient.get(filters={"ContactsList": news, "IsActive": "true"}).json()
    assert active["Count"] == 1
    lists = client.contact_getcontactslists.get(id="a@x.com").json()["Data"]
    assert {x["ListID"] for x in lists} == {news, service}
    members = client.contact.get(filters={"ContactsList": news, "Limit": 1000}).json()["Data"]
    assert {m["Email"] for m in members} == {"a@x.com", "b@x.com"}


def test_jobs_progress_over_emulated_time_with_per_contact_errors(mailjet, client):
    mailjet.control.set_clock("2026-12-01T00:00:00Z", frozen=True)
    mailjet.emulator.state.job_seconds = 8.0
    list_id = make_list(client, "News")
    job = _job(client, list_id, "addnoforce", ["ok@x.com", "not-an-address"])
    seen = [job["Status"]]
    for _ in range(4):
        mailjet.control.advance_clock(2.0)
        seen.append(
            client.contactslist_managemanycontacts.get(id=list_id, action_id=job["JobID"]).json()["Data"][0][
                "Status"
            ]
        )
    assert seen == ["Allocated", "Upload", "Prepare", "Importing", "Completed"]
    assert set(mailjet.control.members("News")) == {"ok@x.com"}
    final = client.contactslist_managemanycontacts.get(id=list_id, action_id=job["JobID"]).json()["Data"][0]
    assert final["ErrorCount"] == 1
    errors = client.batchjob_csverror.get(id=job["JobID"]).text
    assert "not-an-address" in errors


def test_job_error_and_hang_faults(mailjet, client):
    list_id = make_list(client, "News")
    mailjet.control.add_fault("contactslist.managemanycontacts", "job_error")
    assert _job(client, list_id, "addnoforce", ["a@x.com"])["Status"] == "Error"
    assert mailjet.control.members("News") == {}
    mailjet.control.add_fault("contactslist.managemanycontacts", "job_hang")
    job = _job(client, list_id, "addnoforce", ["a@x.com"])
    mailjet.control.advance_clock(3600)
    again = client.contactslist_managemanycontacts.get(id=list_id, action_id=job["JobID"]).json()["Data"][0]
    assert again["Status"] == "Importing" and mailjet.control.members("News") == {}


def test_contact_managemanycontacts_for_several_lists(mailjet, client):
    news, service = make_list(client, "News"), make_list(client, "Service")
    job_id = client.contact_managemanycontacts.create(
        data={
            "ContactsLists": [
                {"ListID": news, "Action": "addnoforce"},
                {"ListID": service, "Action": "remove"},
            ],
            "Contacts": [{"Email": "a@x.com"}],
        }
    ).json()["Data"][0]["JobID"]
    assert client.contact_managemanycontacts.get(id=job_id).json()["Data"][0]["Status"] == "Completed"
    assert set(mailjet.control.members("News")) == {"a@x.com"} and mailjet.control.members("Service") == {}


def test_csv_import_path(mailjet, client):
    list_id = make_list(client, "News")
    data_id = client.contactslist_csvdata.create(id=list_id, data="email\nc@x.com\nbroken\n").json()["ID"]
    job = client.csvimport.create(data={"ContactsListID": list_id, "DataID": data_id, "Method": "addnoforce"})
    document = job.json()["Data"][0]
    assert (document["Status"], document["Errcount"]) == ("Completed", 1)
    assert client.csvimport.get(id=document["ID"]).json()["Data"][0]["Status"] == "Completed"
    assert "broken" in client.batchjob_csverror.get(id=document["ID"]).text
    assert set(mailjet.control.members("News")) == {"c@x.com"}
    data_id = client.contactslist_csvdata.create(id=list_id, data="email\nc@x.com\n").json()["ID"]
    client.csvimport.create(data={"DataID": data_id, "Method": "excludemarketing"})
    assert client.contact.get(id="c@x.com").json()["Data"][0]["IsExcludedFromCampaigns"] is True


def test_contact_metadata(client):
    client.contactmetadata.create(data={"Name": "crm_id", "Datatype": "str", "NameSpace": "static"})
    with pytest.raises(ValidationError):
        client.contactmetadata.create(data={"Name": "crm_id", "Datatype": "str"})
    with pytest.raises(ValidationError):
        client.contactmetadata.create(data={"Name": "x", "Datatype": "blob"})
    assert [m["Name"] for m in client.contactmetadata.get().json()["Data"]] == ["crm_id"]


def test_rate_limit_per_key_per_second_of_the_emulator_clock(mailjet, client):
    mailjet.control.set_clock("2026-12-01T00:00:00Z", frozen=True)
    mailjet.control.set_rate_limit(3)
    for _ in range(3):
        client.contactslist.get()
    with pytest.raises(ApiRateLimitError) as exc:
        client.contactslist.get()
    assert exc.value.status_code == 429
    raw = requests.get(f"{mailjet.api_url}v3/REST/contactslist", auth=(KEY, SECRET), timeout=10)
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "1"
    mailjet.control.advance_clock(1)
    assert client.contactslist.get().status_code == 200


def test_client_raises_typed_errors_for_4xx_and_a_generic_one_for_5xx(mailjet, client):
    """mailjet-rest 1.9.1 raises (it does not return the response) for 4xx and 5xx; 5xx carries
    no status of its own, only the ``requests`` error it wraps."""
    with pytest.raises(mailjet_rest.errors.DoesNotExistError):
        client.contactslist.get(id=999)
    mailjet.control.add_fault("contactslist.list", "http503")
    with pytest.raises(ApiError) as exc:
        client.contactslist.get()
    assert exc.value.__cause__.response.status_code == 503
    mailjet.control.add_fault("contactslist.list", "http429")
    with pytest.raises(ApiRateLimitError):
        client.contactslist.get()


def test_control_makes_signups_and_exclusions_and_counts_calls(mailjet, client):
    make_list(client, "News")
    mailjet.control.signup("News", "new@x.com", name="New")
    mailjet.control.exclude("new@x.com")
    state = mailjet.control.state()
    assert state["lists"][0]["members"][0]["excluded"] is True
    assert state["calls"] == {"contactslist.create": 1}

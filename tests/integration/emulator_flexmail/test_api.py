"""The Flexmail emulator over real HTTP: HAL paging, Basic auth, labels (409, removal), imports that
progress on the emulated clock and only add labels, blacklisted contacts, the rate limit, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import requests

from tests.integration.emulator_flexmail.conftest import ACCOUNT, TOKEN

HONDEN, KATTEN, NIEUWSBRIEF = 101, 102, 103


def url(api: requests.Session, path: str) -> str:
    return api.base_url + path  # type: ignore[attr-defined]


def test_interest_labels_in_hal_with_paging(api):
    page = api.get(url(api, "/interest-labels"), params={"limit": 2, "offset": 0}).json()
    assert [i["name"] for i in page["_embedded"]["item"]] == ["Honden", "Katten"]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    rest = api.get(url(api, "/interest-labels"), params={"limit": 2, "offset": 2}).json()
    assert [i["name"] for i in rest["_embedded"]["item"]] == ["Nieuwsbrief"]
    empty = api.get(url(api, "/interest-labels"), params={"limit": 2, "offset": 3}).json()
    assert "_embedded" not in empty and empty["total"] == 3
    assert api.get(url(api, "/interest-labels"), params={"limit": 501}).status_code == 400


def test_basic_auth(api, flexmail):
    base = flexmail.base_url + "/interest-labels"
    assert requests.get(base, timeout=5).status_code == 401
    assert requests.get(base, auth=(ACCOUNT, "wrong"), timeout=5).status_code == 403
    assert requests.get(base, auth=("1", TOKEN), timeout=5).status_code == 403
    assert requests.get(base, auth=(ACCOUNT, TOKEN), timeout=5).status_code == 200


def test_search_contact_by_email_and_blacklisted_filter(api):
    found = api.get(url(api, "/contacts"), params={"email": "AN.peeters@example.com"}).json()
    assert [c["id"] for c in found["_embedded"]["item"]] == [1]
    missing = api.get(url(api, "/contacts"), params={"email": "nobody@example.com"}).json()
    assert "_embedded" not in missing and missing["total"] == 0
    blacklisted = api.get(url(api, "/contacts"), params={"status": "unsubscribed", "limit": 500}).json()
    assert [c["email"] for c in blacklisted["_embedded"]["item"]] == ["bert.janssens@example.com"]


def test_label_assign_409_and_removal(api, flexmail):
    body = {"contact_id": 1, "interest_label_id": KATTEN}
    assert api.post(url(api, "/contact-interest-label-subscriptions"), json=body).status_code == 201
    assert api.post(url(api, "/contact-interest-label-subscriptions"), json=body).status_code == 409
    assert flexmail.control.label_members(KATTEN) == ["an.peeters@example.com"]
    assert api.delete(url(api, f"/contacts/1/interest-labels/{KATTEN}")).status_code == 204
    assert flexmail.control.label_members(KATTEN) == []
    assert api.delete(url(api, f"/contacts/1/interest-labels/{KATTEN}")).status_code == 404
    assert api.delete(url(api, "/contacts/999/interest-labels/101")).status_code == 404


def _import(api, import_id, records, resubscribe=False):
    assert (
        api.post(
            url(api, "/contacts/imports"),
            json={"id": import_id, "resubscribe_blacklisted_contacts": resubscribe},
        ).status_code
        == 201
    )
    assert api.post(url(api, f"/contacts/imports/{import_id}/records"), json=records).status_code == 204
    assert api.patch(url(api, f"/contacts/imports/{import_id}"), json={"status": "queued"}).status_code == 200


def test_import_progresses_on_the_clock_and_only_adds(api, flexmail):
    records = [
        {"email": "an.peeters@example.com", "interest_labels": [KATTEN], "sources": [1]},
        {"email": "new@example.com", "first_name": "Nieuw", "interest_labels": [HONDEN], "sources": [1]},
        {"email": "bert.janssens@example.com", "interest_labels": [HONDEN], "sources": [1]},
    ]
    _import(api, "night-1", records)
    assert api.get(url(api, "/contacts/imports/night-1")).json()["status"] == "queued"
    assert flexmail.control.label_members(HONDEN) == ["an.peeters@example.com"]  # nothing applied yet
    flexmail.control.advance_clock(2)
    assert api.get(url(api, "/contacts/imports/night-1")).json()["status"] == "processing"
    flexmail.control.advance_clock(10)
    done = api.get(url(api, "/contacts/imports/night-1")).json()
    assert done["status"] == "completed"
    assert done["report"] == {"total_added": 1, "total_updated": 1, "total_ignored": 1}
    # an import adds: An keeps Honden and gains Katten; the blacklisted Bert gets nothing
    assert flexmail.control.label_members(HONDEN) == ["an.peeters@example.com", "new@example.com"]
    assert flexmail.control.label_members(KATTEN) == ["an.peeters@example.com"]
    # a queued import takes no more records
    assert api.post(url(api, "/contacts/imports/night-1/records"), json=records).status_code == 409


def test_blacklisted_resubscribed_only_when_the_import_says_so(api, flexmail):
    record = [{"email": "bert.janssens@example.com", "interest_labels": [HONDEN], "sources": [1]}]
    _import(api, "with-flag", record, resubscribe=True)
    flexmail.control.advance_clock(60)
    assert api.get(url(api, "/contacts/imports/with-flag")).json()["report"]["total_updated"] == 1
    assert "bert.janssens@example.com" in flexmail.control.label_members(HONDEN)


def test_unsubscribe_in_flexmail_blacklists(api, flexmail):
    flexmail.control.unsubscribe("an.peeters@example.com")
    listed = api.get(url(api, "/contacts"), params={"status": "unsubscribed"}).json()["_embedded"]["item"]
    assert {c["email"] for c in listed} == {"an.peeters@example.com", "bert.janssens@example.com"}


def test_rate_limit_429_with_retry_after_on_the_emulated_clock(api, flexmail):
    for _ in range(60):
        assert api.get(url(api, "/interest-labels")).status_code == 200
    refused = api.get(url(api, "/interest-labels"))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    flexmail.control.advance_clock(30)
    assert api.get(url(api, "/interest-labels")).headers["Retry-After"] == "30"
    flexmail.control.advance_clock(30)
    assert api.get(url(api, "/interest-labels")).status_code == 200
    rate = flexmail.control.state(contacts=False)["rate"]
    assert rate["busiest_window"] == 60 and rate["refused"] == 2


def test_faults_and_call_counts(api, flexmail):
    flexmail.control.add_fault("contact_labels.delete", "http503")
    assert api.delete(url(api, f"/contacts/1/interest-labels/{HONDEN}")).status_code == 503
    assert api.delete(url(api, f"/contacts/1/interest-labels/{HONDEN}")).status_code == 204
    assert flexmail.control.calls()["contact_labels.delete"] == 2


def test_runs_alone_from_the_command_line():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "include.emulators.flexmail",
            "--port",
            "0",
            "--account-id",
            "9",
            "--token",
            "t",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    try:
        line = process.stdout.readline()
        assert "Flexmail emulator listening on http://127.0.0.1:" in line
        base = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert requests.get(base + "/interest-labels", auth=("9", "t"), timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0

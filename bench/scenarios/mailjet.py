"""Mailjet list sync benchmark: the platform half of ``membership.py``'s nights.

The sync's membership calls are asynchronous bulk jobs (``managemanycontacts``: ``remove``, then
``addnoforce``, at most ``max_contacts_per_job`` contacts each), each polled to its end; around
them the list lookup (and create, on a first night) and the member counts the sync checks.
The emulator runs with ``--job-seconds 0`` (a job is done when first polled): how long Mailjet
takes to import a job is Mailjet's own and unpublished, would cost the sync and the limit the same
wall time, and with the client's 1 s first poll interval would turn both into a measure of sleeps.

``limit_step``: the same calls (the same job bodies, in the same order, each followed by polls
until Completed, with no wait between; the same lookup and count calls) pre-built and posted back
to back over one keep-alive connection; on a later night the list is first put back as it was
before the night (untimed).

Calls minimum (``calls_min``): ceil(joining / job size) + ceil(leaving / job size) jobs, one poll
each, plus the list lookup (and its create on a first night). Mailjet publishes no job size
(/work/shared/reference/mailjet.md: "assume a limit and make it a setting"): the minimum uses the
client's setting (``max_contacts_per_job``, default 1000), the size the sync runs with.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from math import ceil
from typing import Any

from bench.scenarios.membership import chunks, night_calls, post_all

NAME = "mailjet"
#: its list in bench/scenarios/membership_lists.yaml
LIST_NAME = "bench_mailjet_newsletter_nl"
API_KEY, SECRET_KEY = "bench", "bench-secret"
EMULATOR = (
    "include.emulators.mailjet",
    ["--api-key", API_KEY, "--secret-key", SECRET_KEY, "--job-seconds", "0"],
)


@contextmanager
def open_platform(api_url: str, engine: Any) -> Iterator[Any]:
    """The ``MailjetPlatform`` the DAG's hook builds for one list (addresses looked up in the CRM)."""
    from include.crm_sync.mailjet.addresses import uploaded_email_lookup
    from include.crm_sync.platforms.mailjet.client import MailjetClient
    from include.crm_sync.platforms.mailjet.platform import MailjetPlatform

    platform = MailjetPlatform(
        MailjetClient(api_url, API_KEY, SECRET_KEY),
        email_of=uploaded_email_lookup(engine),
        uploaded_email_of=uploaded_email_lookup(engine, crm_fallback=False),
    )
    try:
        yield platform
    finally:
        platform.close()


def target(list_def: Any) -> Any:
    """The Mailjet list of the list (``crm_sync_airflow.mailjet_tasks.membership_target``)."""
    from include.crm_sync.platforms.base import MembershipTarget

    return MembershipTarget(list_def.platform_list_id, list_def.platform_list_id)


def job_size() -> int:
    from include.crm_sync.platforms.mailjet.models import MAX_CONTACTS_PER_JOB

    return MAX_CONTACTS_PER_JOB


def limit_extras(synced: dict, previous: int | None) -> dict:
    """The count checks the sync made, and the night before (removed members' addresses)."""
    return {"counts": synced["client_calls"].get("membership_count", 0), "previous": previous}


def calls_min(plan: dict[str, int], created: bool) -> int:
    jobs = ceil(plan["joining"] / job_size()) + ceil(plan["leaving"] / job_size())
    return 2 * jobs + 1 + int(created)


def limit_step(
    url: str,
    api_url: str,
    list_name: str,
    list_run_id: int,
    night: int,
    started_at: str,
    created: bool,
    counts: int,
    previous: int | None = None,
) -> dict:
    import requests

    from bench.scenarios.membership import list_definition

    name = list_definition(list_name).platform_list_id
    done = night_calls(url, NAME, name, list_run_id, night, started_at, previous)
    if any(email is None for _, email in done.removed):
        raise RuntimeError("a removed member has no address in the previous snapshot")
    rest = api_url.rstrip("/") + "/v3/REST/"
    token = base64.b64encode(f"{API_KEY}:{SECRET_KEY}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    size = job_size()

    def prepared(method: str, path: str, body: Any = None, params: Any = None) -> requests.PreparedRequest:
        data = None if body is None else json.dumps(body)
        return requests.Request(method, rest + path, data=data, headers=headers, params=params).prepare()

    def jobs(action: str, emails: list[str]) -> list[requests.PreparedRequest]:
        return [
            prepared(
                "POST",
                "contactslist/LIST/managemanycontacts",
                {"Action": action, "Contacts": [{"Email": e} for e in chunk]},
            )
            for chunk in chunks(emails, size)
        ]

    added = [email for _, email in done.added]
    removed = [email for _, email in done.removed]
    with requests.Session() as session:
        found = session.send(prepared("GET", "contactslist", params={"Name": name, "Limit": 10})).json()[
            "Data"
        ]
        list_id = str(found[0]["ID"]) if found else None
        if night > 1:  # untimed: the list as before the night (a first night starts from a reset emulator)
            _send_jobs(session, jobs("remove", added) + jobs("addnoforce", removed), list_id, headers)

        build_started = time.perf_counter()
        lookup = prepared("GET", "contactslist", params={"Name": name, "Limit": 10})
        create = prepared("POST", "contactslist", {"Name": name}) if created else None
        work = jobs("remove", removed) + jobs("addnoforce", added)
        count_calls = [
            prepared("GET", "listrecipient", params={"ContactsList": "LIST", "countOnly": 1})
            for _ in range(counts)
        ]
        build_s = time.perf_counter() - build_started

        started = time.perf_counter()
        _, sent = post_all(session, [lookup])
        if create is not None:
            answer = session.send(create, timeout=120)
            sent += 1
            answer.raise_for_status()
            list_id = str(answer.json()["Data"][0]["ID"])
        _, job_calls = _send_jobs(session, work, list_id, headers)
        for call in count_calls:
            call.url = call.url.replace("ContactsList=LIST", f"ContactsList={list_id}")
        _, count_sent = post_all(session, count_calls)
        seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "build_s": round(build_s, 2),
        "calls": sent + job_calls + count_sent,
        "jobs": len(work),
        "removed": len(removed),
        "added": len(added),
    }


def _send_jobs(
    session: Any, jobs: list[Any], list_id: str | None, headers: dict[str, str]
) -> tuple[float, int]:
    """Post each job and poll it until it ends (no wait between polls); (seconds, calls)."""
    for job in jobs:  # the list's ID is known only once the night's first calls ran
        job.url = job.url.replace("/LIST/", f"/{list_id}/")
    auth = {"Authorization": headers["Authorization"]}

    def poll(response: Any) -> int:
        job_id = response.json()["Data"][0]["JobID"]
        polls = 0
        while True:
            answer = session.get(f"{response.url}/{job_id}", headers=auth, timeout=120)
            polls += 1
            status = answer.json()["Data"][0]["Status"]
            if status == "Completed":
                return polls
            if status in ("Error", "Abort"):
                raise RuntimeError(f"pre-built job {job_id} ended {status}")

    return post_all(session, jobs, check=poll)

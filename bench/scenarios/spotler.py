"""Spotler Mail+ audience sync benchmark: the platform half of ``membership.py``'s nights.

``limit_step`` is the emulator-bound limit of one night: the same calls the sync sent -- the
audience lookup (and create, on a first night), one ``POST /contact/list`` per 100 upserted
contacts with the same bodies, the member removals and adds per 2,500 ids in the same order --
built and OAuth-signed before the clock starts, then posted back to back over one keep-alive
connection (the sync has one call in flight). On a later night the emulator's audience is first
put back as it was before the night (untimed: the night's adds removed, its removals added
back), so the timed calls change what the sync's changed.

Calls minimum (``calls_min``): ceil(new or changed contacts / 100) upserts + ceil(joining / 2500)
adds + ceil(leaving / 2500) removals, plus the audience lookup (and its create on a first night),
which the protocol needs before any member call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from math import ceil
from typing import Any

from bench.scenarios.membership import chunks, night_calls, post_all

NAME = "spotler"
#: its list in bench/scenarios/membership_lists.yaml
LIST_NAME = "bench_spotler_newsletter_nl"
CONSUMER_KEY, CONSUMER_SECRET = "bench", "bench-secret"
EMULATOR = (
    "include.emulators.spotler",
    ["--consumer-key", CONSUMER_KEY, "--consumer-secret", CONSUMER_SECRET],
)
#: emulator call names the sync's calls are counted under (include/emulators/spotler/app.py)
MEMBER_CALLS = ("contact.upsert_list", "audience.contacts.add", "audience.contacts.remove")


@contextmanager
def open_platform(api_url: str, engine: Any) -> Iterator[Any]:
    """The ``SpotlerPlatform`` the DAG's hook builds, on the emulator."""
    from include.crm_sync.platforms.spotler.client import SpotlerClient
    from include.crm_sync.platforms.spotler.platform import SpotlerPlatform

    platform = SpotlerPlatform(SpotlerClient(api_url, CONSUMER_KEY, CONSUMER_SECRET))
    try:
        yield platform
    finally:
        platform.close()


def target(list_def: Any) -> Any:
    """The audience of the list (``crm_sync_airflow.platforms._spotler_audience`` without Airflow)."""
    from include.crm_sync.platforms.base import MembershipTarget

    audience = list_def.audience
    return MembershipTarget(audience.external_id, audience.name, audience.description or "")


def limit_extras(synced: dict, previous: int | None) -> dict:
    """Nothing more than the shared arguments: the limit reads what the night changed itself."""
    return {}


def calls_min(plan: dict[str, int], created: bool) -> int:
    from include.crm_sync.platforms.spotler.models import MAX_CONTACTS_PER_CALL, MAX_MEMBER_IDS_PER_CALL

    upserts = ceil((plan["joining"] + plan["changed"]) / MAX_CONTACTS_PER_CALL)
    members = ceil(plan["joining"] / MAX_MEMBER_IDS_PER_CALL) + ceil(
        plan["leaving"] / MAX_MEMBER_IDS_PER_CALL
    )
    return upserts + members + 1 + int(created)


def limit_step(
    url: str, api_url: str, list_name: str, list_run_id: int, night: int, started_at: str, created: bool
) -> dict:
    import requests
    from requests_oauthlib import OAuth1

    from bench.scenarios.membership import list_definition
    from include.crm_sync.platforms.base import Recipient
    from include.crm_sync.platforms.spotler.models import MAX_CONTACTS_PER_CALL, MAX_MEMBER_IDS_PER_CALL
    from include.crm_sync.platforms.spotler.platform import contact_json

    audience = list_definition(list_name).audience
    done = night_calls(url, NAME, audience.external_id, list_run_id, night, started_at)
    added, removed = [m for m, _ in done.added], [m for m, _ in done.removed]
    base = api_url.rstrip("/") + "/"
    members_url = f"{base}audience/{audience.external_id}/contact"
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    auth = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, signature_method="HMAC-SHA1")

    def prepared(method: str, path_or_url: str, body: Any = None) -> requests.PreparedRequest:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        full = path_or_url if path_or_url.startswith("http") else base + path_or_url
        return requests.Request(method, full, data=data, headers=headers, auth=auth).prepare()

    with requests.Session() as session:
        if night > 1:  # untimed: the audience as before the night (a first night starts from a reset)
            undo = [
                prepared("DELETE", members_url, {"contacts": ids})
                for ids in chunks(added, MAX_MEMBER_IDS_PER_CALL)
            ]
            undo += [
                prepared("POST", members_url, {"contacts": ids})
                for ids in chunks(removed, MAX_MEMBER_IDS_PER_CALL)
            ]
            post_all(session, undo)

        build_started = time.perf_counter()
        calls = [prepared("GET", f"audience/{audience.external_id}")]
        if created:
            calls.append(
                prepared(
                    "POST",
                    "audience",
                    {
                        "externalId": audience.external_id,
                        "name": audience.name,
                        "description": audience.description or "",
                    },
                )
            )
        for chunk in chunks(done.upserted, MAX_CONTACTS_PER_CALL):
            contacts = [contact_json(done.names, Recipient(m, e, v)) for m, e, v in chunk]
            calls.append(
                prepared("POST", "contact/list", {"update": True, "purge": False, "contacts": contacts})
            )
        calls += [
            prepared("DELETE", members_url, {"contacts": ids})
            for ids in chunks(removed, MAX_MEMBER_IDS_PER_CALL)
        ]
        calls += [
            prepared("POST", members_url, {"contacts": ids}) for ids in chunks(added, MAX_MEMBER_IDS_PER_CALL)
        ]
        build_s = time.perf_counter() - build_started
        # a first night's lookup finds no audience (404), as the sync's did
        seconds, sent = post_all(session, calls, tolerated=frozenset({404}) if created else frozenset())
    return {
        "seconds": round(seconds, 3),
        "build_s": round(build_s, 2),
        "calls": sent,
        "upserted": len(done.upserted),
        "removed": len(done.removed),
        "added": len(done.added),
    }

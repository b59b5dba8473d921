"""The demo's Spotler Mail+, Flexmail and Mailjet side: their emulators, connections, feedback made
on the platforms between the nights, and the per-night lines of the summary.

The emulators run in the demo's process (like the Optimizely one) on free loopback ports; the
Spotler and Flexmail clocks are set to each moment of the demo's story (Mailjet's runs on the real
clock: see scripts/demo_mailjet.py, which also holds its seed and its initial import). Flexmail
allows about 60 requests a minute per account; the demo's Flexmail emulator allows
``FLEXMAIL_SPEED_UP`` times that, and the connection's shared token bucket spends just under it,
so a night's label removals take seconds instead of minutes. (The bucket runs on the task
process's wall clock, which the demo cannot move: the limit is raised rather than the clock
accelerated. The bench measures the real 60/minute.)

What a night did on each platform is read from the platform itself (the emulator's audience, label
and list members before and after the night) and from the staging tables (Flexmail imports and the
removal backlog; Mailjet sign-ups and unsubscribes brought into the CRM), so the lines hold
whatever the sync's own report says.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from include.crm_sync.masking import mask_email
from include.crm_sync.staging.tables import flexmail_import, flexmail_removal, list_rejected, list_run
from include.emulators.flexmail.runner import FlexmailEmulatorServer
from include.emulators.kit.clock import ControllableClock
from include.emulators.mailjet.runner import MailjetEmulatorServer
from include.emulators.spotler.runner import SpotlerEmulatorServer
from scripts import demo_mailjet
from scripts.demo_mailjet import MAILJET_KEY, MAILJET_SECRET

SPOTLER_KEY, SPOTLER_SECRET = "demo", "demo"
FLEXMAIL_ACCOUNT, FLEXMAIL_TOKEN = "1000", "demo-token"
#: Flexmail's ~60 requests a minute, times this in the demo (see the module docstring)
FLEXMAIL_SPEED_UP = 100
FLEXMAIL_REQUESTS_PER_MINUTE = 60 * FLEXMAIL_SPEED_UP
#: the source the emulator's default seed has ("CRM sync"); imported contacts get it
FLEXMAIL_SOURCE_ID = 1


@dataclass(frozen=True)
class PlatformEmulators:
    spotler: SpotlerEmulatorServer
    flexmail: FlexmailEmulatorServer
    mailjet: MailjetEmulatorServer


@dataclass(frozen=True)
class DemoList:
    """A Spotler, Flexmail or Mailjet list of ``lists.yaml``, as the demo needs it."""

    name: str
    platform: str
    #: Spotler: the audience's external id; Flexmail: the interest label's name; Mailjet: the list's name
    target: str
    consent: str = ""


@contextmanager
def platform_emulators(mailjet_seed: Path | None = None) -> Iterator[PlatformEmulators]:
    """The three REST emulators; Mailjet's holds the contacts of ``mailjet_seed`` (subscribed
    ``demo_mailjet.SEED_AGE_SECONDS`` ago) and then runs on the real clock."""
    with ExitStack() as stack:
        spotler = stack.enter_context(
            SpotlerEmulatorServer(port=0, consumer_key=SPOTLER_KEY, consumer_secret=SPOTLER_SECRET)
        )
        flexmail = stack.enter_context(
            FlexmailEmulatorServer(
                port=0,
                account_id=FLEXMAIL_ACCOUNT,
                token=FLEXMAIL_TOKEN,
                requests_per_minute=FLEXMAIL_REQUESTS_PER_MINUTE,
            )
        )
        clock = ControllableClock()
        clock.set(time.time() - demo_mailjet.SEED_AGE_SECONDS)  # the seed is applied at this time ...
        mailjet = stack.enter_context(
            MailjetEmulatorServer(
                port=0, api_key=MAILJET_KEY, secret_key=MAILJET_SECRET, seed_path=mailjet_seed, clock=clock
            )
        )
        clock.reset()  # ... and from now on Mailjet runs on the real clock
        yield PlatformEmulators(spotler, flexmail, mailjet)


def connections_env(emulators: PlatformEmulators) -> dict[str, str]:
    """``spotler_default``, ``flexmail_default`` and ``mailjet_default`` pointing at the emulators."""
    return (
        spotler_connection_env(emulators.spotler)
        | flexmail_connection_env(emulators.flexmail)
        | mailjet_connection_env(emulators.mailjet)
    )


def spotler_connection_env(spotler: SpotlerEmulatorServer) -> dict[str, str]:
    document = {
        "conn_type": "spotler",
        "host": spotler.api_url,
        "login": SPOTLER_KEY,
        "password": SPOTLER_SECRET,
    }
    return {"AIRFLOW_CONN_SPOTLER_DEFAULT": json.dumps(document)}


def flexmail_connection_env(flexmail: FlexmailEmulatorServer) -> dict[str, str]:
    document = {
        "conn_type": "flexmail",
        "host": flexmail.base_url,
        "login": FLEXMAIL_ACCOUNT,
        "password": FLEXMAIL_TOKEN,
        # just under the emulator's limit, as 55 is under Flexmail's 60
        "extra": {"requests_per_minute": 55 * FLEXMAIL_SPEED_UP, "source_id": FLEXMAIL_SOURCE_ID},
    }
    return {"AIRFLOW_CONN_FLEXMAIL_DEFAULT": json.dumps(document)}


def mailjet_connection_env(mailjet: MailjetEmulatorServer) -> dict[str, str]:
    document = {
        "conn_type": "mailjet",
        "host": mailjet.api_url,
        "login": MAILJET_KEY,
        "password": MAILJET_SECRET,
    }
    return {"AIRFLOW_CONN_MAILJET_DEFAULT": json.dumps(document)}


def set_clocks(emulators: PlatformEmulators, moment: datetime) -> None:
    """Spotler's and Flexmail's clocks to ``moment`` (Mailjet's stays real: scripts/demo_mailjet.py)."""
    for emulator in (emulators.spotler, emulators.flexmail):
        emulator.control.set_clock(moment.timestamp())


def demo_lists(config: Any) -> list[DemoList]:
    """The Spotler, Flexmail and Mailjet lists of a loaded ``ListsConfig``, in file order."""
    found = []
    for item in config.lists:
        if item.platform in ("spotler", "flexmail", "mailjet"):
            found.append(DemoList(item.name, item.platform, item.platform_list_id, item.consent))
    return found


def _label_id(emulators: PlatformEmulators, name: str) -> int | None:
    labels = emulators.flexmail.control.state(contacts=False)["interest_labels"]
    return next((label["id"] for label in labels if label["name"] == name), None)


def members(emulators: PlatformEmulators, lst: DemoList) -> set[str]:
    """Who is in the list on the platform now: Spotler contact ids, Flexmail addresses, Mailjet
    addresses (every membership, unsubscribed ones too)."""
    if lst.platform == "mailjet":
        known = {x["name"] for x in emulators.mailjet.control.state(members=False)["lists"]}
        return set(emulators.mailjet.control.members(lst.target)) if lst.target in known else set()
    if lst.platform == "spotler":
        known = {a["externalId"] for a in emulators.spotler.control.state(contacts=False)["audiences"]}
        return set(emulators.spotler.control.members(lst.target)) if lst.target in known else set()
    label_id = _label_id(emulators, lst.target)
    return set() if label_id is None else set(emulators.flexmail.control.label_members(label_id))


def make_platform_feedback(emulators: PlatformEmulators, lists: list[DemoList]) -> list[str]:
    """Between the nights, as people would on the platforms: the first member (in id order, so the
    demo repeats) of each Spotler audience opts out in Spotler, and the first carrier of each
    Flexmail label unsubscribes in Flexmail (blacklisted). Returns one line per change."""
    lines = []
    for lst in lists:
        if lst.platform == "mailjet":
            continue  # demo_mailjet.make_mailjet_feedback
        current = sorted(members(emulators, lst))
        if not current:
            lines.append(f"{lst.platform} {lst.name}: nobody in the list, nothing to change")
        elif lst.platform == "spotler":
            emulators.spotler.control.opt_out(current[0])
            lines.append(f"spotler {lst.name}: contact {current[0]} opts out in Spotler")
        else:
            emulators.flexmail.control.unsubscribe(current[0])
            lines.append(
                f"flexmail {lst.name}: {mask_email(current[0])} unsubscribes in Flexmail (blacklist)"
            )
    return lines


@dataclass(frozen=True)
class PlatformNight:
    """What one night did to one Spotler, Flexmail or Mailjet list."""

    lst: DemoList
    added: int
    removed: int
    #: Spotler: members the platform refused (audited in list_rejected); None for Flexmail
    refused: int | None
    #: Flexmail: records this run's contacts import sent (one import for all labels of the run)
    imported: int | None
    #: Flexmail: label removals still waiting (worked over the next nights under the rate limit)
    backlog: int | None
    members: int
    #: Mailjet: the list's consents this night brought into the CRM from Mailjet (sign-ups)
    signups: int | None = None
    #: Mailjet: unsubscribes (list unsubscribes, exclusions) this night applied to the CRM
    unsubscribes: int | None = None

    def line(self) -> str:
        if self.lst.platform == "mailjet":
            return (
                f"    mailjet  {self.lst.name:<22} list {self.lst.target!r}: imported from Mailjet "
                f"{self.signups or 0:,}, unsubscribes applied {self.unsubscribes or 0:,} (all lists), "
                f"added {self.added:,}, removed {self.removed:,}; {self.members:,} members"
            )
        if self.lst.platform == "spotler":
            refused = "n/a" if self.refused is None else f"{self.refused:,}"
            return (
                f"    spotler  {self.lst.name:<22} audience {self.lst.target}: added {self.added:,}, "
                f"removed {self.removed:,}, refused {refused}; {self.members:,} members"
            )
        return (
            f"    flexmail {self.lst.name:<22} label {self.lst.target!r}: imported {self.imported or 0:,} "
            f"(all labels), labels added {self.added:,}, labels removed {self.removed:,}, removal backlog "
            f"{self.backlog or 0:,}; {self.members:,} carry it"
        )


def night_results(
    engine: Engine,
    run_id: str,
    lists: list[DemoList],
    before: dict[str, set[str]],
    after: dict[str, set[str]],
    started: datetime | None = None,
) -> list[PlatformNight]:
    """``started``: when the night began (wall clock): the Mailjet sign-ups it imported are the
    list's consents from Mailjet written since."""
    results = []
    mailjet = [
        demo_mailjet.MailjetDemoList(x.name, x.target, x.consent) for x in lists if x.platform == "mailjet"
    ]
    signups: dict[str, int] = {}
    if mailjet:
        signups = demo_mailjet.imported_consents(engine, mailjet, since=started)
    unsubscribes = demo_mailjet.unsubscribes_applied(engine, run_id) if mailjet else None
    with engine.connect() as conn:
        imported = conn.execute(
            select(func.coalesce(func.sum(flexmail_import.c.records_sent), 0)).where(
                flexmail_import.c.run_id == run_id
            )
        ).scalar_one()
        for lst in lists:
            gained, lost = after[lst.name] - before[lst.name], before[lst.name] - after[lst.name]
            refused = backlog = None
            if lst.platform == "spotler":
                refused = _refused(conn, run_id, lst.name)
            elif lst.platform == "flexmail":
                backlog = conn.execute(
                    select(func.count()).where(flexmail_removal.c.label_name == lst.target)
                ).scalar_one()
            results.append(
                PlatformNight(
                    lst,
                    len(gained),
                    len(lost),
                    refused,
                    imported if lst.platform == "flexmail" else None,
                    backlog,
                    len(after[lst.name]),
                    signups.get(lst.name) if lst.platform == "mailjet" else None,
                    unsubscribes if lst.platform == "mailjet" else None,
                )
            )
    return results


def _refused(conn: Any, run_id: str, list_name: str) -> int:
    """Members the platform refused in this run's sync of the list (audited in ``list_rejected``)."""
    return conn.execute(
        select(func.count())
        .select_from(list_rejected.join(list_run, list_rejected.c.list_run_id == list_run.c.list_run_id))
        .where(list_run.c.run_id == run_id, list_run.c.list_name == list_name)
    ).scalar_one()

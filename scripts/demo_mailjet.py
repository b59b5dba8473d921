"""The demo's Mailjet side: the account's existing contacts (the emulator's seed), the one-off
``mailjet_initial_import`` of each Mailjet list, what people do in Mailjet between the nights, and
what a night imported from Mailjet.

The Mailjet emulator runs on the real clock, not the demo's story clock: the Mailjet tasks compare
Mailjet's timestamps (subscribed, unsubscribed, excluded at) with their own wall-clock "now" (the
feedback window, the sign-ups window of the nightly pre-step), as they would against the real
Mailjet. Its existing contacts are seeded 30 days back, so they are no "new sign-ups" of night 1.

The seed is read from the generated CRM (entity id order, so every run with the same ``--seed``
picks the same people): per Mailjet list, CRM leads (the demo's Mailjet lists hold the leads) who
hold no row of the list's consent (the import grants it), a few addresses the CRM does not know
(the import makes leads), some who unsubscribed from the list in Mailjet and some excluded from
campaigns (both are imported without the consent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, and_, func, select

from include.crm_sync.masking import mask_email
from include.crm_sync.staging.tables import crm_consent, crm_entity, file_ledger
from include.emulators.mailjet.state import EMAIL_RE

MAILJET_KEY, MAILJET_SECRET = "demo", "demo"
#: how far back the seeded contacts subscribed (before the sign-ups window of night 1)
SEED_AGE_SECONDS = 30 * 86_400
#: per Mailjet list: CRM people without the consent, new addresses, unsubscribed, excluded
SEED_CRM_PEOPLE, SEED_NEW_ADDRESSES, SEED_UNSUBSCRIBED, SEED_EXCLUDED = 40, 10, 3, 2
#: the address that signs up in Mailjet between the nights (unknown to the CRM: a lead is made)
SIGNUP_ADDRESS = "new.subscriber@example.org"


@dataclass(frozen=True)
class MailjetDemoList:
    """A Mailjet list of ``lists.yaml``: its name there, its Mailjet list name and its consent."""

    name: str
    mailjet_list: str
    consent: str


def mailjet_lists(config: Any) -> list[MailjetDemoList]:
    """The Mailjet lists of a loaded ``ListsConfig``, in file order."""
    return [
        MailjetDemoList(item.name, item.platform_list_id, item.consent)
        for item in config.lists
        if item.platform == "mailjet"
    ]


def write_seed(engine: Engine, lists: Sequence[MailjetDemoList], path: Path) -> Path:
    """The emulator's seed (include/emulators/mailjet/README.md, "Seed") of the existing Mailjet
    contacts, written to ``path``."""
    seed: dict[str, Any] = {"lists": [], "excluded": []}
    with engine.connect() as conn:
        for index, lst in enumerate(lists):
            has_consent = select(crm_consent.c.entity_id).where(crm_consent.c.consent_id == lst.consent)
            candidates = conn.execute(
                select(crm_entity.c.email_normalized)
                .where(
                    crm_entity.c.entity_type == "lead",
                    crm_entity.c.email_normalized.is_not(None),
                    crm_entity.c.entity_id.not_in(has_consent),
                )
                .order_by(crm_entity.c.entity_id)
                .offset(index * 2 * SEED_CRM_PEOPLE)  # each list its own people
                .limit(2 * SEED_CRM_PEOPLE)
            ).scalars()
            # Mailjet never holds an address that is not one (the CRM has some: the sync leaves
            # them out, and a removal of one would be refused)
            known = [e for e in candidates if EMAIL_RE.match(e)][:SEED_CRM_PEOPLE]
            new = [f"mailjet.{lst.consent}.{i}@example.org" for i in range(SEED_NEW_ADDRESSES)]
            members: list[Any] = [
                {"email": email, "unsubscribed": True} if i < SEED_UNSUBSCRIBED else email
                for i, email in enumerate(known)
            ]
            seed["lists"].append({"name": lst.mailjet_list, "members": members + new})
            seed["excluded"].extend(known[SEED_UNSUBSCRIBED : SEED_UNSUBSCRIBED + SEED_EXCLUDED])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(seed, sort_keys=False), encoding="utf-8")
    return path


def imported_consents(
    engine: Engine, lists: Sequence[MailjetDemoList], since: datetime | None = None
) -> dict[str, int]:
    """List name -> CRM consents granted from its Mailjet list (source ``mailjet:<list>``), those
    written at or after ``since`` only when given (a difference of two totals would net the
    night's sign-ups against the imported people who unsubscribed in Mailjet)."""
    counts = {}
    with engine.connect() as conn:
        for lst in lists:
            conditions = [
                crm_consent.c.consent_id == lst.consent,
                crm_consent.c.status == "granted",
                crm_consent.c.source == f"mailjet:{lst.mailjet_list}",
            ]
            if since is not None:
                conditions.append(crm_consent.c.updated_at >= since)
            counts[lst.name] = conn.execute(select(func.count()).where(and_(*conditions))).scalar_one()
    return counts


def leads_from_mailjet(engine: Engine) -> int:
    """Leads the Mailjet imports made for addresses the CRM did not know (ids ``mailjet-...``)."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(crm_entity.c.entity_id.like("mailjet-%"))).scalar_one()


def unsubscribes_applied(engine: Engine, run_id: str) -> int:
    """Unsubscribes this run brought from Mailjet into the CRM (list unsubscribes and exclusions:
    the feedback import's files, and any the sync found right before a removal)."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.coalesce(func.sum(file_ledger.c.rows_applied), 0)).where(
                file_ledger.c.run_id == run_id,
                file_ledger.c.kind == "unsubscribes",
                file_ledger.c.file_name.like("mailjet%"),
            )
        ).scalar_one()


def make_mailjet_feedback(mailjet: Any, lists: Sequence[MailjetDemoList]) -> list[str]:
    """Between the nights, as people would in Mailjet: on the first (newsletter) list, its first
    subscribed member (address order) unsubscribes from it and the second is excluded from all
    campaigns (the service list keeps them); a new address signs up through the list's form.
    Returns one line per change."""
    if not lists:
        return []
    lst = lists[0]
    active = sorted(e for e, m in mailjet.control.members(lst.mailjet_list).items() if not m["unsubscribed"])
    lines = []
    if active:
        mailjet.control.unsubscribe(lst.mailjet_list, active[0])
        lines.append(f"mailjet {lst.name}: {mask_email(active[0])} unsubscribes from the list in Mailjet")
    if len(active) > 1:
        mailjet.control.exclude(active[1])
        lines.append(
            f"mailjet {lst.name}: {mask_email(active[1])} is excluded from all campaigns in Mailjet "
            "(marketing consents go, a service consent stays)"
        )
    mailjet.control.signup(lst.mailjet_list, SIGNUP_ADDRESS, name="New Subscriber")
    lines.append(f"mailjet {lst.name}: {mask_email(SIGNUP_ADDRESS)} signs up through the list's form")
    return lines

"""The emulated account under one re-entrant lock: every API call and control request that reads
or writes it holds ``lock`` for its whole duration, so concurrent clients see each call applied
whole (an add of 2,500 ids is never half-visible) and counts always agree.

The contact-change feed is a log of contacts in the order they changed; a contact's newer change
supersedes its older entries (``Contact.change_seq`` is the position of its newest entry), so
``/contact/updates/list`` returns each changed contact once, at its last change, like a query on
``lastChanged``. Entries are references, not copies: 8 bytes each at a million contacts.
"""

from __future__ import annotations

import threading
from pathlib import Path

from include.emulators.kit.clock import ControllableClock, parse_time
from include.emulators.spotler.model import Audience, Bounce, Contact, PropertyDef
from include.emulators.spotler.properties import parse_properties
from include.emulators.spotler.seed import Seed, load_seed


class SpotlerState:
    def __init__(self, clock: ControllableClock, seed_path: str | Path) -> None:
        self.clock = clock
        self.seed: Seed = load_seed(seed_path)
        self.lock = threading.RLock()
        self.properties: dict[str, PropertyDef] = {}
        self.contacts: dict[str, Contact] = {}
        self.audiences: dict[str, Audience] = {}
        self.changes: list[Contact] = []
        self.bounces: list[Bounce] = []
        self.reset()

    def reset(self) -> None:
        """Back to the seed."""
        with self.lock:
            now = self.clock.now()
            self.properties = {p.name: p for p in self.seed.properties}
            self.contacts, self.audiences, self.changes, self.bounces = {}, {}, [], []
            for item in self.seed.contacts:
                at = parse_time(item.get("changed", now), now)
                properties = parse_properties(self.properties, item.get("properties") or {})
                contact = Contact(
                    str(item["externalId"]), properties, at, at, email_active=not item.get("opted_out")
                )
                self.contacts[contact.external_id] = contact
                self.record_change(contact, at)
            for item in self.seed.audiences:
                audience = Audience(
                    str(item["externalId"]), str(item["name"]), str(item.get("description", "")), now, now
                )
                audience.members = dict.fromkeys(str(m) for m in item.get("members") or [])
                audience.in_use = bool(item.get("in_use", False))
                audience.in_use_reason = str(item.get("in_use_reason", ""))
                self.audiences[audience.external_id] = audience
            for item in self.seed.bounces:
                self.bounces.append(
                    Bounce(parse_time(item.get("date", now), now), str(item["externalId"]), item["type"])
                )

    def record_change(self, contact: Contact, at: float) -> None:
        """The contact changed at ``at``: it moves to the end of the change feed."""
        contact.last_changed = at
        contact.change_seq = len(self.changes)
        self.changes.append(contact)

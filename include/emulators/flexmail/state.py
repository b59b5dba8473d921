"""The emulated Flexmail account under one re-entrant lock: interest labels, contacts (with the
labels they carry and whether they are blacklisted), and contact imports.

Imports progress over the emulated clock and are applied lazily (``advance_imports``, called at
every request and before the clock moves): ``created`` -> (PATCH queued) ``queued`` ->
``processing`` one second later -> ``completed`` after ``import_base_seconds + records /
import_records_per_second``, when the records are applied at once. An import only ever ADDS
labels and sources; a blacklisted contact's record is ignored (nothing changes) unless the import
set ``resubscribe_blacklisted_contacts``.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from include.emulators.flexmail.config import FlexmailConfig
from include.emulators.flexmail.seed import Seed, load_seed
from include.emulators.kit.clock import ControllableClock

CONTACT_FIELDS = ("first_name", "name", "language")


@dataclass
class Contact:
    id: int
    email: str
    first_name: str = ""
    name: str = ""
    language: str = ""
    custom_fields: dict[str, Any] = field(default_factory=dict)
    sources: set[int] = field(default_factory=set)
    labels: set[int] = field(default_factory=set)
    blacklisted: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "name": self.name,
            "language": self.language,
            "custom_fields": dict(self.custom_fields),
            "status": "unsubscribed" if self.blacklisted else "subscribed",
            "_links": {"self": {"href": f"/contacts/{self.id}"}},
        }


@dataclass
class Import:
    id: str
    resubscribe_blacklisted_contacts: bool
    created_at: float
    status: str = "created"
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # by address: the last record wins
    queued_at: float | None = None
    message: str = ""
    report: dict[str, int] | None = None

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "resubscribe_blacklisted_contacts": self.resubscribe_blacklisted_contacts,
            "total_records": len(self.records),
            "_links": {"self": {"href": f"/contacts/imports/{self.id}"}},
        }
        if self.report is not None:
            document["report"] = dict(self.report)
        return document


class FlexmailState:
    def __init__(self, clock: ControllableClock, config: FlexmailConfig) -> None:
        self.clock = clock
        self.config = config
        self.seed: Seed = load_seed(config.seed_path)
        self.lock = threading.RLock()
        self.labels: dict[int, str] = {}
        self.sources: dict[int, str] = {}
        self.contacts: dict[int, Contact] = {}
        self.by_email: dict[str, int] = {}
        self.imports: dict[str, Import] = {}
        self._ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.labels = dict(self.seed.labels)
            self.sources = dict(self.seed.sources)
            self.contacts, self.by_email, self.imports = {}, {}, {}
            for item in self.seed.contacts:
                contact = Contact(
                    int(item["id"]),
                    str(item["email"]),
                    **{k: str(item.get(k) or "") for k in CONTACT_FIELDS},
                    labels={int(x) for x in item.get("labels") or []},
                    blacklisted=bool(item.get("blacklisted", False)),
                )
                self._store(contact)
            self._ids = itertools.count(max(self.contacts, default=0) + 1)

    def _store(self, contact: Contact) -> None:
        self.contacts[contact.id] = contact
        self.by_email[contact.email.strip().lower()] = contact.id

    def find(self, email: str) -> Contact | None:
        contact_id = self.by_email.get(email.strip().lower())
        return None if contact_id is None else self.contacts[contact_id]

    def create_contact(self, email: str, values: dict[str, Any]) -> Contact:
        contact = Contact(next(self._ids), email.strip())
        self.apply_fields(contact, values)
        self._store(contact)
        return contact

    @staticmethod
    def apply_fields(contact: Contact, values: dict[str, Any]) -> None:
        for key in CONTACT_FIELDS:
            if values.get(key) is not None:
                setattr(contact, key, str(values[key]))
        if isinstance(values.get("custom_fields"), dict):
            contact.custom_fields.update(values["custom_fields"])

    # ------------------------------------------------------------------ imports

    def import_duration(self, job: Import) -> float:
        cfg = self.config
        return cfg.import_base_seconds + len(job.records) / cfg.import_records_per_second

    def advance_imports(self) -> None:
        """Move every queued import along to the current emulated time (apply finished ones)."""
        with self.lock:
            now = self.clock.now()
            for job in self.imports.values():
                if job.queued_at is None or job.status in ("completed", "failed"):
                    continue
                if now >= job.queued_at + self.import_duration(job):
                    self._apply(job)
                elif now >= job.queued_at + 1.0:
                    job.status = "processing"

    def _apply(self, job: Import) -> None:
        added = updated = ignored = 0
        for email, record in job.records.items():
            labels = {int(x) for x in record.get("interest_labels") or []}
            sources = {int(x) for x in record.get("sources") or []}
            if labels - set(self.labels) or sources - set(self.sources):
                ignored += 1  # names an unknown label or source: the record is skipped
                continue
            contact = self.find(email)
            if contact is None:
                contact = self.create_contact(email, record)
                added += 1
            elif contact.blacklisted and not job.resubscribe_blacklisted_contacts:
                ignored += 1  # a blacklisted contact stays as it is
                continue
            else:
                self.apply_fields(contact, record)
                contact.blacklisted = False
                updated += 1
            contact.labels |= labels  # only ever added
            contact.sources |= sources
        job.status = "completed"
        job.message = "Import completed"
        job.report = {"total_added": added, "total_updated": updated, "total_ignored": ignored}

    def label_members(self, label_id: int) -> list[int]:
        return sorted(c.id for c in self.contacts.values() if label_id in c.labels)

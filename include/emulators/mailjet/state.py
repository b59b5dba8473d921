"""The emulator's state under one lock: contacts by id and by address, lists by id and by unique
name, memberships per (contact, list), jobs, CSV uploads and contact metadata; the four membership
actions; jobs settled lazily against the emulator clock.

Actions as Mailjet documents them (and this emulator enforces):
  addforce    add the contact to the list and re-subscribe it (clears a list unsubscribe)
  addnoforce  add the contact; an existing membership keeps its unsubscribe
  remove      delete the membership
  unsub       keep (or create) the membership, marked unsubscribed
A contact that does not exist is created by every action but ``remove``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from include.emulators.kit.clock import ControllableClock
from include.emulators.kit.seed import SeedError, load_document, required
from include.emulators.mailjet.model import Contact, ContactsList, Job, Membership

EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


class MailjetState:
    def __init__(self, clock: ControllableClock, seed_path: str | Path | None, job_seconds: float) -> None:
        self.clock = clock
        self.seed: dict[str, Any] = load_document(seed_path) if seed_path else {}
        self.job_seconds = job_seconds
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.contacts: dict[int, Contact] = {}
            self.by_email: dict[str, Contact] = {}
            self.lists: dict[int, ContactsList] = {}
            self.memberships: dict[tuple[int, int], Membership] = {}
            self.jobs: dict[int, Job] = {}
            self.uploads: dict[int, bytes] = {}
            self.metadata: dict[str, dict[str, Any]] = {}
            #: jobs that will end in Error / hang (set by the job_error / job_hang faults)
            self._next_id = {"contact": 1, "list": 1, "member": 1, "job": 1, "data": 1, "meta": 1}
            self.job_outcome_overrides: list[str] = []
            #: address (lower case) -> the reason every job refuses it with (``/_control/contact-errors``)
            self.refused_contacts: dict[str, str] = {}
            try:
                self._apply_seed(self.clock.now())
            except (KeyError, TypeError, ValueError) as exc:
                raise SeedError(f"invalid seed: {exc!r}") from None

    def _apply_seed(self, now: float) -> None:
        for index, item in enumerate(self.seed.get("lists") or []):
            contacts_list = self.create_list(str(required(item, "name", f"lists[{index}]")), now)
            for member in item.get("members") or []:
                member = member if isinstance(member, dict) else {"email": member}
                contact = self.contact_for(str(member["email"]), now, create=True)
                assert contact is not None
                self.apply_action(contact, contacts_list.id, "addforce", now)
                if member.get("unsubscribed"):
                    self.apply_action(contact, contacts_list.id, "unsub", now)
        for item in self.seed.get("excluded") or []:
            contact = self.contact_for(str(item), now, create=True)
            assert contact is not None
            contact.excluded, contact.excluded_at = True, now

    def new_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    # ------------------------------------------------------------------ records

    def create_list(self, name: str, now: float) -> ContactsList:
        contacts_list = ContactsList(self.new_id("list"), name, now)
        self.lists[contacts_list.id] = contacts_list
        return contacts_list

    def list_by_name(self, name: str) -> ContactsList | None:
        return next((x for x in self.lists.values() if x.name == name and not x.is_deleted), None)

    def contact_for(self, email: str, now: float, *, create: bool, name: str = "") -> Contact | None:
        key = email.strip().lower()
        contact = self.by_email.get(key)
        if contact is None and create:
            contact = Contact(self.new_id("contact"), email.strip(), name, now)
            self.contacts[contact.id] = contact
            self.by_email[key] = contact
        return contact

    def find_contact(self, ref: str) -> Contact | None:
        """A contact named in a URL by ID or by address."""
        if ref.isdigit():
            return self.contacts.get(int(ref))
        return self.by_email.get(ref.strip().lower())

    def subscribers(self, list_id: int) -> int:
        return sum(1 for m in self.memberships.values() if m.list_id == list_id and not m.unsubscribed)

    # ------------------------------------------------------------------ actions

    def apply_action(self, contact: Contact, list_id: int, action: str, now: float) -> None:
        key = (contact.id, list_id)
        membership = self.memberships.get(key)
        if action == "remove":
            self.memberships.pop(key, None)
            return
        if membership is None:
            membership = Membership(self.new_id("member"), contact.id, list_id, now)
            self.memberships[key] = membership
        if action == "addforce":
            if membership.unsubscribed:  # a re-subscription: subscribed again from now on
                membership.subscribed_at = now
            membership.unsubscribed, membership.unsubscribed_at = False, None
        elif action == "unsub" and not membership.unsubscribed:
            membership.unsubscribed, membership.unsubscribed_at = True, now
        # addnoforce: the membership exists now; an unsubscribe it had stays

    # ------------------------------------------------------------------ jobs

    def add_job(self, job: Job) -> Job:
        if self.job_outcome_overrides:
            job.outcome = self.job_outcome_overrides.pop(0)
        self.jobs[job.id] = job
        return job

    def settle_jobs(self) -> None:
        """Apply every job whose emulated time is up (called before each request is handled)."""
        now = self.clock.now()
        for job in self.jobs.values():
            if job.applied or job.outcome == "hang":
                continue
            if job.status(now, self.job_seconds) != "Completed":
                continue
            if job.outcome == "Error":
                job.error_message = job.error_message or "Internal error while importing"
            else:
                self._run(job, now)
            job.applied = True

    def _run(self, job: Job, now: float) -> None:
        for item in job.contacts:
            email = str(item.get("Email") or "").strip()
            if not EMAIL_RE.match(email):
                job.errors.append((email, "Invalid email address"))
                continue
            refused = self.refused_contacts.get(email.lower())
            if refused is not None:  # an injected per-contact error: this contact is left as it was
                job.errors.append((email, refused))
                continue
            for list_id, action in job.lists:
                if list_id and list_id not in self.lists:
                    job.errors.append((email, f"Unknown list {list_id}"))
                    continue
                contact = self.contact_for(
                    email, now, create=action != "remove", name=str(item.get("Name") or "")
                )
                if contact is None:
                    continue
                properties = item.get("Properties")
                if isinstance(properties, dict):
                    contact.properties.update(properties)
                if action in ("excludemarketing", "includemarketing"):
                    excluded = action == "excludemarketing"
                    if contact.excluded != excluded:
                        contact.excluded, contact.excluded_at = excluded, now
                elif list_id:
                    self.apply_action(contact, list_id, action, now)

"""``MailjetPlatform``: the ``MembershipPlatform`` protocol on Mailjet contact lists.

A platform list is a Mailjet contact list named by its unique **name** (the canonical platform list
id; the numeric ID is looked up, and the list made when missing, by ``ensure_target``). Members are
the CRM entity ids of the snapshot; Mailjet keys contacts by address, so an add takes the address
the member was given with (``upsert``): asked of ``email_of`` (the task layer: the last synced
snapshot, else the CRM), and held in memory only where that lookup would answer another one.
Mailjet creates a contact when it is added to a list, so ``upsert`` sends nothing.

Adds are ``addnoforce`` bulk jobs only: someone who unsubscribed from the list stays unsubscribed
(invariant 8; ``addforce`` is refused by the client). Removals are ``remove`` jobs. Every job is
polled to its end; per-contact errors fail the call (the sync stays ``in_progress`` and the next
attempt reconciles).

Mailjet can list a list's members, so on doubt the membership sync *reconciles* (``reconcile``:
remove the members the snapshot does not hold, then add everyone with ``addnoforce``, which
changes nothing for members already there) instead of emptying the list: no empty-list window,
and list unsubscribes are kept.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from include.crm_sync.masking import mask_email
from include.crm_sync.platforms.base import (
    AddOutcome,
    FeedbackKind,
    FeedbackRow,
    MembershipTarget,
    MembersNotFound,
    PermanentPlatformError,
    Recipient,
    TargetChange,
    UpsertResult,
)
from include.crm_sync.platforms.mailjet.client import MailjetClient
from include.crm_sync.platforms.mailjet.errors import MailjetNotFound
from include.crm_sync.platforms.mailjet.feedback import feedback_rows
from include.crm_sync.platforms.mailjet.members import list_members

#: the upsert code of a member whose CRM address differs from the one uploaded last
ADDRESS_CHANGED = "ADDRESS_CHANGED"
#: (platform list id, member ids) -> {member id: address} for those it knows
EmailLookup = Callable[[str, Sequence[str]], Mapping[str, str]]
#: given addresses (lower case), those the snapshot holds
SnapshotFilter = Callable[[Sequence[str]], set[str]]


class ContactsRefused(PermanentPlatformError):
    """A bulk job completed but refused some contacts (``errors``: masked address -> reason)."""

    def __init__(self, list_name: str, action: str, errors: Sequence[tuple[str, str]]) -> None:
        sample = "; ".join(f"{mask_email(e)}: {r}" for e, r in errors[:5])
        super().__init__(f"Mailjet list {list_name}: {action} refused {len(errors)} contact(s) ({sample})")
        self.errors = tuple(errors)


class MailjetPlatform:
    """Membership sync on Mailjet lists over one ``MailjetClient``.

    :param lists: the managed lists (platform list ids = names) whose unsubscribes the feedback
        import reads; lists met by ``ensure_target`` are added
    :param email_of: the address each member id was last uploaded with (a synced snapshot, else
        the CRM): removals use it, and adds of ids this instance was not given by ``upsert``
    :param uploaded_email_of: the same without the CRM fallback; with it, ``upsert`` notices a
        member whose CRM address changed since its last upload (see ``ADDRESS_CHANGED``)
    """

    name = "mailjet"
    max_upsert_batch = 1000
    #: the membership engine reconciles against ``reconcile`` instead of emptying on doubt
    lists_members = True

    def __init__(
        self,
        client: MailjetClient,
        *,
        lists: Sequence[str] = (),
        email_of: EmailLookup | None = None,
        uploaded_email_of: EmailLookup | None = None,
        owns_client: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.max_member_batch = client.max_contacts_per_job
        self._lists = list(dict.fromkeys(lists))
        self._ids: dict[str, int] = {}
        self._emails: dict[str, str] = {}
        self._email_of = email_of
        self._uploaded_email_of = uploaded_email_of
        self._target: str | None = None
        self._owns_client = owns_client
        self._clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ lists

    def list_id(self, name: str) -> int:
        """Mailjet's numeric ID of the list with this name (``MailjetNotFound`` when there is none)."""
        if name not in self._ids:
            found = self.client.find_list(name)
            if found is None:
                raise MailjetNotFound(f"Mailjet has no list named {name!r}", status=404)
            self._ids[name] = found
        return self._ids[name]

    def ensure_target(self, target: MembershipTarget) -> TargetChange:
        list_id, created = self.client.ensure_list(target.list_id)
        self._ids[target.list_id] = list_id
        self._target = target.list_id  # the list the following upserts are for
        if target.list_id not in self._lists:
            self._lists.append(target.list_id)
        return TargetChange.CREATED if created else TargetChange.UNCHANGED

    def delete_target(self, list_id: str) -> bool:
        found = self.client.find_list(list_id)
        self._ids.pop(list_id, None)
        return found is not None and self.client.delete_list(found)

    # ------------------------------------------------------------------ members

    def upsert(self, attribute_names: Sequence[str], recipients: Sequence[Recipient]) -> list[UpsertResult]:
        """Mailjet creates the contact when it is added: remember the address for the add. A member
        whose address changed since its last upload is answered ``ADDRESS_CHANGED`` (refused): the
        sync removes the old address tonight and, uploading again, adds the new one next night --
        Mailjet keys contacts by address, so the membership cannot be renamed in place."""
        before: Mapping[str, str] = {}
        if self._uploaded_email_of is not None and self._target is not None:
            before = self._uploaded_email_of(self._target, [r.recipient_id for r in recipients])
        results, accepted = [], []
        for r in recipients:
            old = before.get(r.recipient_id)
            if old is not None and old.strip().lower() != r.email.strip().lower():
                results.append(UpsertResult(r.recipient_id, AddOutcome.ERROR, ADDRESS_CHANGED))
                continue
            accepted.append(r)
            results.append(UpsertResult(r.recipient_id, AddOutcome.ADDED, "OK"))
        self._remember(accepted)
        return results

    def _remember(self, recipients: Sequence[Recipient]) -> None:
        """Keep the address of each accepted member for its add -- only where the lookup the add
        falls back on (``email_of``) would answer another one (the CRM changed since extraction):
        a first night upserts every member before the first add, and holding every address in
        memory grew the sync's RSS with the list (bench/run.py --only mailjet, 1M contacts)."""
        if self._email_of is None or self._target is None:
            self._emails.update((r.recipient_id, r.email) for r in recipients)
            return
        known = self._email_of(self._target, [r.recipient_id for r in recipients])
        self._emails.update(
            (r.recipient_id, r.email) for r in recipients if known.get(r.recipient_id) != r.email
        )

    @property
    def remembered_addresses(self) -> int:
        """Addresses held in memory for adds to come (few: see ``_remember``)."""
        return len(self._emails)

    def add_members(self, list_id: str, member_ids: Sequence[str]) -> None:
        emails = self._resolve(list_id, member_ids, uploaded_first=False)
        unknown = [m for m in member_ids if m not in emails]
        if unknown:
            raise MembersNotFound(list_id, unknown)
        self._job(list_id, "addnoforce", [emails[m] for m in member_ids])
        for member_id in member_ids:  # added: their address is Mailjet's now (and the record's)
            self._emails.pop(member_id, None)

    def remove_members(self, list_id: str, member_ids: Sequence[str]) -> None:
        emails = self._resolve(list_id, member_ids, uploaded_first=True)  # the address Mailjet holds
        unknown = [m for m in member_ids if m not in emails]
        if unknown:
            raise PermanentPlatformError(
                f"Mailjet list {list_id}: no address known for {len(unknown)} member(s) to remove"
            )
        self._job(list_id, "remove", [emails[m] for m in member_ids])

    def empty(self, list_id: str) -> None:
        numeric = self.list_id(list_id)
        while True:  # always the first page: removing shifts the offsets of the rest
            members = itertools.islice(list_members(self.client, numeric), self.max_member_batch)
            page = [m.email for m in members]
            if not page:
                return
            self._job(list_id, "remove", page)

    def reconcile(self, list_id: str, in_snapshot: SnapshotFilter) -> int:
        """Remove every member whose address the snapshot does not hold; returns how many. The
        addresses to remove are spooled to a temporary file while the list is read (flat memory;
        removing while paging would shift the pages)."""
        numeric, removed = self.list_id(list_id), 0
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
            writer = csv.writer(spool)
            for page in _chunks(list_members(self.client, numeric), self.max_member_batch):
                keep = in_snapshot([m.email.strip().lower() for m in page])
                writer.writerows([m.email] for m in page if m.email.strip().lower() not in keep)
            spool.seek(0)
            for chunk in _chunks((row[0] for row in csv.reader(spool) if row), self.max_member_batch):
                self._job(list_id, "remove", chunk)
                removed += len(chunk)
        return removed

    def member_count(self, list_id: str) -> int | None:
        return self.client.membership_count(self.list_id(list_id))

    def _resolve(self, list_id: str, member_ids: Sequence[str], *, uploaded_first: bool) -> dict[str, str]:
        given = {m: self._emails[m] for m in member_ids if m in self._emails}
        if uploaded_first and self._email_of is not None:
            found = {m: e for m, e in self._email_of(list_id, list(member_ids)).items() if e}
            return {**given, **found}
        missing = [m for m in member_ids if m not in given]
        if missing and self._email_of is not None:
            given.update({m: e for m, e in self._email_of(list_id, missing).items() if e})
        return given

    def _job(self, list_id: str, action: str, emails: Sequence[str]) -> None:
        result = self.client.manage(self.list_id(list_id), action, [{"Email": e} for e in emails])
        if result.errors:
            raise ContactsRefused(list_id, action, result.errors)

    # ------------------------------------------------------------------ feedback

    def fetch_feedback(self, kind: FeedbackKind, since: datetime, until: datetime) -> Iterator[FeedbackRow]:
        lists = {}
        for name in self._lists:
            try:
                lists[name] = self.list_id(name)
            except MailjetNotFound:
                continue  # not made yet: nobody can have unsubscribed from it
        return feedback_rows(self.client, lists, kind, since, until)

    def current_time(self) -> datetime:
        return self._clock()

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


def _chunks(items: Iterator[object] | Iterator[str], size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk

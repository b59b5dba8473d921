"""``MailjetPlatform``: the ``MembershipPlatform`` protocol on Mailjet contact lists.

A platform list is a Mailjet contact list named by its unique **name** (the canonical platform list
id; the numeric ID is looked up, and the list made when missing, by ``ensure_target``). Members are
the CRM entity ids of the snapshot; Mailjet keys contacts by address, so an add takes the address
the member was given with (``upsert``): asked of ``email_of`` (the task layer: the last synced
snapshot, else the CRM), and held in memory only where that lookup would answer another one.
Mailjet creates a contact when it is added to a list, so ``upsert`` sends nothing.

Adds are ``addnoforce`` bulk jobs only: someone who unsubscribed from the list stays unsubscribed
(invariant 8; ``addforce`` is refused by the client). Removals are ``remove`` jobs. Every job is
polled to its end. A job that ends ``Error`` / ``Abort`` fails the call (``JobFailed``: the sync
stays ``in_progress`` and the next attempt reconciles); the contacts a *completed* job refused one
by one (its error file) are returned as refusals (``UpsertResult`` with Mailjet's reason as the
code), which the membership sync audits while the rest of the list completes.

``remove`` deletes the membership *with* its ``IsUnsubscribed``: someone who unsubscribed in Mailjet
after this run's feedback import read the list, and whom the sync then removes (they left the
selection), would take their "no" with them. So right before every ``remove`` job the list's
unsubscribed memberships are read again, and those of the contacts about to be removed go to the
sink the membership sync gave (``report_unsubscribes_to``: the CRM, as list unsubscribes of that
list) before the job is sent. (``unsub`` would keep the record, but also the membership: a person
who comes back into the selection would then be added with ``addnoforce`` and stay unsubscribed.)

Mailjet can list a list's members, so on doubt the membership sync *reconciles* (``reconcile``:
remove the members the snapshot does not hold, then add everyone with ``addnoforce``, which
changes nothing for members already there) instead of emptying the list: no empty-list window,
and list unsubscribes are kept.
"""

from __future__ import annotations

import csv
import itertools
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

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
    UnsubscribeSink,
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
#: Mailjet's per-contact error for an address that is not one (the other reasons are ERROR)
INVALID_ADDRESS = "Invalid email address"
#: the time up to which the feedback import has read Mailjet's unsubscribes (None: never)
ReadUntil = Callable[[], datetime | None]
#: unsubscribes this much older than that time are re-read before a removal too (late stamps)
READ_UNTIL_MARGIN = timedelta(hours=1)

log = logging.getLogger(__name__)


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
    :param unsubscribes_read_until: up to when the feedback import has read the unsubscribes; before
        a removal only the unsubscribes since then (less ``READ_UNTIL_MARGIN``) are looked up, the
        older ones are in the CRM already. Without it, every unsubscribed member is looked up.
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
        unsubscribes_read_until: ReadUntil | None = None,
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
        self._unsubscribes: UnsubscribeSink | None = None
        self._read_until = unsubscribes_read_until
        #: Mailjet contact ID -> address, of the unsubscribed members read before removals
        self._contact_emails: dict[int, str] = {}

    def report_unsubscribes_to(self, sink: UnsubscribeSink) -> None:
        """Before each ``remove`` job, the list unsubscribes of the contacts it removes go to ``sink``."""
        self._unsubscribes = sink

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

    def add_members(self, list_id: str, member_ids: Sequence[str]) -> list[UpsertResult]:
        """One ``addnoforce`` job; returns the members Mailjet refused one by one."""
        emails = self._resolve(list_id, member_ids, uploaded_first=False)
        unknown = [m for m in member_ids if m not in emails]
        if unknown:
            raise MembersNotFound(list_id, unknown)
        errors = self._job(list_id, "addnoforce", [emails[m] for m in member_ids])
        for member_id in member_ids:  # added or refused: the record or the lookup has the address now
            self._emails.pop(member_id, None)
        return _refusals(emails, member_ids, errors)

    def remove_members(self, list_id: str, member_ids: Sequence[str]) -> list[UpsertResult]:
        """One ``remove`` job (its unsubscribes reported first); returns the members Mailjet refused."""
        emails = self._resolve(list_id, member_ids, uploaded_first=True)  # the address Mailjet holds
        unknown = [m for m in member_ids if m not in emails]
        if unknown:
            raise PermanentPlatformError(
                f"Mailjet list {list_id}: no address known for {len(unknown)} member(s) to remove"
            )
        members = {emails[m].strip().lower(): m for m in member_ids}  # the CRM may hold a new address
        errors = self._job(list_id, "remove", [emails[m] for m in member_ids], members)
        return _refusals(emails, member_ids, errors)

    def empty(self, list_id: str) -> None:
        numeric = self.list_id(list_id)
        while True:  # always the first page: removing shifts the offsets of the rest
            members = itertools.islice(list_members(self.client, numeric), self.max_member_batch)
            page = [m.email for m in members]
            if not page:
                return
            errors = self._job(list_id, "remove", page)
            if errors:  # they would stay on the first page for ever
                raise ContactsRefused(list_id, "remove", errors)

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
                refused = self._job(list_id, "remove", chunk)
                removed += len(chunk) - len({e.strip().lower() for e, _ in refused})
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

    def _job(
        self, list_id: str, action: str, emails: Sequence[str], members: Mapping[str, str] | None = None
    ) -> tuple[tuple[str, str], ...]:
        """One bulk job polled to its end; the (address, reason) pairs Mailjet refused. ``members``:
        address (lower case) -> member id, where known (a removal's unsubscribes then name them)."""
        if action == "remove":
            self._report_unsubscribes(list_id, emails, members or {})
        result = self.client.manage(self.list_id(list_id), action, [{"Email": e} for e in emails])
        if result.errors:
            log.warning(
                "Mailjet list %s: %s refused %d contact(s): %s",
                list_id,
                action,
                len(result.errors),
                "; ".join(f"{mask_email(e)}: {r}" for e, r in result.errors[:5]),
            )
        return result.errors

    def _report_unsubscribes(self, list_id: str, emails: Sequence[str], members: Mapping[str, str]) -> None:
        """The list unsubscribes of these addresses, read now, to the sink before ``remove`` erases
        them. Only the unsubscribed memberships are read, and an address is looked up only for those
        not yet read by a feedback import (and not seen on an earlier removal of this instance)."""
        if self._unsubscribes is None:
            return
        wanted = {e.strip().lower() for e in emails}
        read_until = self._read_until() if self._read_until is not None else None
        since = read_until - READ_UNTIL_MARGIN if read_until is not None else None
        rows = []
        for membership in self.client.memberships(self.list_id(list_id), unsubscribed=True):
            at = membership.unsubscribed_at
            if since is not None and at is not None and at < since:
                continue  # read by a feedback import already
            email = self._contact_emails.get(membership.contact_id)
            if email is None:
                email = self.client.contact(membership.contact_id).email
                self._contact_emails[membership.contact_id] = email
            key = email.strip().lower()
            if key in wanted:
                # with the member id: the CRM matches it even when the person's address changed there
                rows.append(
                    FeedbackRow(
                        FeedbackKind.UNSUBSCRIBES,
                        members.get(key),
                        email,
                        "unsubscribe",
                        at or self._clock(),
                        list_id=list_id,
                    )
                )
        if rows:
            log.info(
                "Mailjet list %s: %d contact(s) about to be removed unsubscribed in Mailjet meanwhile; "
                "their unsubscribes go to the CRM first",
                list_id,
                len(rows),
            )
            self._unsubscribes(rows)

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


def _refusals(
    emails: Mapping[str, str], member_ids: Sequence[str], errors: Sequence[tuple[str, str]]
) -> list[UpsertResult]:
    """A job's per-contact errors as refusals of the members with those addresses."""
    reasons = {e.strip().lower(): r or "refused" for e, r in errors}
    refused = []
    for member_id in member_ids:
        reason = reasons.get(emails[member_id].strip().lower())
        if reason is not None:
            outcome = AddOutcome.INVALID if reason == INVALID_ADDRESS else AddOutcome.ERROR
            refused.append(UpsertResult(member_id, outcome, reason[:60]))
    return refused


def _chunks(items: Iterator[object] | Iterator[str], size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk

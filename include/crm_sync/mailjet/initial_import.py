"""One-off import of an existing Mailjet list into the CRM (seed: "Spotler Activate imports the
existing addresses and any newsletter consent from Mailjet once").

For every member of the chosen list (read page by page; memory stays flat):

* the address is trimmed and lower-cased and matched to CRM entities (``email_normalized``; every
  entity with that address). An address the CRM does not know becomes a new **lead** whose id is
  derived from the address (``mailjet-<sha256 prefix>``), so a re-run finds it instead of making a
  second one. An address that is not an address is counted as rejected.
* the list carries ONE consent (the DAG's param; ``crm_consent_type``). A member who is subscribed
  -- and, for a marketing consent, not excluded from campaigns -- gets that consent *granted*,
  with source ``mailjet:<list>`` and the time Mailjet says they subscribed. A consent the CRM has
  revoked stays revoked: the CRM's "no" is never overridden by an import.
* a member who unsubscribed from the list (or, for a marketing consent, is excluded) has a granted
  consent revoked when the unsubscribe is newer than the grant: Mailjet's "no" reaches the CRM.

Idempotent: a second run finds every entity and consent in its target state and changes nothing
(``ImportReport.changed == 0``; its summary says so). ``dry_run`` computes the same report and
writes nothing. Each page is one transaction, so a crash loses nothing and a retry resumes.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from include.crm_sync.masking import mask_email
from include.crm_sync.platforms.mailjet.client import MailjetClient
from include.crm_sync.platforms.mailjet.errors import MailjetNotFound
from include.crm_sync.platforms.mailjet.members import list_members
from include.crm_sync.platforms.mailjet.models import ListMember
from include.crm_sync.staging.tables import crm_consent, crm_consent_type, crm_entity

log = logging.getLogger(__name__)

PAGE = 1000


class InitialImportError(ValueError):
    """The import cannot run as asked (unknown consent, unknown list)."""


@dataclass
class ImportReport:
    list_name: str
    consent_id: str
    dry_run: bool
    members: int = 0
    rejected: int = 0
    matched: int = 0  #: members whose address the CRM knew (entities matched)
    leads_created: int = 0
    consents_granted: int = 0
    consents_already_granted: int = 0
    consents_kept_revoked: int = 0  #: the CRM said no; the import did not override it
    consents_revoked: int = 0
    not_subscribed: int = 0  #: unsubscribed or excluded members without a consent to revoke

    @property
    def changed(self) -> int:
        return self.leads_created + self.consents_granted + self.consents_revoked

    def summary(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        if not self.changed:
            return (
                f"Mailjet list {self.list_name!r}: {self.members} members read; nothing "
                f"{'would change' if self.dry_run else 'changed'} (the CRM already matches)"
            )
        return (
            f"Mailjet list {self.list_name!r}: {self.members} members read; {verb}: "
            f"{self.leads_created} leads created, {self.consents_granted} {self.consent_id} consents "
            f"granted, {self.consents_revoked} revoked ({self.consents_already_granted} already granted, "
            f"{self.consents_kept_revoked} kept revoked, {self.rejected} rejected)"
        )

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "changed": self.changed, "summary": self.summary()}


def lead_id(email_normalized: str) -> str:
    """The id of the lead made for an address the CRM did not know (stable: re-runs find it)."""
    return "mailjet-" + hashlib.sha256(email_normalized.encode("utf-8")).hexdigest()[:24]


def normalise(email: str) -> str | None:
    value = (email or "").strip().lower()
    local, at, domain = value.partition("@")
    return value if at and local and "." in domain and " " not in value else None


def import_mailjet_list(
    engine: sa.Engine,
    client: MailjetClient,
    *,
    list_name: str,
    consent_id: str,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Import the members of the Mailjet list ``list_name`` with ``consent_id`` (see module doc)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        marketing = conn.execute(
            sa.select(crm_consent_type.c.is_marketing).where(crm_consent_type.c.consent_id == consent_id)
        ).scalar_one_or_none()
    if marketing is None:
        raise InitialImportError(f"consent {consent_id!r} is not a CRM consent type (crm_consent_type)")
    list_id = client.find_list(list_name)
    if list_id is None:
        raise InitialImportError(f"Mailjet has no list named {list_name!r}")
    report = ImportReport(list_name, consent_id, dry_run)
    source = f"mailjet:{list_name}"[:200]
    try:
        for page in _pages(list_members(client, list_id), PAGE):
            with engine.connect() as conn:
                transaction = conn.begin()
                try:
                    _import_page(conn, page, report, consent_id, bool(marketing), source, now)
                except BaseException:
                    transaction.rollback()
                    raise
                if dry_run:
                    transaction.rollback()  # the same statements, none kept
                else:
                    transaction.commit()
    except MailjetNotFound as exc:
        raise InitialImportError(f"Mailjet list {list_name!r} disappeared during the import: {exc}") from exc
    log.info("%s", report.summary())
    return report


def _pages(items: Iterable[ListMember], size: int) -> Iterator[list[ListMember]]:
    iterator = iter(items)
    while page := list(itertools.islice(iterator, size)):
        yield page


def _import_page(
    conn: sa.Connection,
    page: list[ListMember],
    report: ImportReport,
    consent_id: str,
    marketing: bool,
    source: str,
    now: datetime,
    *,
    regrant_newer: bool = False,
) -> None:
    """Apply one page of members. ``regrant_newer``: a subscription made in Mailjet after the CRM's
    revocation is a new "yes" and grants the consent again (sign-ups; never the initial import)."""
    report.members += len(page)
    wanted: dict[str, ListMember] = {}
    for member in page:
        email = normalise(member.email)
        if email is None:
            report.rejected += 1
            log.warning("Mailjet member %s is not a valid address; skipped", mask_email(member.email))
            continue
        wanted.setdefault(email, member)
    if not wanted:
        return
    entities: dict[str, list[str]] = {}
    for entity_id, email in conn.execute(
        sa.select(crm_entity.c.entity_id, crm_entity.c.email_normalized).where(
            crm_entity.c.email_normalized.in_(list(wanted))
        )
    ):
        entities.setdefault(email, []).append(entity_id)
    report.matched += sum(1 for e in wanted if e in entities)
    new_leads = [
        {
            "entity_id": lead_id(email),
            "entity_type": "lead",
            "email": member.email.strip(),
            "email_normalized": email,
            "attributes": {"source": source},
            "is_bounced": False,
            "created_at": now,
            "updated_at": now,
        }
        for email, member in wanted.items()
        if email not in entities
    ]
    if new_leads:
        conn.execute(sa.insert(crm_entity), new_leads)
        report.leads_created += len(new_leads)
        for lead in new_leads:
            entities[lead["email_normalized"]] = [lead["entity_id"]]
    ids = [entity_id for ids_ in entities.values() for entity_id in ids_]
    current = {
        row.entity_id: row
        for row in conn.execute(
            sa.select(
                crm_consent.c.entity_id,
                crm_consent.c.status,
                crm_consent.c.granted_at,
                crm_consent.c.revoked_at,
            ).where(crm_consent.c.consent_id == consent_id, crm_consent.c.entity_id.in_(ids))
        )
    }
    grants, revokes, regrants = [], [], []
    for email, member in wanted.items():
        says_yes = not member.unsubscribed and not (marketing and member.excluded)
        for entity_id in entities[email]:
            row = current.get(entity_id)
            if says_yes:
                if row is None:
                    grants.append(
                        {
                            "entity_id": entity_id,
                            "consent_id": consent_id,
                            "status": "granted",
                            "granted_at": member.subscribed_at or now,
                            "revoked_at": None,
                            "source": source,
                            "updated_at": now,
                        }
                    )
                elif row.status == "granted":
                    report.consents_already_granted += 1
                elif regrant_newer and _newer(member.subscribed_at, row.revoked_at):
                    regrants.append({"eid": entity_id, "at": member.subscribed_at})
                else:
                    report.consents_kept_revoked += 1
                continue
            said_no_at = _no_time(member, marketing)
            if (
                row is not None
                and row.status == "granted"
                and (row.granted_at is None or said_no_at is None or said_no_at >= _aware(row.granted_at))
            ):
                revokes.append({"eid": entity_id, "at": said_no_at or now})
            else:
                report.not_subscribed += 1
    if grants:
        conn.execute(sa.insert(crm_consent), grants)
        report.consents_granted += len(grants)
    for item in revokes:
        conn.execute(
            sa.update(crm_consent)
            .where(crm_consent.c.entity_id == item["eid"], crm_consent.c.consent_id == consent_id)
            .values(status="revoked", revoked_at=item["at"], source=source, updated_at=now)
        )
    report.consents_revoked += len(revokes)
    for item in regrants:
        conn.execute(
            sa.update(crm_consent)
            .where(crm_consent.c.entity_id == item["eid"], crm_consent.c.consent_id == consent_id)
            .values(status="granted", granted_at=item["at"], revoked_at=None, source=source, updated_at=now)
        )
    report.consents_granted += len(regrants)


def _newer(subscribed_at: datetime | None, revoked_at: datetime | None) -> bool:
    return subscribed_at is not None and (revoked_at is None or subscribed_at > _aware(revoked_at))


def _no_time(member: ListMember, marketing: bool) -> datetime | None:
    times = [member.unsubscribed_at if member.unsubscribed else None]
    if marketing and member.excluded:
        times.append(member.excluded_at)
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

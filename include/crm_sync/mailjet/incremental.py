"""The incremental Mailjet run (every 15 minutes by default, next to the nightly membership sync):
it only ADDS, both ways, for every Mailjet list of the config.

1. **Mailjet -> CRM, sign-ups.** Memberships of the list subscribed since the last run (minus an
   overlap) -- but not those of people our membership record holds in the list: the nightly sync
   or this run added them, that is no "yes" of theirs (a CRM revocation recorded with an earlier
   event time, e.g. an unsubscribe the response import brings in after the night that added the
   person, would otherwise look older than that add and be undone) -- are imported like the
   initial import (``initial_import._import_page``): address matched or a lead made, the list's
   consent granted with source ``mailjet:<list>`` -- and a subscription newer than the CRM's
   revocation grants it again (a person's own new "yes").
2. **CRM -> Mailjet, new profiles.** CRM entities whose consent for the list was granted since the
   last run (minus the overlap), with an address, not bounced, not blocklisted and not yet on the
   list, are added with ``addnoforce`` (an unsubscribe in Mailjet stays), in bulk jobs polled to
   their end, then recorded in the membership record as the nightly sync would (so the nightly
   stays incremental). The nightly sync still applies every rule (feedback first, the full
   selection, guards) and removes anyone the incremental run added who does not belong.

Both steps run under the platform list's writer lock (``list_lock``: one writer per list, shared
with the nightly sync); the watermarks (``export_watermark``: ``mailjet:signups:<list>``,
``mailjet:new_profiles:<list>``) move only after the step succeeded, so a crash repeats the
window and re-applies nothing twice (every step is idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from include.crm_sync.feedback.window import read_watermark, write_watermark
from include.crm_sync.mailjet.initial_import import ImportReport, _import_page
from include.crm_sync.platforms.base import AddOutcome, MembershipTarget, Recipient
from include.crm_sync.platforms.mailjet.models import ListMember
from include.crm_sync.platforms.mailjet.platform import MailjetPlatform
from include.crm_sync.staging.tables import (
    crm_blocklist,
    crm_consent,
    crm_consent_type,
    crm_entity,
    platform_list_sync,
    platform_membership,
)
from include.crm_sync.sync.membership_store import SYNCED, MembershipStore, fields_hash

log = logging.getLogger(__name__)

#: the writer lock of one platform list: ``list_lock("CRM newsletter")`` is held around each write.
#: The task layer passes the lock of branch ``writerlock`` (``hold_writer_lock(engine,
#: LockKey.platform_list("mailjet", name), ...)``); the default holds nothing.
ListLock = Callable[[str], AbstractContextManager[object]]
PAGE = 1000


@dataclass
class IncrementalReport:
    list_name: str
    consent_id: str
    signups: dict[str, object] = field(default_factory=dict)
    profiles_added: int = 0
    profiles_recorded: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_incremental(
    engine: sa.Engine,
    platform: MailjetPlatform,
    lists: Sequence[tuple[str, str]],
    *,
    list_lock: ListLock | None = None,
    overlap: timedelta = timedelta(minutes=10),
    first_lookback: timedelta = timedelta(days=1),
    now: datetime | None = None,
    add_profiles: bool = True,
) -> list[IncrementalReport]:
    """Both steps for each (Mailjet list name, consent id) of ``lists``. ``add_profiles=False``
    runs step 1 only: the nightly sync's pre-step after its feedback import, so a sign-up made
    since the last incremental run is in the CRM (and in the snapshot) before the list is synced."""
    lock = list_lock or (lambda _name: nullcontext())
    reports = []
    for list_name, consent_id in lists:
        moment = now or datetime.now(UTC)
        report = IncrementalReport(list_name, consent_id)
        with lock(list_name):
            platform.ensure_target(MembershipTarget(list_name, list_name))
            report.signups = import_signups(
                engine, platform, list_name, consent_id, moment, overlap, first_lookback
            ).as_dict()
            if add_profiles:
                report.profiles_added, report.profiles_recorded = add_new_profiles(
                    engine, platform, list_name, consent_id, moment, overlap, first_lookback
                )
        log.info(
            "Mailjet list %s: %s sign-ups read, %s consents granted; %d new CRM profiles added",
            list_name,
            report.signups.get("members"),
            report.signups.get("consents_granted"),
            report.profiles_added,
        )
        reports.append(report)
    return reports


def _since(engine: sa.Engine, name: str, now: datetime, overlap: timedelta, first: timedelta) -> datetime:
    with engine.connect() as conn:
        mark = read_watermark(conn, name)
    if mark is None:
        return now - first
    moment = mark.watermark if mark.watermark.tzinfo else mark.watermark.replace(tzinfo=UTC)
    return moment - overlap


def _advance(engine: sa.Engine, name: str, now: datetime) -> None:
    with engine.begin() as conn:
        write_watermark(conn, name, now, success_at=now, file_id=None)


def import_signups(
    engine: sa.Engine,
    platform: MailjetPlatform,
    list_name: str,
    consent_id: str,
    now: datetime,
    overlap: timedelta,
    first_lookback: timedelta,
) -> ImportReport:
    """Step 1: memberships subscribed in Mailjet since the watermark reach the CRM."""
    name = f"mailjet:signups:{list_name}"[:100]
    since = _since(engine, name, now, overlap, first_lookback)
    with engine.connect() as conn:
        marketing = conn.execute(
            sa.select(crm_consent_type.c.is_marketing).where(crm_consent_type.c.consent_id == consent_id)
        ).scalar_one()
    client, report = platform.client, ImportReport(list_name, consent_id, dry_run=False)
    page: list[ListMember] = []

    store = MembershipStore(platform.name, list_name)

    def flush() -> None:
        ours = _recorded_in_list(engine, list_name, page)
        page[:] = [m for m in page if m.email.strip().lower() not in ours]
        with engine.begin() as conn:
            _import_page(
                conn,
                page,
                report,
                consent_id,
                bool(marketing),
                f"mailjet:{list_name}"[:200],
                now,
                regrant_newer=True,
            )
        # they are on the list already: recorded, the nightly sync neither re-adds them nor doubts
        _record(engine, store, list_name, _consented_entities(engine, consent_id, page), now)
        page.clear()

    for membership in client.recent_memberships(platform.list_id(list_name), since):
        if membership.unsubscribed:
            continue  # the nightly feedback import handles unsubscribes
        contact = client.contact(membership.contact_id)
        page.append(
            ListMember(
                contact.contact_id,
                contact.email,
                False,
                contact.excluded,
                membership.subscribed_at,
                None,
                contact.excluded_at,
            )
        )
        if len(page) >= PAGE:
            flush()
    if page:
        flush()
    _advance(engine, name, now)
    return report


def add_new_profiles(
    engine: sa.Engine,
    platform: MailjetPlatform,
    list_name: str,
    consent_id: str,
    now: datetime,
    overlap: timedelta,
    first_lookback: timedelta,
) -> tuple[int, int]:
    """Step 2: CRM profiles consented since the watermark join the list (``addnoforce``);
    returns (added, recorded in the membership record)."""
    name = f"mailjet:new_profiles:{list_name}"[:100]
    since = _since(engine, name, now, overlap, first_lookback)
    store = MembershipStore(platform.name, list_name)
    added = recorded = 0
    after = ""
    while True:
        with engine.connect() as conn:
            rows = conn.execute(_candidates(list_name, consent_id, since, after)).all()
        if not rows:
            break
        after = rows[-1].entity_id
        recipients = [Recipient(r.entity_id, r.email_normalized) for r in rows]
        # remembers the addresses (Mailjet makes contacts on add); a member whose address changed
        # since its last upload is left to the nightly sync, which moves the membership
        results = platform.upsert((), recipients)
        accepted = {u.member_id for u in results if u.outcome is AddOutcome.ADDED}
        recipients = [r for r in recipients if r.recipient_id in accepted]
        if not recipients:
            continue
        ids = [r.recipient_id for r in recipients]
        refused: set[str] = set()
        for start in range(0, len(ids), platform.max_member_batch):
            results = platform.add_members(list_name, ids[start : start + platform.max_member_batch])
            refused.update(r.member_id for r in results)  # per-contact errors: the nightly retries them
        recipients = [r for r in recipients if r.recipient_id not in refused]
        added += len(recipients)
        recorded += _record(engine, store, list_name, recipients, now)
    _advance(engine, name, now)
    return added, recorded


def _candidates(list_name: str, consent_id: str, since: datetime, after: str) -> sa.Select:
    e, c, m = crm_entity, crm_consent, platform_membership
    on_list = (
        sa.select(m.c.member_id)
        .where(
            m.c.platform == "mailjet",
            m.c.platform_list_id == list_name,
            m.c.member_id == e.c.entity_id,
            m.c.in_audience,
        )
        .exists()
    )
    blocked = (
        sa.select(crm_blocklist.c.email_normalized)
        .where(crm_blocklist.c.email_normalized == e.c.email_normalized)
        .exists()
    )
    return (
        sa.select(e.c.entity_id, e.c.email_normalized)
        .join(c, c.c.entity_id == e.c.entity_id)
        .where(
            c.c.consent_id == consent_id,
            c.c.status == "granted",
            c.c.updated_at >= since,
            e.c.email_normalized.is_not(None),
            sa.not_(e.c.is_bounced),
            sa.not_(blocked),
            sa.not_(on_list),
            e.c.entity_id > after,
        )
        .order_by(e.c.entity_id)
        .limit(PAGE)
    )


#: which entity keeps a shared address in a snapshot (sql/queries/extract_insert.sql)
_TYPE_RANK = {"contact": 0, "lead": 1, "account": 2}


def _recorded_in_list(engine: sa.Engine, list_name: str, members: list[ListMember]) -> set[str]:
    """The addresses of ``members`` whose entity our membership record holds in the list (we added
    them: their membership is not a sign-up)."""
    emails = sorted({m.email.strip().lower() for m in members})
    if not emails:
        return set()
    m = platform_membership
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.select(crm_entity.c.email_normalized)
                .join(m, m.c.member_id == crm_entity.c.entity_id)
                .where(
                    m.c.platform == "mailjet",
                    m.c.platform_list_id == list_name,
                    m.c.in_audience,
                    crm_entity.c.email_normalized.in_(emails),
                )
            ).scalars()
        )


def _consented_entities(engine: sa.Engine, consent_id: str, members: list[ListMember]) -> list[Recipient]:
    """Per address of ``members``, the entity a snapshot would hold, where its consent is granted."""
    emails = {m.email.strip().lower() for m in members}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(crm_entity.c.entity_id, crm_entity.c.entity_type, crm_entity.c.email_normalized)
            .join(crm_consent, crm_consent.c.entity_id == crm_entity.c.entity_id)
            .where(
                crm_consent.c.consent_id == consent_id,
                crm_consent.c.status == "granted",
                crm_entity.c.email_normalized.in_(sorted(emails)),
            )
        ).all()
    chosen: dict[str, tuple[int, str]] = {}
    for entity_id, entity_type, email in rows:
        key = (_TYPE_RANK.get(entity_type, 3), entity_id)
        if email not in chosen or key < chosen[email]:
            chosen[email] = key
    return [Recipient(entity_id, email) for email, (_, entity_id) in sorted(chosen.items())]


def _record(
    engine: sa.Engine, store: MembershipStore, list_name: str, recipients: list[Recipient], now: datetime
) -> int:
    """Record the confirmed adds as the nightly sync would (Mailjet lists carry no attributes, so
    the fields hash is the address's), and count them in the sync state -- but only when the
    nightly sync has completed once (before that, its first run is a full one anyway)."""
    with engine.begin() as conn:
        state = store.state(conn)
        if state is None or state.status != SYNCED:
            return 0
        known = store.recorded(conn, [r.recipient_id for r in recipients])
        new = [r for r in recipients if not (known.get(r.recipient_id) and known[r.recipient_id].in_audience)]
        if not new:
            return 0
        store.record_upserts(conn, [(r.recipient_id, fields_hash((), r.email, ()), "OK") for r in new], now)
        store.mark(conn, [r.recipient_id for r in new], in_audience=True, now=now)
        conn.execute(
            sa.update(platform_list_sync)
            .where(
                platform_list_sync.c.platform == "mailjet", platform_list_sync.c.platform_list_id == list_name
            )
            .values(members=platform_list_sync.c.members + len(new))
        )
        return len(new)

"""Reconcile our record of each label (``flexmail_label_member``) with Flexmail's own: for when
in doubt -- a crashed run, labels changed by hand in Flexmail -- on the run param ``full_resync``.

Reads, per label, the contacts carrying it (``/contact-interest-label-subscriptions``) and, once,
the account's contacts for their addresses (only the carriers' ids are kept: memory grows with
the labels' members, not the account). Then the RECORD is repaired both ways, by address:

* recorded but not carried: the member row goes, so the import adds the label again if the
  contact still qualifies (and no removal is spent on a label nobody carries);
* carried but not recorded: a confirmed member row is written -- for the entity the label's
  snapshot holds with that address, else the CRM entity with it, else ``flexmail:<contact id>``
  -- so the sync that follows queues its removal (urgent when the entity is unknown or without
  consent) if it does not qualify, and does not import it again if it does.

Flexmail itself is then repaired by the ordinary sync: removals first, then the import. Nothing
here writes to Flexmail; a re-run after a crash here repeats the same repairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from include.crm_sync.platforms.flexmail.client import FlexmailClient
from include.crm_sync.staging.tables import crm_entity as E
from include.crm_sync.staging.tables import flexmail_label_member as M
from include.crm_sync.staging.tables import list_snapshot as S
from include.crm_sync.sync import label_store as store


@dataclass
class ReconcileReport:
    #: label -> member rows dropped (recorded, not carried)
    dropped: dict[str, int] = field(default_factory=dict)
    #: label -> member rows written (carried, not recorded)
    recorded: dict[str, int] = field(default_factory=dict)


def reconcile_labels(
    engine: sa.Engine,
    client: FlexmailClient,
    runs: Sequence[tuple[int, str]],
    label_ids: dict[str, int],
    now: datetime,
) -> ReconcileReport:
    """``runs``: (list run id, label name) of the labels to reconcile; ``label_ids``: the account's
    label name -> id (read by the caller, which checked the names)."""
    carried_ids = {label: set(client.label_member_ids(label_ids[label])) for _, label in runs}
    wanted = set().union(*carried_ids.values()) if carried_ids else set()
    address_of: dict[int, str] = {}
    if wanted:
        for page in client.contact_pages():
            address_of.update((c.id, c.email.strip().lower()) for c in page if c.id in wanted)
    report = ReconcileReport()
    for list_run_id, label in runs:
        carried = {address_of[i]: i for i in carried_ids[label] if i in address_of}
        with engine.begin() as conn:
            recorded = dict(
                conn.execute(sa.select(M.c.member_id, M.c.email).where(M.c.label_name == label)).all()
            )
            stale = [member for member, email in recorded.items() if email not in carried]
            for member in stale:
                store.removal_done(conn, label, member)  # nobody carries it: no removal to make
            known = set(recorded.values())
            missing = {email: i for email, i in carried.items() if email not in known}
            taken = set(recorded)  # an entity recorded under another address keeps that row
            rows = [
                {
                    "label_name": label,
                    "member_id": _member_for(conn, list_run_id, email, contact_id, taken),
                    "email": email,
                    "import_id": None,
                    "confirmed": True,
                    "updated_at": now,
                }
                for email, contact_id in sorted(missing.items())
            ]
            if rows:
                conn.execute(M.insert(), rows)
        report.dropped[label], report.recorded[label] = len(stale), len(rows)
    return report


def _member_for(conn: sa.Connection, list_run_id: int, email: str, contact_id: int, taken: set[str]) -> str:
    """The entity a carried address stands for: the snapshot's, else the CRM's, else Flexmail's id."""
    member = conn.execute(
        sa.select(S.c.recipient_id).where(S.c.list_run_id == list_run_id, S.c.email == email)
    ).scalar()
    if member is None:
        member = conn.execute(
            sa.select(E.c.entity_id).where(E.c.email_normalized == email).order_by(E.c.entity_id).limit(1)
        ).scalar()
    if member is None or member in taken:
        member = f"flexmail:{contact_id}"
    taken.add(member)
    return member

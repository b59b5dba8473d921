"""Recording what the platform answered for one batch, in one transaction.

Every recipient's code is kept (``list_batch.codes``: one digit per recipient in upload order),
refused recipients become ``list_rejected`` rows with their code, and what the platform's refusals
teach is recorded in the CRM so that nobody is sent night after night only to be refused:

* code 3 (blocklisted): the address goes into ``crm_blocklist``;
* code 2 (unsubscribed on the platform): the consents are revoked as the feedback import would
  revoke them for an unsubscribe from an unknown list: every marketing consent, since Optimizely
  keeps one client-wide unsubscribe list (``unsubscribe_consent`` narrows it to one consent for a
  platform whose unsubscribes are per list);
* code 4 (bounce overflow): the entity is marked bounced (category ``overflow``), as the import
  marks an overflow bounce.

Codes 2 and 4 reach the refused entity and every entity with its normalised address: the platform
keys recipients by address, so a lead sharing it would otherwise be sent the next night instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from include.crm_sync.platforms.base import AddOutcome, AddResult, Recipient
from include.crm_sync.staging.dml import insert_ignoring_conflicts
from include.crm_sync.staging.tables import (
    crm_blocklist,
    crm_consent,
    crm_consent_type,
    crm_entity,
    list_batch,
    list_rejected,
)

REASONS: dict[AddOutcome, str] = {
    AddOutcome.INVALID: "platform: validation failed (invalid address)",
    AddOutcome.UNSUBSCRIBED: "platform: recipient is unsubscribed",
    AddOutcome.BLOCKLISTED: "platform: address is blocklisted",
    AddOutcome.BOUNCE_OVERFLOW: "platform: bounce overflow",
    AddOutcome.FILTERED: "platform: filtered",
    AddOutcome.ERROR: "platform: other error",
}


#: one character per outcome in ``list_batch.codes``
_DIGIT: dict[AddOutcome, str] = {outcome: str(int(outcome)) for outcome in AddOutcome}
_ACCEPTED_DIGITS = frozenset(_DIGIT[o] for o in AddOutcome if o.accepted)
_OUTCOME = attrgetter("outcome")


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    batch_no: int
    first_seq: int
    recipients: Sequence[Recipient]
    results: Sequence[AddResult]

    @property
    def outcomes(self) -> Sequence[AddOutcome]:
        """Every recipient's outcome in upload order (read as a column when the platform gave one)."""
        outcomes = getattr(self.results, "outcomes", None)
        return outcomes if outcomes is not None else list(map(_OUTCOME, self.results))

    @property
    def code_digits(self) -> str:
        """Every recipient's code, one digit each, in upload order (what ``list_batch.codes`` holds)."""
        return "".join(map(_DIGIT.__getitem__, self.outcomes))

    @property
    def codes(self) -> Counter[int]:
        return Counter(int(r.outcome) for r in self.results)

    @property
    def accepted(self) -> int:
        digits = self.code_digits
        return sum(digits.count(d) for d in _ACCEPTED_DIGITS)


def record_batch(
    engine: Engine | Connection,
    list_run_id: int,
    outcome: BatchOutcome,
    run_id: str,
    *,
    unsubscribe_consent: str | None = None,
) -> None:
    """Persist one confirmed batch, in one transaction. Idempotent: re-recording it changes nothing.

    ``engine`` may be a ``Connection`` (not in a transaction) that the caller keeps for many
    batches: the refill does, to save a pool checkout (ping, reset) per batch.

    Set-based: the codes become one string with C-level joins and counts; only the refused
    recipients (usually none or a few per batch) are looked at one by one.
    """
    if len(outcome.results) != len(outcome.recipients):
        raise ValueError(
            f"batch {outcome.batch_no}: platform returned {len(outcome.results)} results "
            f"for {len(outcome.recipients)} recipients"
        )
    now = datetime.now(UTC)
    outcomes = outcome.outcomes
    digits = "".join(map(_DIGIT.__getitem__, outcomes))
    accepted = sum(digits.count(d) for d in _ACCEPTED_DIGITS)
    rejected = []
    blocked = []
    learned = _Learned()
    if accepted != len(digits):
        for offset, digit in enumerate(digits):
            if digit in _ACCEPTED_DIGITS:
                continue
            refused = outcomes[offset]
            recipient = outcome.recipients[offset]
            rejected.append(
                {
                    "list_run_id": list_run_id,
                    "seq": outcome.first_seq + offset,
                    "recipient_id": recipient.recipient_id,
                    "code": int(refused),
                    "reason": REASONS[refused],
                }
            )
            if refused is AddOutcome.BLOCKLISTED:
                blocked.append(
                    {
                        "email_normalized": recipient.email.strip().lower(),
                        "is_pattern": False,
                        "reason": "refused by the platform (code 3)",
                        "source": f"refill {run_id}",
                        "added_at": now,
                    }
                )
            elif refused is AddOutcome.UNSUBSCRIBED:
                learned.unsubscribed.append(recipient)
            elif refused is AddOutcome.BOUNCE_OVERFLOW:
                learned.overflowed.append(recipient)
    row = {
        "list_run_id": list_run_id,
        "batch_no": outcome.batch_no,
        "first_seq": outcome.first_seq,
        "last_seq": outcome.first_seq + len(digits) - 1,
        "codes": digits,
        "accepted": accepted,
        "confirmed_at": now,
    }
    source = f"refill {run_id}"
    if isinstance(engine, Connection):
        with engine.begin():
            _write(engine, row, rejected, blocked)
            learned.record(engine, now, source, unsubscribe_consent)
    else:
        with engine.begin() as conn:
            _write(conn, row, rejected, blocked)
            learned.record(conn, now, source, unsubscribe_consent)


def _write(conn: Connection, row: dict, rejected: list, blocked: list) -> None:
    insert_ignoring_conflicts(conn, list_batch, [row])
    insert_ignoring_conflicts(conn, list_rejected, rejected)
    insert_ignoring_conflicts(conn, crm_blocklist, blocked)


@dataclass(slots=True)
class _Learned:
    """Recipients refused as unsubscribed (code 2) or over the bounce limit (code 4)."""

    unsubscribed: list[Recipient] = field(default_factory=list)
    overflowed: list[Recipient] = field(default_factory=list)

    def record(self, conn: Connection, now: datetime, source: str, consent_id: str | None) -> None:
        """Revoke / mark bounced; entities already in that state are left untouched (idempotent)."""
        if self.unsubscribed:
            consents = (
                crm_consent.c.consent_id == consent_id
                if consent_id is not None
                else crm_consent.c.consent_id.in_(
                    sa.select(crm_consent_type.c.consent_id).where(crm_consent_type.c.is_marketing)
                )
            )
            conn.execute(
                crm_consent.update()
                .where(
                    crm_consent.c.entity_id.in_(_entities(self.unsubscribed)),
                    consents,
                    crm_consent.c.status != "revoked",
                )
                .values(
                    status="revoked",
                    revoked_at=now,
                    updated_at=now,
                    source=f"{source}: unsubscribed on the platform (code 2)",
                )
            )
        if self.overflowed:
            conn.execute(
                crm_entity.update()
                .where(
                    crm_entity.c.entity_id.in_(_entities(self.overflowed)), sa.not_(crm_entity.c.is_bounced)
                )
                .values(is_bounced=True, bounced_at=now, bounce_category="overflow", updated_at=now)
            )


def _entities(recipients: Sequence[Recipient]) -> sa.Select:
    """The refused entities and every entity with one of their normalised addresses."""
    ids = sorted({r.recipient_id for r in recipients})
    addresses = sorted({r.email.strip().lower() for r in recipients if r.email and r.email.strip()})
    return sa.select(crm_entity.c.entity_id).where(
        sa.or_(crm_entity.c.entity_id.in_(ids), crm_entity.c.email_normalized.in_(addresses))
    )

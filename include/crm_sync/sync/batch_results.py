"""Recording what the platform answered for one batch, in one transaction.

Every recipient's code is kept (``list_batch.codes``: one digit per recipient in upload order),
refused recipients become ``list_rejected`` rows with their code, and addresses the platform
reported as blocklisted (code 3) go into ``crm_blocklist`` so the next extraction leaves them out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from include.crm_sync.platforms.base import AddOutcome, AddResult, Recipient
from include.crm_sync.staging.dml import insert_ignoring_conflicts
from include.crm_sync.staging.tables import crm_blocklist, list_batch, list_rejected

REASONS: dict[AddOutcome, str] = {
    AddOutcome.INVALID: "platform: validation failed (invalid address)",
    AddOutcome.UNSUBSCRIBED: "platform: recipient is unsubscribed",
    AddOutcome.BLOCKLISTED: "platform: address is blocklisted",
    AddOutcome.BOUNCE_OVERFLOW: "platform: bounce overflow",
    AddOutcome.FILTERED: "platform: filtered",
    AddOutcome.ERROR: "platform: other error",
}


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    batch_no: int
    first_seq: int
    recipients: Sequence[Recipient]
    results: Sequence[AddResult]

    @property
    def codes(self) -> Counter[int]:
        return Counter(int(r.outcome) for r in self.results)

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.outcome.accepted)


def record_batch(engine: Engine | Connection, list_run_id: int, outcome: BatchOutcome, run_id: str) -> None:
    """Persist one confirmed batch, in one transaction. Idempotent: re-recording it changes nothing.

    ``engine`` may be a ``Connection`` (not in a transaction) that the caller keeps for many
    batches: the refill does, to save a pool checkout (ping, reset) per batch.
    """
    if len(outcome.results) != len(outcome.recipients):
        raise ValueError(
            f"batch {outcome.batch_no}: platform returned {len(outcome.results)} results "
            f"for {len(outcome.recipients)} recipients"
        )
    now = datetime.now(UTC)
    rejected = []
    blocked = []
    for offset, (recipient, result) in enumerate(zip(outcome.recipients, outcome.results, strict=True)):
        if result.outcome.accepted:
            continue
        rejected.append(
            {
                "list_run_id": list_run_id,
                "seq": outcome.first_seq + offset,
                "recipient_id": recipient.recipient_id,
                "code": int(result.outcome),
                "reason": REASONS[result.outcome],
            }
        )
        if result.outcome is AddOutcome.BLOCKLISTED:
            blocked.append(
                {
                    "email_normalized": recipient.email.strip().lower(),
                    "is_pattern": False,
                    "reason": "refused by the platform (code 3)",
                    "source": f"refill {run_id}",
                    "added_at": now,
                }
            )
    if isinstance(engine, Connection):
        with engine.begin():
            _write(engine, list_run_id, outcome, now, rejected, blocked)
    else:
        with engine.begin() as conn:
            _write(conn, list_run_id, outcome, now, rejected, blocked)


def _write(
    conn: Connection, list_run_id: int, outcome: BatchOutcome, now: datetime, rejected: list, blocked: list
) -> None:
    insert_ignoring_conflicts(
        conn,
        list_batch,
        [
            {
                "list_run_id": list_run_id,
                "batch_no": outcome.batch_no,
                "first_seq": outcome.first_seq,
                "last_seq": outcome.first_seq + len(outcome.recipients) - 1,
                "codes": "".join(str(int(r.outcome)) for r in outcome.results),
                "accepted": outcome.accepted,
                "confirmed_at": now,
            }
        ],
    )
    insert_ignoring_conflicts(conn, list_rejected, rejected)
    insert_ignoring_conflicts(conn, crm_blocklist, blocked)

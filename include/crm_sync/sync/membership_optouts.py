"""Opt-outs a membership sync found on the way go back to the CRM as unsubscribes: those an upsert
revealed (Spotler's CONTACT_OPTOUT), and Mailjet list unsubscribes re-read right before a removal
would erase them.

They take the feedback import's own path -- a landing file, the ledger, ``apply_feedback_file``
(``include/crm_sync/feedback``) -- so they are stored, matched and applied exactly like the
platform's exported opt-outs, idempotently, and counted in the ledger. A row without a list id is
account-wide (Spotler's opt-out): every marketing consent of the entity is revoked (a
service-messages consent stays), as for the platform's own opt-out feed. A row with a list id (a
Mailjet list unsubscribe) revokes the consent ``list_consents`` gives that list.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from include.crm_sync.feedback import apply_feedback_file
from include.crm_sync.feedback.landing import landing_file_name, write_landing_file
from include.crm_sync.platforms.base import FeedbackKind, FeedbackRow
from include.crm_sync.sync.membership import OptOutSink


def crm_opt_out_sink(
    engine: sa.Engine,
    *,
    platform: str,
    landing_dir: Path | str,
    run_id: str,
    list_consents: Mapping[str, str] | None = None,
) -> OptOutSink:
    """An ``OptOutSink`` for ``sync_membership`` that applies each batch of opt-outs to the CRM."""
    directory = Path(landing_dir)

    def apply(rows: Sequence[FeedbackRow]) -> None:
        if not rows:
            return
        times = [r.occurred_at for r in rows]
        # one file per batch; the suffix keeps two batches of the same instant apart
        name = landing_file_name(
            f"{platform}-upsert",
            FeedbackKind.UNSUBSCRIBES,
            min(times),
            max(times) + timedelta(milliseconds=1),
            f"{run_id}-{uuid.uuid4().hex[:8]}",
        )
        directory.mkdir(parents=True, exist_ok=True)
        landed = write_landing_file(directory, name, FeedbackKind.UNSUBSCRIBES, rows)
        apply_feedback_file(
            engine,
            landed.path,
            FeedbackKind.UNSUBSCRIBES,
            list_consents=dict(list_consents or {}),
            run_id=run_id,
            source=f"{platform}:upsert_optout",
        )

    return apply

"""Flexmail's "no" back to the CRM: every contact blacklisted (unsubscribed) in Flexmail becomes an
account-wide unsubscribe row, applied through the feedback import's own path before the sync
(``include/crm_sync/sync/membership_optouts.crm_opt_out_sink``), so the snapshot leaves them out
and their labels are removed. Flexmail gives no unsubscribe date in the listing, so the time of
reading stands for it; the apply is idempotent, so re-reading the whole blacklist nightly is safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from include.crm_sync.platforms.base import FeedbackKind, FeedbackRow
from include.crm_sync.platforms.flexmail.client import FlexmailClient


def blacklisted_feedback(client: FlexmailClient, read_at: datetime) -> Iterator[FeedbackRow]:
    for contact in client.blacklisted_contacts():
        yield FeedbackRow(FeedbackKind.UNSUBSCRIBES, None, contact.email, "unsubscribe", read_at)

"""Which platform mailing belongs to which CRM campaign (``mailing_campaign``).

Two sources fill the table: the configuration (``mailing_campaigns`` in
config/response_import.yaml, source ``config``) and closed loop (a mailing sent for a CRM campaign
carries the campaign's wave id in the response files, source ``closed_loop``; see
``sql/responses/map_waves.sql``). The configuration wins: it replaces a closed-loop mapping of the
same mailing, and a mailing dropped from the configuration loses its ``config`` mapping (closed
loop may map it again). Opens and clicks of mailings without a mapping are counted as ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from include.crm_sync.staging.tables import mailing_campaign

log = logging.getLogger(__name__)

CONFIG, CLOSED_LOOP = "config", "closed_loop"


@dataclass(frozen=True, slots=True)
class MappingSync:
    added: int
    changed: int
    removed: int


def sync_config_mapping(conn: sa.Connection, configured: Mapping[str, str], now: datetime) -> MappingSync:
    """Make the ``config`` rows of ``mailing_campaign`` equal ``configured`` (inside the caller's
    transaction)."""
    current = {
        row.mailing_id: (row.crm_campaign_id, row.source)
        for row in conn.execute(
            sa.select(
                mailing_campaign.c.mailing_id, mailing_campaign.c.crm_campaign_id, mailing_campaign.c.source
            )
        )
    }
    added = changed = 0
    for mailing_id, campaign_id in configured.items():
        existing = current.get(mailing_id)
        if existing is None:
            conn.execute(
                mailing_campaign.insert().values(
                    mailing_id=mailing_id, crm_campaign_id=campaign_id, source=CONFIG, updated_at=now
                )
            )
            added += 1
        elif existing != (campaign_id, CONFIG):
            if existing[1] == CLOSED_LOOP and existing[0] != campaign_id:
                log.warning(
                    "mailing %s: closed loop says CRM campaign %s, "
                    "the configuration %s; the configuration wins",
                    mailing_id,
                    existing[0],
                    campaign_id,
                )
            conn.execute(
                mailing_campaign.update()
                .where(mailing_campaign.c.mailing_id == mailing_id)
                .values(crm_campaign_id=campaign_id, source=CONFIG, updated_at=now)
            )
            changed += 1
    dropped = [m for m, (_, source) in current.items() if source == CONFIG and m not in configured]
    for start in range(0, len(dropped), 500):
        conn.execute(
            mailing_campaign.delete().where(mailing_campaign.c.mailing_id.in_(dropped[start : start + 500]))
        )
    if added or changed or dropped:
        log.info(
            "mailing -> CRM campaign map from the configuration: %d added, %d changed, %d removed",
            added,
            changed,
            len(dropped),
        )
    return MappingSync(added, changed, len(dropped))

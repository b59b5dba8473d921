"""The list -> consent mapping an import is given must name consents the CRM has.

An unsubscribe from a mapped platform list revokes that consent; a mapping that names a consent
the CRM does not have would make such an unsubscribe revoke nothing, silently.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from include.crm_sync.staging.tables import crm_consent_type


def check_list_consents(engine: sa.Engine, list_consents: Mapping[str, str], error: type[Exception]) -> None:
    """Raise ``error`` naming the consents (and their lists) that ``crm_consent_type`` lacks."""
    wanted = set(list_consents.values())
    if not wanted:
        return
    with engine.connect() as conn:
        known = set(
            conn.execute(
                sa.select(crm_consent_type.c.consent_id).where(crm_consent_type.c.consent_id.in_(wanted))
            ).scalars()
        )
    missing = sorted(wanted - known)
    if missing:
        lists = sorted(li for li, c in list_consents.items() if c in missing)
        raise error(
            f"list -> consent mapping names consent(s) {', '.join(missing)} (lists {', '.join(lists)}) that "
            "crm_consent_type does not have; fix config/lists.yaml or the CRM consent types"
        )

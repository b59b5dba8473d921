"""A small CRM with one Spotler audience list, the real client on the emulator, and readers of both
ends: what the audience holds (over the emulator's control endpoint) and what the snapshot holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.platforms.base import MembershipTarget
from include.crm_sync.platforms.spotler.client import RetryPolicy, SpotlerClient
from include.crm_sync.platforms.spotler.platform import SpotlerPlatform
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.membership import MembershipOptions, MembershipReport, sync_membership
from include.crm_sync.sync.membership_optouts import crm_opt_out_sink
from tests.integration.extract.crm_state import CrmState, add_sync_run, list_def

KEY, SECRET = "crm-sync-key", "crm-sync-secret"
#: client retries without real waiting
FAST = RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.002, jitter=0.0)
AUDIENCE = "newsletter-aud"
TARGET = MembershipTarget(AUDIENCE, "Newsletter (CRM)", "synced nightly from the CRM")
LIST = list_def(
    name="newsletter_spotler",
    platform="spotler",
    platform_list_id=None,
    optin_process_id=None,
    audience={"external_id": AUDIENCE, "name": TARGET.name, "description": TARGET.description},
    attributes={"firstName": "first_name", "lastName": "last_name", "language": "language"},
)


def contact_id(i: int) -> str:
    return f"C{i:05d}"


def build_crm(engine: sa.Engine, contacts: int, *, run_id: str = "run-1") -> None:
    state = CrmState()
    for i in range(contacts):
        state.entity(contact_id(i), f"Person{i:05d}@Example.com")
    state.write(engine, run_id=run_id)
    if engine.dialect.name == "postgresql":  # CrmState writes ledger file 1 with its id given
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('file_ledger', 'file_id'), "
                "(SELECT max(file_id) FROM file_ledger))"
            )


def add_entities(engine: sa.Engine, ids: list[int]) -> None:
    """More consenting contacts, written next to an existing CRM."""
    state = CrmState()
    for i in ids:
        state.entity(contact_id(i), f"Person{i:05d}@Example.com")
    with engine.begin() as conn:
        conn.execute(sa.insert(t.crm_entity), state.entities)
        conn.execute(sa.insert(t.crm_consent), state.consents)


def revoke(engine: sa.Engine, ids: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent)
            .where(t.crm_consent.c.entity_id.in_([contact_id(i) for i in ids]))
            .values(status="revoked")
        )


def regrant(engine: sa.Engine, ids: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent)
            .where(t.crm_consent.c.entity_id.in_([contact_id(i) for i in ids]))
            .values(status="granted")
        )


def rename(engine: sa.Engine, i: int, first_name: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_entity)
            .where(t.crm_entity.c.entity_id == contact_id(i))
            .values(first_name=first_name)
        )


def prepare(engine: sa.Engine, run_id: str = "run-1", *, new_run: bool = False) -> int:
    """Extract LIST for ``run_id`` and mark the snapshot validated (validation has its own tests)."""
    if new_run:
        add_sync_run(engine, run_id)
    list_run_id = extract_snapshot(engine, LIST, run_id=run_id).list_run_id
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.list_run).where(t.list_run.c.list_run_id == list_run_id).values(status="validated")
        )
    return list_run_id


def make_platform(spotler: Any, **options: Any) -> SpotlerPlatform:
    options.setdefault("retry_policy", FAST)
    options.setdefault("timeout", 10)
    return SpotlerPlatform(SpotlerClient(spotler.api_url, KEY, SECRET, **options))


def sync(
    engine: sa.Engine,
    platform: SpotlerPlatform,
    list_run_id: int,
    landing_dir: Path,
    *,
    target: MembershipTarget = TARGET,
    run_id: str = "run-1",
    **options: Any,
) -> MembershipReport:
    sink = crm_opt_out_sink(engine, platform=platform.name, landing_dir=landing_dir, run_id=run_id)
    return sync_membership(
        engine, platform, list_run_id, target, opt_outs=sink, options=MembershipOptions(**options)
    )


def audience(spotler: Any, external_id: str = AUDIENCE) -> set[str]:
    return set(spotler.control.members(external_id))


def snapshot_ids(engine: sa.Engine, list_run_id: int) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.select(t.list_snapshot.c.recipient_id).where(t.list_snapshot.c.list_run_id == list_run_id)
            ).scalars()
        )


def calls(spotler: Any) -> dict[str, int]:
    return dict(spotler.control.calls())


def consent_status(engine: sa.Engine, entity_id: str, consent_id: str = "newsletter") -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(t.crm_consent.c.status).where(
                t.crm_consent.c.entity_id == entity_id, t.crm_consent.c.consent_id == consent_id
            )
        ).scalar_one_or_none()


def list_run_row(engine: sa.Engine, list_run_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(t.list_run).where(t.list_run.c.list_run_id == list_run_id))
            .mappings()
            .one()
        )

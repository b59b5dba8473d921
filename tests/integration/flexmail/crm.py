"""A small CRM with two Flexmail lists -- "dogs" on label Honden (consent newsletter, Dutch speakers
only) and "cats" on label Katten (consent events) -- and the label sync run on the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from include.crm_sync.config.models import ListsConfig
from include.crm_sync.extract import extract_snapshot
from include.crm_sync.platforms.flexmail.feedback import blacklisted_feedback
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.label_sync import LabelSyncOptions, LabelSyncReport, sync_flexmail_labels
from include.crm_sync.sync.membership_optouts import crm_opt_out_sink
from tests.integration.extract.crm_state import CrmState, add_sync_run
from tests.integration.flexmail.scenario import make_client

ATTRIBUTES = {"first_name": "first_name", "name": "last_name", "language": "language"}


def lists(dogs_label: str = "Honden", cats_label: str = "Katten") -> list[Any]:
    items = [
        {
            "name": "dogs",
            "platform": "flexmail",
            "interest_label": dogs_label,
            "consent": "newsletter",
            "selection": {"filter": {"languages": ["nl"]}},
            "attributes": ATTRIBUTES,
        },
        {
            "name": "cats",
            "platform": "flexmail",
            "interest_label": cats_label,
            "consent": "events",
            "selection": {"filter": {}},
            "attributes": ATTRIBUTES,
        },
    ]
    return ListsConfig.model_validate({"lists": items}).lists


def pid(i: int) -> str:
    return f"P{i:04d}"


def email(i: int) -> str:
    return f"person{i:04d}@example.com"


def build_crm(engine: sa.Engine, n: int, *, run_id: str = "run-1", cats: bool = True) -> None:
    state = CrmState()
    for i in range(n):
        state.entity(pid(i), email(i), consent_id="newsletter")
        if cats:
            state.consent(pid(i), "events", "granted")
    state.write(engine, run_id=run_id)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('file_ledger', 'file_id'), "
                "(SELECT max(file_id) FROM file_ledger))"
            )


def set_consent(engine: sa.Engine, ids: list[int], consent_id: str, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_consent)
            .where(
                t.crm_consent.c.entity_id.in_([pid(i) for i in ids]), t.crm_consent.c.consent_id == consent_id
            )
            .values(status=status)
        )


def set_language(engine: sa.Engine, ids: list[int], language: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.crm_entity)
            .where(t.crm_entity.c.entity_id.in_([pid(i) for i in ids]))
            .values(language=language)
        )


def prepare(engine: sa.Engine, run_id: str = "run-1", *, new_run: bool = False, **labels: str) -> list[int]:
    """Extract both lists for ``run_id`` and mark the snapshots validated."""
    if new_run:
        add_sync_run(engine, run_id)
    ids = []
    for definition in lists(**labels):
        list_run_id = extract_snapshot(engine, definition, run_id=run_id).list_run_id
        with engine.begin() as conn:
            conn.execute(
                sa.update(t.list_run)
                .where(t.list_run.c.list_run_id == list_run_id)
                .values(status="validated")
            )
        ids.append(list_run_id)
    return ids


def feedback(engine: sa.Engine, flexmail: Any, landing: Path, run_id: str = "run-1") -> int:
    client = make_client(engine, flexmail)
    rows = list(blacklisted_feedback(client, flexmail_now(flexmail)))
    crm_opt_out_sink(engine, platform="flexmail", landing_dir=landing, run_id=run_id)(rows)
    return len(rows)


def flexmail_now(flexmail: Any):  # noqa: ANN201
    from datetime import UTC, datetime

    return datetime.fromtimestamp(flexmail.clock.now(), UTC)


def sync(
    engine: sa.Engine,
    flexmail: Any,
    ids: list[int],
    run_id: str = "run-1",
    client: Any = None,
    **options: Any,
) -> LabelSyncReport:
    options.setdefault("source_id", 1)
    options.setdefault("poll_seconds", 5)
    return sync_flexmail_labels(
        engine,
        client or make_client(engine, flexmail),
        ids,
        run_id=run_id,
        options=LabelSyncOptions(**options),
        clock=flexmail.clock.now,
        sleep=flexmail.clock.advance,
    )


def snapshot_emails(engine: sa.Engine, list_run_id: int) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                sa.select(t.list_snapshot.c.email).where(t.list_snapshot.c.list_run_id == list_run_id)
            ).scalars()
        )

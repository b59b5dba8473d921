"""Fixtures of the response-import tests: a small CRM in the staging database (SQLite and
PostgreSQL), mailings and events on the emulator, response files over its real SFTP server, and
readers of everything the import may change."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paramiko
import pytest
import sqlalchemy as sa

from include.crm_sync.responses import ResponseImportSettings, import_response_files
from include.crm_sync.staging.tables import (
    crm_campaign_response,
    crm_consent,
    crm_consent_type,
    crm_entity,
    feedback_bounce,
    feedback_unsubscribe,
    file_ledger,
    mailing_campaign,
    rejected_row,
    response_event,
)
from include.emulators.optimizely import EmulatorServer
from tests.fixtures.sftp import SFTP_CLOCK

#: consent id -> is_marketing; platform list id -> consent (the emulator's seed lists)
CONSENT_TYPES = {"newsletter": True, "product_updates": True, "events": True, "service_mail": False}
LIST_CONSENTS = {"1001": "newsletter", "1002": "product_updates", "1003": "events"}
MARKETING = tuple(sorted(c for c, m in CONSENT_TYPES.items() if m))
CRM_TIME = datetime(2025, 6, 1, tzinfo=UTC)
NOW = datetime.fromisoformat(SFTP_CLOCK)
N_ENTITIES = 40


def entity_id(i: int) -> str:
    return f"C{i:06d}"


def seed_crm(engine: sa.Engine, n: int = N_ENTITIES) -> list[str]:
    """Contacts ``C000000``… (leads ``L…`` for odd i >= 30) with every consent granted."""
    ids = [entity_id(i) if i < 30 or i % 2 == 0 else f"L{i:06d}" for i in range(n)]
    with engine.begin() as conn:
        conn.execute(
            crm_consent_type.insert(),
            [{"consent_id": c, "name": c, "is_marketing": m} for c, m in CONSENT_TYPES.items()],
        )
        conn.execute(
            crm_entity.insert(),
            [
                {
                    "entity_id": eid,
                    "entity_type": "lead" if eid.startswith("L") else "contact",
                    "email": f"{eid.lower()}@example.com",
                    "email_normalized": f"{eid.lower()}@example.com",
                    "is_bounced": False,
                    "created_at": CRM_TIME,
                    "updated_at": CRM_TIME,
                }
                for eid in ids
            ],
        )
        conn.execute(
            crm_consent.insert(),
            [
                {
                    "entity_id": eid,
                    "consent_id": c,
                    "status": "granted",
                    "granted_at": CRM_TIME,
                    "source": "crm",
                    "updated_at": CRM_TIME,
                }
                for eid in ids
                for c in CONSENT_TYPES
            ],
        )
    return ids


@pytest.fixture
def crm(staging_engine: sa.Engine) -> sa.Engine:
    seed_crm(staging_engine)
    return staging_engine


# ------------------------------------------------------------------ the platform side


def mailing(emulator: EmulatorServer, list_id: int = 1002, wave_id: str | None = None) -> int:
    """A new mailing (to an empty list: its events are injected by the test); its id."""
    options = {"wave_id": wave_id} if wave_id else {}
    return int(emulator.control.send_mailing(list_id, **options)["mailing"]["id"])


def event(
    kind: str, recipient: str, mailing_id: int, *, list_id: int = 1002, at: str = "-1h", **extra: Any
) -> dict:
    """One feedback event that happened ``at`` (relative to the emulator clock) and reached the
    platform's export files now (so the next response-data job picks it up)."""
    return {
        "kind": kind,
        "recipient_id": recipient,
        "list_id": list_id,
        "mailing_id": mailing_id,
        "occurred_at": at,
        "exported_at": "+0s",
        **extra,
    }


def opens(mailing_id: int, recipients: Iterable[str], **kw: Any) -> list[dict]:
    return [event("open", r, mailing_id, **kw) for r in recipients]


def clicks(mailing_id: int, recipients: Iterable[str], **kw: Any) -> list[dict]:
    return [
        event("click", r, mailing_id, link_url="https://www.example.com/offer?id=1", **kw) for r in recipients
    ]


def inject(emulator: EmulatorServer, events: list[dict]) -> None:
    for start in range(0, len(events), 1000):
        emulator.control.add_feedback_events(events[start : start + 1000])


def run_job(emulator: EmulatorServer) -> str:
    """Run the platform's response-data job one second later (the clock is frozen, and a job covers
    the events exported since the last one up to, not including, its own time); the file's name."""
    emulator.control.advance_clock(1)
    return emulator.control.run_response_job()["file"]["name"]


def write_file(emulator: EmulatorServer, events: list[dict]) -> str:
    """Inject ``events`` and run the platform's response-data job: the new file's name."""
    inject(emulator, events)
    return run_job(emulator)


def standard_events(emulator: EmulatorServer) -> tuple[list[dict], dict[str, int]]:
    """A mix: opens/clicks of a mailing with a CRM campaign (wave id) and of one without,
    bounces, an autoresponder, unsubscribes (one of an unknown recipient)."""
    mapped = mailing(emulator, 1003, wave_id="CMP-EVENTS")
    unmapped = mailing(emulator, 1002)
    events = (
        opens(mapped, [entity_id(i) for i in range(5)], list_id=1003)
        + clicks(mapped, [entity_id(i) for i in range(2)], list_id=1003)
        + opens(unmapped, [entity_id(i) for i in range(5, 9)])
        + clicks(unmapped, [entity_id(5)])
        + [
            event("bounce", entity_id(10), unmapped, category="hardbounce", at="-2h"),
            event("bounce", entity_id(11), unmapped, category="softbounce", at="-2h"),
            event("bounce", entity_id(12), unmapped, category="autoresponder", at="-2h"),
            event("unsubscribe", entity_id(13), unmapped, at="-3h"),
            event("unsubscribe", "UNKNOWN-1", unmapped, at="-3h"),
        ]
    )
    return events, {"mapped": mapped, "unmapped": unmapped}


# ------------------------------------------------------------------ running the import


@pytest.fixture
def run_import(
    crm: sa.Engine, sftp_emulator: EmulatorServer, sftp_connect, tmp_path: Path
) -> Callable[..., Any]:
    """``run_import(**kw)``: ``import_response_files`` over a fresh SFTP connection to the emulator."""
    landing = tmp_path / "landing"

    def run(
        *,
        client: paramiko.SFTPClient | None = None,
        settings: ResponseImportSettings | None = None,
        now: datetime = NOW,
        run_id: str = "test-run",
        **kw: Any,
    ):
        return import_response_files(
            crm,
            client or sftp_connect(),
            settings=settings or ResponseImportSettings(),
            landing_dir=landing,
            run_id=run_id,
            list_consents=LIST_CONSENTS,
            now=now,
            **kw,
        )

    run.landing = landing  # type: ignore[attr-defined]
    return run


def rows(engine: sa.Engine, table: sa.Table, *order_by: Any) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table).order_by(*(order_by or table.primary_key.columns))))


@dataclass(frozen=True)
class Snapshot:
    """Everything the response import may change (ids left out where they may differ)."""

    entities: dict
    consents: dict
    events: list
    campaign_responses: list
    bounces: list
    unsubscribes: list
    mappings: list
    rejected: list
    ledger: list


def snapshot(engine: sa.Engine) -> Snapshot:
    return Snapshot(
        entities={
            r.entity_id: (r.is_bounced, r.bounced_at, r.bounce_category, r.updated_at)
            for r in rows(engine, crm_entity)
        },
        consents={
            (r.entity_id, r.consent_id): (r.status, r.revoked_at, r.source, r.updated_at)
            for r in rows(engine, crm_consent)
        },
        events=sorted(
            (r.event_key, r.event_type, r.status, r.crm_entity_id, r.mailing_id)
            for r in rows(engine, response_event)
        ),
        campaign_responses=sorted(
            (r.event_key, r.crm_campaign_id, r.entity_id, r.response_type)
            for r in rows(engine, crm_campaign_response)
        ),
        bounces=sorted((r.event_key, r.entity_id, r.category) for r in rows(engine, feedback_bounce)),
        unsubscribes=sorted(
            (r.event_key, r.entity_id, r.consent_id) for r in rows(engine, feedback_unsubscribe)
        ),
        mappings=sorted((r.mailing_id, r.crm_campaign_id, r.source) for r in rows(engine, mailing_campaign)),
        rejected=sorted((r.file_id, r.line_no, r.field, r.reason) for r in rows(engine, rejected_row)),
        ledger=[
            (
                r.file_name,
                r.status,
                r.rows_read,
                r.rows_applied,
                r.rows_known,
                r.rows_ignored,
                r.rows_rejected,
            )
            for r in rows(engine, file_ledger, file_ledger.c.file_id)
        ],
    )


def counts_tuple(counts) -> tuple[int, int, int, int, int]:
    return (counts.read, counts.applied, counts.known, counts.ignored, counts.rejected)

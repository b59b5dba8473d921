"""Fixtures of the feedback-import tests: a minimal CRM (entities, consent types, granted consents)
inserted with SQLAlchemy Core into the migrated staging database (SQLite and PostgreSQL), landing
files written byte for byte, and readers of the CRM state the import may change."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.crm_sync.feedback.csv_schema import COLUMN_NAMES
from include.crm_sync.staging.tables import (
    crm_consent,
    crm_consent_type,
    crm_entity,
    crm_feedback_hold,
    export_watermark,
    feedback_bounce,
    feedback_unsubscribe,
    file_ledger,
    rejected_row,
)

#: consent id -> is_marketing
CONSENT_TYPES = {"newsletter-nl": True, "product-updates": True, "events": True, "service-mail": False}
#: platform list id -> consent id (the seed lists of the emulator)
LIST_CONSENTS = {"1001": "newsletter-nl", "1002": "product-updates", "1003": "events"}
CRM_TIME = datetime(2025, 6, 1, tzinfo=UTC)
N_ENTITIES = 40
#: a contact and a lead sharing one address (matched together by e-mail)
SHARED_EMAIL = "shared.person@example.com"
SHARED_ENTITIES = ("C-SHARED", "L-SHARED")


def entity_id(i: int) -> str:
    return f"C{i:06d}"


def email_of(i: int) -> str:
    return f"person{i}@example.com"


def seed_crm(
    engine: sa.Engine,
    entities: Iterable[tuple[str, str | None]],
    consent_types: dict[str, bool] = CONSENT_TYPES,
) -> None:
    """Entities (id, e-mail) with every consent type granted."""
    entities = list(entities)
    with engine.begin() as conn:
        conn.execute(
            crm_consent_type.insert(),
            [{"consent_id": c, "name": c, "is_marketing": m} for c, m in consent_types.items()],
        )
        conn.execute(
            crm_entity.insert(),
            [
                {
                    "entity_id": eid,
                    "entity_type": "lead" if eid.startswith("L") else "contact",
                    "email": email,
                    "email_normalized": email.strip().lower() if email else None,
                    "is_bounced": False,
                    "created_at": CRM_TIME,
                    "updated_at": CRM_TIME,
                }
                for eid, email in entities
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
                for eid, _ in entities
                for c in consent_types
            ],
        )


def default_entities(n: int = N_ENTITIES) -> list[tuple[str, str | None]]:
    return [(entity_id(i), email_of(i)) for i in range(n)] + [
        (SHARED_ENTITIES[0], SHARED_EMAIL),
        (SHARED_ENTITIES[1], "  Shared.Person@Example.COM "),
    ]


@pytest.fixture
def crm(staging_engine: sa.Engine) -> sa.Engine:
    """The staging engine with ``default_entities`` and every consent granted."""
    seed_crm(staging_engine, default_entities())
    return staging_engine


@dataclass(frozen=True)
class CrmState:
    """Everything of the CRM the feedback import may change."""

    entities: dict[str, tuple]  # entity_id -> (is_bounced, bounced_at, bounce_category, updated_at)
    consents: dict[
        tuple[str, str], tuple
    ]  # (entity_id, consent_id) -> (status, revoked_at, source, updated_at)

    @property
    def bounced(self) -> set[str]:
        return {e for e, (flag, *_rest) in self.entities.items() if flag}

    @property
    def revoked(self) -> set[tuple[str, str]]:
        return {k for k, (status, *_rest) in self.consents.items() if status == "revoked"}


def crm_state(engine: sa.Engine) -> CrmState:
    with engine.connect() as conn:
        entities = {
            r.entity_id: (bool(r.is_bounced), r.bounced_at, r.bounce_category, r.updated_at)
            for r in conn.execute(sa.select(crm_entity))
        }
        consents = {
            (r.entity_id, r.consent_id): (r.status, r.revoked_at, r.source, r.updated_at)
            for r in conn.execute(sa.select(crm_consent))
        }
    return CrmState(entities, consents)


def reset_feedback(engine: sa.Engine) -> None:
    """Forget every import: back to the CRM as seeded (every consent granted, nobody bounced)."""
    with engine.begin() as conn:
        for table in (
            rejected_row,
            crm_feedback_hold,
            feedback_bounce,
            feedback_unsubscribe,
            export_watermark,
            file_ledger,
        ):
            conn.execute(table.delete())
        conn.execute(
            crm_entity.update().values(
                is_bounced=False, bounced_at=None, bounce_category=None, updated_at=CRM_TIME
            )
        )
        conn.execute(
            crm_consent.update().values(status="granted", revoked_at=None, source="crm", updated_at=CRM_TIME)
        )


def table_rows(engine: sa.Engine, table: sa.Table, *order_by) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table).order_by(*(order_by or table.primary_key.columns))))


def feedback_state(engine: sa.Engine) -> dict[str, list]:
    """Stored events, ledger and rejected rows (ids left out: they are allowed to differ)."""
    return {
        "bounces": sorted(
            (r.event_key, r.entity_id, r.category, r.occurred_at) for r in table_rows(engine, feedback_bounce)
        ),
        "unsubscribes": sorted(
            (r.event_key, r.entity_id, r.consent_id, r.occurred_at)
            for r in table_rows(engine, feedback_unsubscribe)
        ),
    }


def ledger_rows(engine: sa.Engine) -> list[sa.Row]:
    return table_rows(engine, file_ledger, file_ledger.c.file_id)


def rejected_rows(engine: sa.Engine, file_id: int | None = None) -> list[sa.Row]:
    rows = table_rows(engine, rejected_row, rejected_row.c.rejected_id)
    return [r for r in rows if file_id is None or r.file_id == file_id]


def csv_text(rows: Sequence[Sequence[str]], header: Sequence[str] = COLUMN_NAMES) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = COLUMN_NAMES) -> Path:
    path.write_bytes(csv_text(rows, header).encode("utf-8"))
    return path


def bounce(
    recipient_id: str = "",
    email: str = "",
    category: str = "hardbounce",
    at: str = "2026-01-05T10:00:00.000000Z",
    list_id: str = "1001",
    mailing_id: str = "7001",
) -> list[str]:
    return [recipient_id, email, category, at, list_id, mailing_id]


def unsubscribe(
    recipient_id: str = "",
    email: str = "",
    at: str = "2026-01-05T10:00:00.000000Z",
    list_id: str = "",
    mailing_id: str = "",
) -> list[str]:
    return [recipient_id, email, "unsubscribe", at, list_id, mailing_id]


# ------------------------------------------------------------------ the platform: emulator + real client

#: retries without real waiting (tenacity still runs its schedule, just scaled down)
FAST_RETRY_ATTEMPTS = 3


@pytest.fixture
def make_platform(optimizely_emulator):
    """Real ``OptimizelyCampaignPlatform`` + zeep client over HTTP to the emulator (fast retries)."""
    from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
    from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform
    from include.crm_sync.platforms.optimizely.retry import RetryPolicy

    made = []

    def make():
        client = OptimizelyCampaignClient(
            optimizely_emulator.base_url,
            1,
            "demo",
            "demo",
            timeout=20,
            retry_policy=RetryPolicy(
                max_attempts=FAST_RETRY_ATTEMPTS, initial_wait=0.001, max_wait=0.002, jitter=0.0
            ),
        )
        platform = OptimizelyCampaignPlatform(client)
        made.append(platform)
        return platform

    yield make
    for platform in made:
        platform.close()


#: The emulator's frozen clock in these tests: years ahead of any real date the suite runs on, so
#: the feedback of the emulator's seed (recorded relative to the real clock) is older than the
#: 30-day retention and never exported: a test sees only the feedback it injects.
EMULATOR_EPOCH = datetime(2036, 3, 1, 12, 0, tzinfo=UTC)


def freeze_emulator_clock(emulator) -> None:
    emulator.control.set_clock(EMULATOR_EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ"), frozen=True)


@pytest.fixture
def emulator(optimizely_emulator):
    """The reset emulator with its clock frozen at ``EMULATOR_EPOCH`` (time moves only when told)."""
    freeze_emulator_clock(optimizely_emulator)
    return optimizely_emulator


def inject(emulator, events: list[dict]) -> int:
    created = 0
    for start in range(0, len(events), 1000):
        created += emulator.control.add_feedback_events(events[start : start + 1000])["created"]
    return created


def platform_events(emulator) -> list[dict]:
    """Every feedback event the emulator holds (what the platform can report)."""
    return emulator.control.events()["events"]


def expected_effects(
    events: list[dict],
    entities: Iterable[tuple[str, str | None]],
    list_consents: dict[str, str] = LIST_CONSENTS,
    consent_types: dict[str, bool] = CONSENT_TYPES,
) -> tuple[set[str], set[tuple[str, str]]]:
    """The test's oracle: (bounced entities, revoked (entity, consent)) the platform's events imply.

    A hard bounce or an out-bounce (over the threshold) bounces its entities; an unsubscribe revokes
    the consent of its list, or every marketing consent when the list is not mapped. Entities: the
    one whose id is the recipient id, else every one with the address.
    """
    ids: set[str] = set()
    by_email: dict[str, set[str]] = {}
    for eid, email in entities:
        ids.add(eid)
        if email:
            by_email.setdefault(email.strip().lower(), set()).add(eid)
    marketing = {c for c, is_marketing in consent_types.items() if is_marketing}

    def resolve(event: dict) -> set[str]:
        if event["recipient_id"] in ids:
            return {event["recipient_id"]}
        return by_email.get((event["email"] or "").strip().lower(), set())

    bounced: set[str] = set()
    revoked: set[tuple[str, str]] = set()
    for event in events:
        if (event["kind"] == "response" and event["category"] == "hardbounce") or event[
            "kind"
        ] == "outbounce":
            bounced |= resolve(event)
        elif event["kind"] == "unsubscribe":
            consent = list_consents.get(str(event["list_id"])) if event["list_id"] is not None else None
            for eid in resolve(event):
                revoked |= {(eid, consent)} if consent else {(eid, c) for c in marketing}
    return bounced, revoked

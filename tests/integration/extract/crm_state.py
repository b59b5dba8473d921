"""Build small CRM states in the staging database with SQLAlchemy Core (no generator needed).

Tests describe entities, consents, feedback and blocklist rows in a few lines; ``CrmState``
writes them with the FK parents they need (consent types, a ledger file, a sync run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count

import sqlalchemy as sa

from include.crm_sync.config.models import ListDefinition, ListsConfig
from include.crm_sync.staging import tables as t

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CONSENT_TYPES = {"newsletter": True, "product_updates": True, "events": True, "service": False}
_ids = count(1)
_AUTO = object()


def list_def(**overrides: object) -> ListDefinition:
    """A list definition over all entity types with consent newsletter (overridable; None drops a key)."""
    data: dict[str, object] = {
        "name": "test_list",
        "platform_list_id": "1001",
        "optin_process_id": "2001",
        "consent": "newsletter",
        "selection": {"filter": {}},
        "attributes": {
            "first-name": "first_name",
            "last-name": "last_name",
            "language": "language",
            "city": "city",
        },
    }
    data.update(overrides)
    # an override of None drops the key (a Spotler or Flexmail list has no Optimizely ids)
    data = {key: value for key, value in data.items() if value is not None}
    return ListsConfig.model_validate({"lists": [data]}).lists[0]


@dataclass
class CrmState:
    entities: list[dict] = field(default_factory=list)
    consents: list[dict] = field(default_factory=list)
    bounces: list[dict] = field(default_factory=list)
    unsubscribes: list[dict] = field(default_factory=list)
    blocklist: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)

    def entity(
        self,
        entity_id: str,
        email: str | None,
        *,
        entity_type: str = "contact",
        consent: str | None = "granted",
        consent_id: str = "newsletter",
        is_bounced: bool = False,
        language: str | None = "nl",
        first_name: str | None = None,
        normalized: object = _AUTO,
    ) -> CrmState:
        """Add an entity; ``consent`` is its status for ``consent_id`` (None = no consent row).

        ``email_normalized`` is ``lower(trim(email))`` unless ``normalized`` gives it explicitly.
        """
        norm = (None if email is None else email.strip(" ").lower()) if normalized is _AUTO else normalized
        self.entities.append(
            dict(
                entity_id=entity_id,
                entity_type=entity_type,
                email=email,
                email_normalized=norm,
                first_name=first_name if first_name is not None else f"First {entity_id}",
                last_name=f"Last {entity_id}",
                language=language,
                city="Gent",
                country="BE",
                is_bounced=is_bounced,
                bounce_category="hardbounce" if is_bounced else None,
                created_at=NOW - timedelta(days=30),
                updated_at=NOW - timedelta(days=1),
            )
        )
        if consent is not None:
            self.consent(entity_id, consent_id, consent)
        return self

    def consent(self, entity_id: str, consent_id: str, status: str) -> CrmState:
        self.consents.append(
            dict(
                entity_id=entity_id,
                consent_id=consent_id,
                status=status,
                granted_at=NOW - timedelta(days=20),
                revoked_at=NOW - timedelta(days=2) if status == "revoked" else None,
                source="crm",
                updated_at=NOW - timedelta(days=2),
            )
        )
        return self

    def bounce(
        self, email: str | None, category: str = "hardbounce", *, entity_id: str | None = None
    ) -> CrmState:
        self.bounces.append(
            dict(
                event_key=f"b{next(_ids)}",
                file_id=1,
                line_no=2,
                recipient_id=entity_id,
                email_normalized=email,
                entity_id=entity_id,
                category=category,
                occurred_at=NOW - timedelta(days=1),
                received_at=NOW,
            )
        )
        return self

    def unsubscribe(
        self,
        email: str | None = None,
        *,
        consent_id: str | None = None,
        entity_id: str | None = None,
        recipient_id: str | None = None,
    ) -> CrmState:
        self.unsubscribes.append(
            dict(
                event_key=f"u{next(_ids)}",
                file_id=1,
                line_no=2,
                recipient_id=recipient_id,
                email_normalized=email,
                entity_id=entity_id,
                consent_id=consent_id,
                occurred_at=NOW - timedelta(days=1),
                received_at=NOW,
            )
        )
        return self

    def block(self, pattern: str, *, is_pattern: bool = False) -> CrmState:
        self.blocklist.append(
            dict(email_normalized=pattern, is_pattern=is_pattern, source="test", added_at=NOW)
        )
        return self

    def member(self, list_key: str, entity_id: str) -> CrmState:
        self.members.append(dict(list_key=list_key, entity_id=entity_id))
        return self

    def write(self, engine: sa.Engine, *, run_id: str = "run-1", feedback_ok: bool = True) -> None:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(t.crm_consent_type),
                [dict(consent_id=k, name=k, is_marketing=v) for k, v in CONSENT_TYPES.items()],
            )
            conn.execute(
                sa.insert(t.file_ledger).values(
                    file_id=1,
                    kind="unsubscribes",
                    file_name="feedback.csv",
                    size_bytes=1,
                    sha256="0" * 64,
                    status="applied",
                    received_at=NOW,
                )
            )
            conn.execute(
                sa.insert(t.sync_run).values(
                    run_id=run_id, status="running", feedback_ok=feedback_ok, started_at=NOW
                )
            )
            keys = {m["list_key"] for m in self.members}
            if keys:
                conn.execute(
                    sa.insert(t.crm_marketing_list), [dict(list_key=k, name=k) for k in sorted(keys)]
                )
            for table, rows in (
                (t.crm_entity, self.entities),
                (t.crm_consent, self.consents),
                (t.crm_marketing_list_member, self.members),
                (t.feedback_bounce, self.bounces),
                (t.feedback_unsubscribe, self.unsubscribes),
                (t.crm_blocklist, self.blocklist),
            ):
                if rows:
                    conn.execute(sa.insert(table), rows)


def clear_staging(engine: sa.Engine) -> None:
    """Empty every staging table (children first): for tests that build several states."""
    with engine.begin() as conn:
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(table.delete())


def snapshot_rows(engine: sa.Engine, list_run_id: int) -> list[tuple]:
    with engine.connect() as conn:
        return [
            (r.seq, r.recipient_id, r.email, tuple(r.attr_values))
            for r in conn.execute(
                sa.select(t.list_snapshot)
                .where(t.list_snapshot.c.list_run_id == list_run_id)
                .order_by(t.list_snapshot.c.seq)
            )
        ]


def add_sync_run(engine: sa.Engine, run_id: str, *, feedback_ok: bool = True) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.sync_run).values(
                run_id=run_id, status="running", feedback_ok=feedback_ok, started_at=NOW
            )
        )

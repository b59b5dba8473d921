"""A small CRM with a Mailjet newsletter list and a service list, the real client on the emulator,
and one "night": Mailjet's feedback first, then per list extract -> validated -> membership sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from include.crm_sync.config.models import ListsConfig
from include.crm_sync.extract import extract_snapshot
from include.crm_sync.feedback.importer import import_feedback
from include.crm_sync.mailjet.addresses import unsubscribes_read_until, uploaded_email_lookup
from include.crm_sync.platforms.base import MembershipTarget
from include.crm_sync.platforms.mailjet import JobPolicy, MailjetClient, MailjetPlatform, RetryPolicy
from include.crm_sync.staging import tables as t
from include.crm_sync.sync.membership import MembershipOptions, MembershipReport, sync_membership
from include.crm_sync.sync.membership_optouts import crm_opt_out_sink
from tests.integration.extract.crm_state import add_sync_run
from tests.integration.mailjet.conftest import KEY, SECRET

NEWS, SERVICE = "CRM newsletter", "CRM service"


def list_defs() -> list[Any]:
    """The two lists (Mailjet must be in SUPPORTED_PLATFORMS: the ``mailjet_enabled`` fixture)."""
    return ListsConfig.model_validate(
        {
            "lists": [
                {
                    "name": "news_mj",
                    "platform": "mailjet",
                    "consent": "newsletter",
                    "mailjet_list": {"name": NEWS},
                    "selection": {"filter": {}},
                },
                {
                    "name": "service_mj",
                    "platform": "mailjet",
                    "consent": "service",
                    "mailjet_list": {"name": SERVICE},
                    "selection": {"filter": {}},
                },
            ]
        }
    ).lists


def make_platform(server: Any, engine: sa.Engine, fake_time: Any = None) -> MailjetPlatform:
    options: dict[str, Any] = {
        "retry_policy": RetryPolicy(max_attempts=3, initial_wait=0.5, max_wait=2, rate_limit_budget=60),
        "job_policy": JobPolicy(poll_interval=1, max_interval=2, max_wait=30),
    }
    if fake_time is not None:
        options.update(sleep=fake_time.sleep, monotonic=fake_time.monotonic)
    client = MailjetClient(server.api_url, KEY, SECRET, **options)
    return MailjetPlatform(
        client,
        lists=[NEWS, SERVICE],
        email_of=uploaded_email_lookup(engine),
        uploaded_email_of=uploaded_email_lookup(engine, crm_fallback=False),
        unsubscribes_read_until=unsubscribes_read_until(engine),
        clock=lambda: datetime.fromtimestamp(server.emulator.clock.now(), UTC),  # the feedback's "now"
    )


@dataclass
class Night:
    feedback_rows: int
    reports: dict[str, MembershipReport]


def night(
    engine: sa.Engine,
    platform: MailjetPlatform,
    run_id: str,
    landing: Path,
    *,
    fresh_run: bool = True,
    only: str | None = None,
    writer_guard: Any = None,
    **options: Any,
) -> Night:
    """One nightly run: feedback (list unsubscribes, exclusions) then both lists."""
    if fresh_run:
        add_sync_run(engine, run_id, feedback_ok=False)
    defs = list_defs()
    report = import_feedback(
        engine,
        platform,
        landing_dir=landing,
        run_id=run_id,
        list_consents={d.platform_list_id: d.consent for d in defs},
        allow_gap=True,
    )
    with engine.begin() as conn:
        conn.execute(sa.update(t.sync_run).where(t.sync_run.c.run_id == run_id).values(feedback_ok=True))
    reports = {}
    for d in defs:
        if only is not None and d.name != only:
            continue
        list_run_id = extract_snapshot(engine, d, run_id=run_id).list_run_id
        with engine.begin() as conn:
            conn.execute(
                sa.update(t.list_run)
                .where(t.list_run.c.list_run_id == list_run_id)
                .values(status="validated")
            )
        sink = crm_opt_out_sink(
            engine,
            platform=platform.name,
            landing_dir=landing,
            run_id=run_id,
            list_consents={d.platform_list_id: d.consent},  # as the nightly task gives it
        )
        target = MembershipTarget(d.platform_list_id, d.platform_list_id)
        reports[d.name] = sync_membership(
            engine,
            platform,
            list_run_id,
            target,
            opt_outs=sink,
            options=MembershipOptions(**options),
            writer_guard=writer_guard,
        )
    return Night(report.totals.read, reports)


def consents(engine: sa.Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        return {
            (r.entity_id, r.consent_id): r.status
            for r in conn.execute(
                sa.select(t.crm_consent.c.entity_id, t.crm_consent.c.consent_id, t.crm_consent.c.status)
            )
        }


def emails(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(t.crm_entity.c.entity_id, t.crm_entity.c.email_normalized)).all())


def insert_people(engine: sa.Engine, state: Any) -> None:
    """More entities and consents (a ``CrmState``), written next to an existing CRM."""
    with engine.begin() as conn:
        conn.execute(sa.insert(t.crm_entity), state.entities)
        if state.consents:
            conn.execute(sa.insert(t.crm_consent), state.consents)


def write_crm(engine: sa.Engine, state: Any, run_id: str = "seed") -> None:
    """``state.write`` plus, on PostgreSQL, the ledger sequence moved past the file id it gave."""
    state.write(engine, run_id=run_id)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('file_ledger', 'file_id'), "
                "(SELECT max(file_id) FROM file_ledger))"
            )

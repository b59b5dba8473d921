"""A small CRM, a real zeep client on the emulator, and readers of both ends of a refill.

The CRM holds regular contacts plus one entity for every way the *platform* refuses a recipient
(the extraction cannot know these: they are the platform's own blocklist, filters, bounce counters
and unsubscribes), and a few the *extraction* leaves out, so counts have something to add up.
Expected platform codes are derived from the emulator's seed (include/emulators/optimizely/seed.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from include.crm_sync.extract import extract_snapshot
from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient
from include.crm_sync.platforms.optimizely.platform import OptimizelyCampaignPlatform
from include.crm_sync.platforms.optimizely.retry import RetryPolicy
from include.crm_sync.staging import tables as t
from include.crm_sync.validate.snapshot_validation import validate_snapshot
from tests.integration.extract.crm_state import CrmState, add_sync_run, list_def

#: client retries without real waiting
FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.005, jitter=0.001)
LIST_ID = 1001
LIST = list_def(name="newsletter_test", platform_list_id=str(LIST_ID), optin_process_id="2001")

#: entity id -> (address, platform result code) of the recipients the platform refuses
REFUSED = {
    "R-BLOCK": ("someone@blocked.example", 3),  # platform blocklist *@blocked.example
    "R-FILTER": ("postmaster@acme.example", 6),  # platform recipient filter postmaster@*
    "R-OVERFLOW": ("hard.bounce@example.org", 4),  # 3 hard bounces in the seed
    "R-UNSUB": ("jan.unsub@example.nl", 2),  # unsubscribed on the platform, not yet known to the CRM
    "R-INVALID": ("l" * 65 + "@example.com", 1),  # the platform allows 64 characters before the @
    "R-TOOLONG": ("toolong@example.com", 7),  # first-name longer than the list attribute allows
}
#: entity id -> exclusion reason of the entities the extraction leaves out
EXCLUDED = {"X-REVOKED": "unsubscribed", "X-NOCONSENT": "no_consent", "X-BOUNCED": "entity_bounced"}


def contact_id(i: int) -> str:
    return f"C{i:04d}"


def build_crm(engine: sa.Engine, contacts: int, *, run_id: str = "run-1", feedback_ok: bool = True) -> None:
    """``contacts`` regular contacts, the REFUSED and EXCLUDED entities, and the run's sync_run row."""
    state = CrmState()
    for i in range(contacts):
        state.entity(contact_id(i), f"Person{i:04d}@Example.com", language="nl")
    for entity_id, (email, _code) in REFUSED.items():
        state.entity(entity_id, email, first_name="N" * 150 if entity_id == "R-TOOLONG" else None)
    state.entity("X-REVOKED", "revoked@example.com", consent="revoked")
    state.entity("X-NOCONSENT", "noconsent@example.com", consent=None)
    state.entity("X-BOUNCED", "bounced@example.com", is_bounced=True)
    state.write(engine, run_id=run_id, feedback_ok=feedback_ok)


def prepare(
    engine: sa.Engine, *, run_id: str = "run-1", validate: bool = False, new_run: bool = False
) -> int:
    """Extract LIST for ``run_id`` and validate it (with great-expectations, or by marking it)."""
    if new_run:
        add_sync_run(engine, run_id)
    report = extract_snapshot(engine, LIST, run_id=run_id)
    if validate:
        assert validate_snapshot(engine, LIST, report.list_run_id).passed
    else:
        set_status(engine, report.list_run_id, "validated")
    return report.list_run_id


def set_status(engine: sa.Engine, list_run_id: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.list_run).where(t.list_run.c.list_run_id == list_run_id).values(status=status)
        )


def make_platform(base_url: str, **options: Any) -> OptimizelyCampaignPlatform:
    options.setdefault("retry_policy", FAST_RETRY)
    options.setdefault("timeout", 10)
    return OptimizelyCampaignPlatform(OptimizelyCampaignClient(base_url, 1, "demo", "demo", **options))


# ------------------------------------------------------------------ reading both ends


@dataclass(frozen=True)
class Row:
    email: str
    attributes: dict[str, str]  # the non-empty attribute values, as the emulator reports them


def platform_list(emulator: Any, list_id: int = LIST_ID) -> dict[str, Row]:
    """recipient id -> Row, as the emulator holds the list (over its control endpoint)."""
    document = emulator.control.recipients(list_id)
    rows = {}
    for r in document["recipients"]:
        assert not r["pending"], r  # single and confirmed opt-in: active at once
        rows[r["recipient_id"]] = Row(r["email"], dict(r["attributes"]))
    return rows


def snapshot_list(engine: sa.Engine, list_run_id: int) -> dict[str, Row]:
    """recipient id -> Row of the snapshot, with attributes named like the list run sends them."""
    with engine.connect() as conn:
        names = conn.execute(
            sa.select(t.list_run.c.attribute_names).where(t.list_run.c.list_run_id == list_run_id)
        ).scalar_one()
        rows = conn.execute(
            sa.select(
                t.list_snapshot.c.recipient_id, t.list_snapshot.c.email, t.list_snapshot.c.attr_values
            ).where(t.list_snapshot.c.list_run_id == list_run_id)
        ).all()
    return {
        r.recipient_id: Row(r.email, {n: v for n, v in zip(names, r.attr_values, strict=True) if v})
        for r in rows
    }


def rejected(engine: sa.Engine, list_run_id: int) -> dict[str, int]:
    """recipient id -> code of the list run's refused recipients (``list_rejected``)."""
    with engine.connect() as conn:
        return dict(
            conn.execute(
                sa.select(t.list_rejected.c.recipient_id, t.list_rejected.c.code).where(
                    t.list_rejected.c.list_run_id == list_run_id
                )
            ).all()
        )


def expected_list(engine: sa.Engine, list_run_id: int) -> dict[str, Row]:
    """The snapshot without the recipients the platform refused: what the list must hold."""
    refused = rejected(engine, list_run_id)
    return {rid: row for rid, row in snapshot_list(engine, list_run_id).items() if rid not in refused}


def list_run_row(engine: sa.Engine, list_run_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(t.list_run).where(t.list_run.c.list_run_id == list_run_id))
            .mappings()
            .one()
        )


def batches(engine: sa.Engine, list_run_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                sa.select(t.list_batch)
                .where(t.list_batch.c.list_run_id == list_run_id)
                .order_by(t.list_batch.c.batch_no)
            ).mappings()
        ]


def calls(emulator: Any, operation: str) -> int:
    return emulator.control.state()["calls"].get(operation, 0)


def assert_counts_add_up(engine: sa.Engine, list_run_id: int) -> dict[str, Any]:
    """Invariant 5 on one list run; returns the row."""
    row = list_run_row(engine, list_run_id)
    recorded = batches(engine, list_run_id)
    codes = "".join(b["codes"] for b in recorded)
    refused = rejected(engine, list_run_id)
    assert row["selected"] == row["snapshot_rows"] + sum(row["excluded"].values())
    assert row["uploaded"] == row["snapshot_rows"] == len(codes)
    assert row["uploaded"] == row["accepted"] + row["rejected"]
    assert row["accepted"] == sum(c in "05" for c in codes) == sum(b["accepted"] for b in recorded)
    assert row["rejected"] == len(refused)
    assert sum(row["result_codes"].values()) == row["uploaded"]
    assert {int(k): v for k, v in row["result_codes"].items()} == {int(c): codes.count(c) for c in set(codes)}
    assert row["platform_count"] == row["accepted"]
    # batches tile the snapshot exactly, in seq order
    expected_first = 0
    for b in recorded:
        assert b["first_seq"] == expected_first and b["last_seq"] - b["first_seq"] + 1 == len(b["codes"])
        expected_first = b["last_seq"] + 1
    assert expected_first == row["snapshot_rows"]
    return row

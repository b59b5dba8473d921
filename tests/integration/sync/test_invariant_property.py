"""Invariant 1 end to end, as a property: over random CRM states and random feedback -- in the CRM
already, and waiting on the platform -- the chain feedback import → extract → validate → refill never
leaves on the platform list anybody who is unsubscribed (for the list's consent or globally), hard
bounced, blocklisted, without the list's consent, or without a valid address.

The oracle below is written from the rules in plain Python and knows nothing of the SQL. It is
deliberately conservative only where the platform itself refuses people (its own blocklist, filters
and client-wide unsubscribe list); for everything the CRM must know, a recipient that slips through
fails the test. A positive check keeps the property from passing vacuously: an always-eligible
person must be on the list, and the list must equal the snapshot minus the platform's refusals.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.crm_sync.audit.runs import mark_feedback_ok
from include.crm_sync.extract import extract_snapshot
from include.crm_sync.feedback.importer import import_feedback
from include.crm_sync.sync.refill import RefillOptions, refill_list
from include.crm_sync.validate.email_syntax import is_valid_email
from include.crm_sync.validate.snapshot_validation import validate_snapshot
from tests.integration.extract.crm_state import CrmState, clear_staging, list_def
from tests.integration.sync.scenario import calls, expected_list, make_platform, platform_list

LIST = list_def(name="newsletter_prop", platform_list_id="1001", optin_process_id="2001")
LIST_CONSENTS = {"1001": "newsletter", "1002": "product_updates", "1003": "events"}
CLEAN = ("C-CLEAN", "clean.person@example.com")  # always eligible, never touched by any feedback

ADDRESSES = [
    "ann@example.com", " Ann@Example.com", "bob@example.org", "carl@example.net", "dora@example.com",
    "eve@example.com", "x@blocked.example", "spam@example.com", "postmaster@example.com",
    "jan.unsub@example.nl", "hard.bounce@example.org", "not-an-address", "", None,
]
ENTITY_IDS = ["C1", "C2", "C3", "C4", "L1", "L2", "A1", "A2"]
UNKNOWN_ID = "C9"  # a recipient id the CRM does not know: feedback about it matches by address
PATTERNS = ["*@example.org", "e?e@*", "*.net"]
SCOPES = [None, "newsletter", "events"]
# The platform's own knowledge (include/emulators/optimizely/seed.yaml): unsubscribed from 1001 with
# the address as recipient id, and hard-bounced three times.
SEED_UNSUBSCRIBED_1001 = {"jan.unsub@example.nl"}
SEED_HARD_BOUNCED = {"hard.bounce@example.org"}
PLATFORM_BLOCKLIST = [re.compile(r".*@blocked\.example"), re.compile(r"spam@.*"), re.compile(r"fraud\.user@example\.com")]

_runs = itertools.count(1)


def _norm(email: str | None) -> str | None:
    return None if email is None else (email.strip(" ").lower() or None)


def _pattern(p: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p))


entity_st = st.fixed_dictionaries({
    "entity_type": st.sampled_from(["contact", "lead", "account"]),
    "email": st.sampled_from(ADDRESSES),
    "consent": st.sampled_from(["granted", "granted", "granted", "revoked", "pending", None]),
    "is_bounced": st.sampled_from([False, False, True]),
})
platform_event_st = st.fixed_dictionaries({
    "kind": st.sampled_from(["unsubscribe", "hardbounce", "softbounce"]),
    "recipient_id": st.sampled_from(ENTITY_IDS + [UNKNOWN_ID]),
    "email": st.sampled_from([a for a in ADDRESSES if _norm(a)] + [None]),
    "list_id": st.sampled_from([1001, 1002, None]),
})


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.sampled_from(ENTITY_IDS), min_size=3, max_size=8, unique=True))
    return {
        "entities": {i: draw(entity_st) for i in ids},
        "crm_bounces": draw(st.lists(st.tuples(st.sampled_from(ADDRESSES).map(_norm),
                                               st.sampled_from(["hardbounce", "softbounce", "overflow"])), max_size=4)),
        "crm_unsubscribes": draw(st.lists(st.tuples(st.sampled_from(["email", "entity_id", "recipient_id"]),
                                                    st.sampled_from(ADDRESSES + ENTITY_IDS),
                                                    st.sampled_from(SCOPES)), max_size=4)),
        "crm_blocked": draw(st.lists(st.sampled_from(ADDRESSES).map(_norm).filter(bool), max_size=3, unique=True)),
        "crm_patterns": draw(st.lists(st.sampled_from(PATTERNS), max_size=1)),
        "platform_events": draw(st.lists(platform_event_st, max_size=6)),
    }


def forbidden(world: dict[str, Any]) -> set[str]:
    """Entity ids that must not be on the list, by the documented rules."""
    entities = world["entities"]
    out = set()
    for eid, e in entities.items():
        address = _norm(e["email"])
        reasons = []
        reasons.append(e["consent"] != "granted")
        reasons.append(e["is_bounced"])
        reasons.append(address is None or not is_valid_email(address))
        for kind, value, scope in world["crm_unsubscribes"]:
            if scope in (None, "newsletter"):
                reasons.append(_norm(value) == address if kind == "email" else value == eid)
        reasons.append(any(a == address for a, cat in world["crm_bounces"] if cat in ("hardbounce", "overflow")))
        reasons.append(address in world["crm_blocked"])
        reasons.append(bool(address) and any(_pattern(p).fullmatch(address) for p in world["crm_patterns"]))
        for ev in world["platform_events"]:
            # feedback matches the entity by recipient id, else (unknown id) every entity with the address
            about = ev["recipient_id"] == eid or (
                ev["recipient_id"] not in entities and ev["email"] is not None and _norm(ev["email"]) == address
            )
            if ev["kind"] == "unsubscribe":
                reasons.append(about and ev["list_id"] in (1001, None))
            elif ev["kind"] == "hardbounce":
                reasons.append(about)
        reasons.append(address in SEED_UNSUBSCRIBED_1001 | SEED_HARD_BOUNCED)
        reasons.append(bool(address) and any(p.fullmatch(address) for p in PLATFORM_BLOCKLIST))
        if any(reasons):
            out.add(eid)
    return out


def write_crm(engine: sa.Engine, world: dict[str, Any], run_id: str) -> None:
    state = CrmState()
    state.entity(*CLEAN)
    for eid, e in world["entities"].items():
        state.entity(eid, e["email"], entity_type=e["entity_type"], consent=e["consent"], is_bounced=e["is_bounced"])
    for address, category in world["crm_bounces"]:
        state.bounce(address, category)
    for kind, value, scope in world["crm_unsubscribes"]:
        if kind == "email":
            state.unsubscribe(_norm(value), consent_id=scope)
        else:
            state.unsubscribe(consent_id=scope, **{kind: value})
    for address in world["crm_blocked"]:
        state.block(address)
    for pattern in world["crm_patterns"]:
        state.block(pattern, is_pattern=True)
    state.write(engine, run_id=run_id, feedback_ok=False)
    if engine.dialect.name == "postgresql":  # CrmState wrote file_ledger row 1 by hand: move the sequence on
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('file_ledger', 'file_id'), (SELECT max(file_id) FROM file_ledger))"
            )


def platform_events(world: dict[str, Any]) -> list[dict[str, Any]]:
    events = []
    for ev in world["platform_events"]:
        doc: dict[str, Any] = {"recipient_id": ev["recipient_id"], "occurred_at": "-1h"}
        if ev["email"] is not None:
            doc["email"] = _norm(ev["email"])
        if ev["list_id"] is not None:
            doc["list_id"] = ev["list_id"]
        if ev["kind"] == "unsubscribe":
            doc["kind"] = "unsubscribe"
        else:
            doc |= {"kind": "bounce", "category": ev["kind"]}
        events.append(doc)
    return events


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
def test_nobody_unsubscribed_bounced_blocklisted_or_without_consent_reaches_the_list(
    staging_engine, optimizely_emulator, tmp_path, world
):
    emulator = optimizely_emulator
    emulator.control.reset()
    clear_staging(staging_engine)
    run_id = f"prop-{next(_runs)}"
    write_crm(staging_engine, world, run_id)
    if world["platform_events"]:
        emulator.control.add_feedback_events(platform_events(world))

    platform = make_platform(emulator.base_url)
    try:
        import_feedback(staging_engine, platform, landing_dir=tmp_path / run_id, run_id=run_id,
                        list_consents=LIST_CONSENTS)
        mark_feedback_ok(staging_engine, run_id)
        list_run_id = extract_snapshot(staging_engine, LIST, run_id=run_id).list_run_id
        assert validate_snapshot(staging_engine, LIST, list_run_id).passed
        refill_list(staging_engine, platform, list_run_id, RefillOptions(batch_size=3, max_parallel_calls=2))
    finally:
        platform.close()

    on_list = platform_list(emulator)
    assert not set(on_list) & forbidden(world), {rid: on_list[rid].email for rid in set(on_list) & forbidden(world)}
    assert CLEAN[0] in on_list
    assert on_list == expected_list(staging_engine, list_run_id)
    assert calls(emulator, "Recipient.clear") == 1

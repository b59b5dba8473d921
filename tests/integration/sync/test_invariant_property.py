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
import random
import re
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
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
    "ann@example.com",
    " Ann@Example.com",
    "bob@example.org",
    "carl@example.net",
    "dora@example.com",
    "eve@example.com",
    "x@blocked.example",
    "spam@example.com",
    "postmaster@example.com",
    "jan.unsub@example.nl",
    "hard.bounce@example.org",
    "not-an-address",
    "",
    None,
]
ENTITY_IDS = ["C1", "C2", "C3", "C4", "L1", "L2", "A1", "A2"]
UNKNOWN_ID = "C9"  # a recipient id the CRM does not know: feedback about it matches by address
PATTERNS = ["*@example.org", "e?e@*", "*.net"]
SCOPES = [None, "newsletter", "events"]
# The platform's own knowledge (include/emulators/optimizely/seed.yaml): unsubscribed from 1001 with
# the address as recipient id, and hard-bounced three times.
SEED_UNSUBSCRIBED_1001 = {"jan.unsub@example.nl"}
SEED_HARD_BOUNCED = {"hard.bounce@example.org"}
PLATFORM_BLOCKLIST = [
    re.compile(r".*@blocked\.example"),
    re.compile(r"spam@.*"),
    re.compile(r"fraud\.user@example\.com"),
]

_runs = itertools.count(1)


def _norm(email: str | None) -> str | None:
    return None if email is None else (email.strip(" ").lower() or None)


def _pattern(p: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p))


def entity_st(entity_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly clean people (one reason at most is what makes a rule's failure visible), some dirty."""
    own = f"{entity_id.lower()}@example.com"
    return st.fixed_dictionaries(
        {
            "entity_type": st.sampled_from(["contact", "lead", "account"]),
            "email": st.sampled_from([own] * 10 + [f" {entity_id}@Example.COM "] * 2 + ADDRESSES),
            "consent": st.sampled_from(["granted"] * 5 + ["revoked", "pending", None]),
            "is_bounced": st.sampled_from([False] * 5 + [True]),
        }
    )


#: what the feedback says about one person (None: nothing); each is one way to become forbidden --
#: or, for the "other"/"soft" ones, something that must not exclude anybody from this list
ROLES = [
    "crm_unsub_email",
    "crm_unsub_entity",
    "crm_unsub_recipient",
    "crm_unsub_other_consent",
    "crm_hardbounce",
    "crm_overflow",
    "crm_softbounce",
    "crm_block",
    "crm_pattern",
    "pf_unsub_this_list",
    "pf_unsub_other_list",
    "pf_unsub_no_list",
    "pf_unsub_by_address",
    "pf_hardbounce",
    "pf_softbounce",
    None,
    None,
    None,
]


def empty_world(entities: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "entities": entities,
        "crm_bounces": [],
        "crm_unsubscribes": [],
        "crm_blocked": [],
        "crm_patterns": [],
        "platform_events": [],
    }


def add_role(
    world: dict[str, Any], eid: str, role: str | None, *, global_scope: bool, by_id: bool, with_email: bool
) -> None:
    """Feedback that gives person ``eid`` its ``role`` (see ROLES); the flags pick the variant."""
    email = world["entities"][eid]["email"]
    scope = None if global_scope else "newsletter"
    if role == "crm_unsub_email":
        world["crm_unsubscribes"].append(("email", email, scope))
    elif role == "crm_unsub_entity":
        world["crm_unsubscribes"].append(("entity_id", eid, scope))
    elif role == "crm_unsub_recipient":
        world["crm_unsubscribes"].append(("recipient_id", eid, scope))
    elif role == "crm_unsub_other_consent":
        world["crm_unsubscribes"].append(
            ("entity_id", eid, "events") if by_id else ("email", email, "events")
        )
    elif role in ("crm_hardbounce", "crm_overflow", "crm_softbounce"):
        world["crm_bounces"].append((_norm(email), role.removeprefix("crm_")))
    elif role == "crm_block" and _norm(email) and _norm(email) not in world["crm_blocked"]:
        world["crm_blocked"].append(_norm(email))
    elif role == "crm_pattern":
        world["crm_patterns"].append(f"{eid.lower()}@*.c?m")  # matches the own address only
    elif role and role.startswith("pf_"):
        by_address = role == "pf_unsub_by_address"
        world["platform_events"].append(
            {
                "kind": {"pf_hardbounce": "hardbounce", "pf_softbounce": "softbounce"}.get(
                    role, "unsubscribe"
                ),
                "recipient_id": UNKNOWN_ID if by_address else eid,
                "email": _norm(email) if by_address or with_email else None,
                "list_id": {"pf_unsub_other_list": 1002, "pf_unsub_no_list": None}.get(role, 1001),
            }
        )


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.sampled_from(ENTITY_IDS), min_size=3, max_size=8, unique=True))
    world = empty_world({i: draw(entity_st(i)) for i in ids})
    # A seeded shuffle gives the people of one world different roles; st.permutations would favour
    # near-identity orders and leave the last roles rarely tried.
    roles = random.Random(draw(st.integers(0, 2**32 - 1))).sample(ROLES, len(ROLES))
    # strict=False: a world has 3-8 people and there are more roles; the first len(ids) are used.
    for eid, role in zip(ids, roles, strict=False):
        add_role(
            world,
            eid,
            role,
            global_scope=draw(st.booleans()),
            by_id=draw(st.booleans()),
            with_email=draw(st.booleans()),
        )
    # and some feedback about anybody (other addresses, unknown recipients)
    address = st.sampled_from(ADDRESSES).map(_norm)
    world["crm_unsubscribes"] += draw(
        st.lists(st.tuples(st.just("email"), address, st.sampled_from(SCOPES)), max_size=1)
    )
    world["crm_bounces"] += draw(
        st.lists(st.tuples(address, st.sampled_from(["hardbounce", "overflow"])), max_size=1)
    )
    world["platform_events"] += draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["unsubscribe", "hardbounce"]),
                    "recipient_id": st.just(UNKNOWN_ID),
                    "email": address.filter(bool),
                    "list_id": st.sampled_from([1001, None]),
                }
            ),
            max_size=1,
        )
    )
    return world


def every_rule_world() -> dict[str, Any]:
    """One clean person per role and per CRM flag: every rule is tried in every run, whatever the
    random examples happen to be."""

    def person(eid: str, **overrides: Any) -> dict[str, Any]:
        return {
            "entity_type": "contact",
            "email": f"{eid.lower()}@example.com",
            "consent": "granted",
            "is_bounced": False,
        } | overrides

    entities = {f"R{i:02d}": person(f"R{i:02d}") for i, role in enumerate(ROLES) if role}
    entities |= {
        "F-REVOKED": person("F-REVOKED", consent="revoked"),
        "F-PENDING": person("F-PENDING", consent="pending"),
        "F-NOCONSENT": person("F-NOCONSENT", consent=None),
        "F-BOUNCED": person("F-BOUNCED", is_bounced=True),
        "F-INVALID": person("F-INVALID", email="not-an-address"),
        "F-NOADDRESS": person("F-NOADDRESS", email=None),
        "F-PFBLOCK": person("F-PFBLOCK", email="x@blocked.example"),
        "F-PFUNSUB": person("F-PFUNSUB", email="jan.unsub@example.nl"),
        "F-PFBOUNCE": person("F-PFBOUNCE", email="hard.bounce@example.org"),
    }
    world = empty_world(entities)
    for i, role in enumerate(ROLES):
        if role:
            add_role(
                world, f"R{i:02d}", role, global_scope=i % 2 == 0, by_id=i % 2 == 1, with_email=i % 3 == 0
            )
    return world


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
        reasons.append(
            any(a == address for a, cat in world["crm_bounces"] if cat in ("hardbounce", "overflow"))
        )
        reasons.append(address in world["crm_blocked"])
        reasons.append(bool(address) and any(_pattern(p).fullmatch(address) for p in world["crm_patterns"]))
        for ev in world["platform_events"]:
            # feedback matches the entity by recipient id, else (unknown id) every entity with the address
            about = ev["recipient_id"] == eid or (
                ev["recipient_id"] not in entities
                and ev["email"] is not None
                and _norm(ev["email"]) == address
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
        state.entity(
            eid, e["email"], entity_type=e["entity_type"], consent=e["consent"], is_bounced=e["is_bounced"]
        )
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
                "SELECT setval(pg_get_serial_sequence('file_ledger', 'file_id'), "
                "(SELECT max(file_id) FROM file_ledger))"
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


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
@example(world=every_rule_world())
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
        import_feedback(
            staging_engine,
            platform,
            landing_dir=tmp_path / run_id,
            run_id=run_id,
            list_consents=LIST_CONSENTS,
        )
        mark_feedback_ok(staging_engine, run_id)
        list_run_id = extract_snapshot(staging_engine, LIST, run_id=run_id).list_run_id
        assert validate_snapshot(staging_engine, LIST, list_run_id).passed
        refill_list(staging_engine, platform, list_run_id, RefillOptions(batch_size=3, max_parallel_calls=2))
    finally:
        platform.close()

    on_list = platform_list(emulator)
    assert not set(on_list) & forbidden(world), {
        rid: on_list[rid].email for rid in set(on_list) & forbidden(world)
    }
    assert CLEAN[0] in on_list
    assert on_list == expected_list(staging_engine, list_run_id)
    assert calls(emulator, "Recipient.clear") == 1

"""Property test: over random CRM states the snapshot equals an independent model of the rules.

Hypothesis draws small CRM states dense in the hard cases -- shared, mixed-case, padded, missing
and invalid addresses; consents granted, revoked, pending or absent; entity and address bounces;
unsubscribes by address, entity id or recipient id, scoped to this consent, another one or all;
exact and wildcard blocklist entries -- and the extraction must agree with a plain-Python oracle
written from the documented rules. On top, the invariants are checked on the snapshot directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.crm_sync.extract import ExclusionReason, extract_snapshot
from include.crm_sync.validate.email_syntax import is_valid_email
from tests.integration.extract.crm_state import CrmState, clear_staging, list_def, snapshot_rows

ADDRESSES = [
    "ann@example.com",
    " Ann@Example.com",
    "ANN@EXAMPLE.COM ",
    "bob@example.com",
    "bob@example.org",
    "x_y@example.com",
    "xay@example.com",
    "c@blocked.example",
    "d@sub.blocked.example",
    "not-an-address",
    "two@@example.com",
    "",
    "   ",
    None,
]
PATTERNS = ["*@blocked.example", "*.blocked.example", "x?y@*", "x_y@*", "bob@*", "*@example.org"]
CONSENT_STATUS = [None, "granted", "granted", "granted", "revoked", "pending"]
SCOPES = [None, "newsletter", "events"]
ENTITY_IDS = [f"{p}{i}" for p in "CLA" for i in (1, 2, 10, 11)]


def _normalize(email: str | None) -> str | None:
    return None if email is None else email.strip(" ").lower()


entity_st = st.fixed_dictionaries(
    {
        "entity_type": st.sampled_from(["contact", "lead", "account"]),
        "email": st.sampled_from(ADDRESSES),
        "status": st.sampled_from(CONSENT_STATUS),
        "other_consent": st.booleans(),
        "is_bounced": st.sampled_from([False, False, False, True]),
    }
)
normalized_st = st.sampled_from([_normalize(a) for a in ADDRESSES])


@st.composite
def crm_states(draw: st.DrawFn) -> dict:
    ids = draw(st.lists(st.sampled_from(ENTITY_IDS), min_size=1, max_size=12, unique=True))
    entities = {i: draw(entity_st) for i in ids}
    return {
        "entities": entities,
        "bounces": draw(
            st.lists(
                st.tuples(normalized_st, st.sampled_from(["hardbounce", "softbounce", "overflow"])),
                max_size=4,
            )
        ),
        "unsubscribes": draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["email", "entity_id", "recipient_id"]),
                    st.sampled_from(ADDRESSES + ENTITY_IDS),
                    st.sampled_from(SCOPES),
                ),
                max_size=4,
            )
        ),
        "blocked": draw(st.lists(normalized_st.filter(bool), max_size=3, unique=True)),
        "patterns": draw(st.lists(st.sampled_from(PATTERNS), max_size=2, unique=True)),
    }


@dataclass
class Expected:
    kept: dict[str, str]
    excluded: dict[str, int]


def _pattern(p: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p.lower()), re.S
    )


def oracle(s: dict) -> Expected:
    """The documented rules, in plain Python, independent of the SQL."""
    scope = {"newsletter", None}  # the list's consent, or all marketing consents (newsletter is one)
    unsub_emails = {
        _normalize(v) for k, v, c in s["unsubscribes"] if k == "email" and c in scope and _normalize(v)
    }
    unsub_ids = {v for k, v, c in s["unsubscribes"] if k != "email" and c in scope and v}
    bounced = {e for e, cat in s["bounces"] if e and cat in ("hardbounce", "overflow")}
    patterns = [_pattern(p) for p in s["patterns"]]
    counts = dict.fromkeys([r.value for r in ExclusionReason], 0)
    eligible: list[tuple[str, str, str]] = []
    for entity_id, e in s["entities"].items():
        email = _normalize(e["email"])
        if e["status"] not in ("granted", "revoked"):
            reason = "no_consent"
        elif e["status"] == "revoked" or entity_id in unsub_ids or email in unsub_emails:
            reason = "unsubscribed"
        elif e["is_bounced"]:
            reason = "entity_bounced"
        elif email in bounced:
            reason = "address_bounced"
        elif email and (email in s["blocked"] or any(p.fullmatch(email) for p in patterns)):
            reason = "blocklisted"
        elif not email:
            reason = "missing_address"
        elif not is_valid_email(email):
            reason = "invalid_address"
        else:
            eligible.append((email, e["entity_type"], entity_id))
            continue
        counts[reason] += 1
    rank = {"contact": 0, "lead": 1, "account": 2}
    winners: dict[str, tuple[int, bytes, str]] = {}
    for email, entity_type, entity_id in eligible:
        key = (rank[entity_type], entity_id.encode(), entity_id)
        if email not in winners or key < winners[email]:
            winners[email] = key
    counts["duplicate_address"] = len(eligible) - len(winners)
    return Expected(kept={w[2]: email for email, w in winners.items()}, excluded=counts)


def _write(engine: sa.Engine, s: dict) -> None:
    state = CrmState()
    for entity_id, e in s["entities"].items():
        state.entity(
            entity_id,
            e["email"],
            entity_type=e["entity_type"],
            consent=e["status"],
            is_bounced=e["is_bounced"],
        )
        if e["other_consent"]:
            state.consent(entity_id, "events", "granted")
    for email, category in s["bounces"]:
        state.bounce(email, category)
    for kind, value, consent_id in s["unsubscribes"]:
        if kind == "email":
            state.unsubscribe(_normalize(value), consent_id=consent_id)
        else:
            state.unsubscribe(consent_id=consent_id, **{kind: value})
    for email in s["blocked"]:
        state.block(email)
    for pattern in s["patterns"]:
        state.block(pattern, is_pattern=True)
    state.write(engine)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(s=crm_states())
def test_snapshot_matches_the_rules(staging_engine: sa.Engine, s: dict) -> None:
    clear_staging(staging_engine)
    _write(staging_engine, s)

    report = extract_snapshot(staging_engine, list_def(), run_id="run-1")
    rows = snapshot_rows(staging_engine, report.list_run_id)
    expected = oracle(s)

    # Counts add up and match the model, reason by reason.
    assert report.selected == len(s["entities"]) == report.snapshot_rows + sum(report.excluded.values())
    assert report.excluded == expected.excluded
    assert {r[1]: r[2] for r in rows} == expected.kept

    # Invariants, checked on the snapshot itself.
    ids = [r[1] for r in rows]
    emails = [r[2] for r in rows]
    assert [r[0] for r in rows] == list(range(len(rows)))
    assert emails == sorted(emails, key=str.encode)  # upload order: byte order of the address
    assert len(set(emails)) == len(emails)
    assert len(set(ids)) == len(ids)
    for _, entity_id, email, attrs in rows:
        e = s["entities"][entity_id]
        assert e["status"] == "granted" and not e["is_bounced"]
        assert is_valid_email(email) and email == _normalize(e["email"])
        assert email not in {b for b, c in s["bounces"] if c != "softbounce"}
        assert email not in s["blocked"] and not any(_pattern(p).fullmatch(email) for p in s["patterns"])
        for kind, value, consent_id in s["unsubscribes"]:
            if consent_id in (None, "newsletter"):
                assert (email if kind == "email" else entity_id) != (
                    _normalize(value) if kind == "email" else value
                )
        assert attrs[:5] == ("2001", "CRM list test_list", "email", e["entity_type"], entity_id)

"""The row generator: determinism, block independence, and the realism the sync tests rely on."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.crm_sync.generate.model import (
    CONSENT_COLUMNS,
    CONSENT_TYPES,
    ENTITY_COLUMNS,
    MARKETING_LISTS,
    GenerationSpec,
)
from include.crm_sync.generate.people import BLOCK_CONTACTS, BlockGenerator, block_count, iter_blocks
from include.crm_sync.generate.pipeline import chunks

E = {name: i for i, name in enumerate(ENTITY_COLUMNS)}
C = {name: i for i, name in enumerate(CONSENT_COLUMNS)}
# Deliberately simple: what any platform accepts; the generator's invalid variants all fail it.
VALID_EMAIL = re.compile(r"^[a-z0-9_+-]+(\.[a-z0-9_+-]+)*@[a-z0-9-]+(\.[a-z0-9-]+)+$")


def _digest(spec: GenerationSpec) -> str:
    h = hashlib.sha256()
    for block in iter_blocks(spec):
        h.update(repr((block.entities, block.consents, block.members)).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def data() -> dict:
    """Rows of a 6,000-contact data set (six blocks), by table."""
    spec = GenerationSpec(contacts=6_000, seed=11)
    entities, consents, members = [], [], []
    for block in iter_blocks(spec):
        entities += block.entities
        consents += block.consents
        members += block.members
    return {"spec": spec, "entities": entities, "consents": consents, "members": members}


def test_same_seed_gives_identical_rows_and_another_seed_different_ones():
    assert _digest(GenerationSpec(2_500, seed=3)) == _digest(GenerationSpec(2_500, seed=3))
    assert _digest(GenerationSpec(2_500, seed=3)) != _digest(GenerationSpec(2_500, seed=4))


def test_as_of_and_ratios_are_part_of_the_data_definition():
    base = _digest(GenerationSpec(1_000, seed=3))
    assert _digest(GenerationSpec(1_000, seed=3, as_of=datetime(2024, 1, 1, tzinfo=UTC))) != base
    assert _digest(GenerationSpec(1_000, seed=3, leads_ratio=0.5)) != base


def test_a_block_generated_alone_equals_the_same_block_in_the_stream():
    spec = GenerationSpec(3_500, seed=5)
    streamed = list(iter_blocks(spec))
    alone = BlockGenerator(spec).block(2)
    assert (alone.entities, alone.consents, alone.members) == (
        streamed[2].entities,
        streamed[2].consents,
        streamed[2].members,
    )


def test_a_larger_data_set_starts_with_the_smaller_one():
    """Growing N appends rows: the first blocks of a 3,000 set are those of a 2,000 set."""
    small, large = list(iter_blocks(GenerationSpec(2_000, 9))), list(iter_blocks(GenerationSpec(3_000, 9)))
    assert [b.entities for b in small] == [b.entities for b in large[:2]]


_CHUNKED_SPEC = GenerationSpec(2_300, seed=21)


@cache
def _blocks() -> tuple:
    return tuple(iter_blocks(_CHUNKED_SPEC))


@settings(max_examples=25, deadline=None)
@given(chunk_size=st.integers(min_value=1, max_value=4_000))
def test_chunking_never_changes_the_rows(chunk_size: int):
    got = list(chunks(iter_blocks(_CHUNKED_SPEC), chunk_size))
    for table in ("entities", "consents", "members"):
        expected = [r for b in _blocks() for r in getattr(b, table)]
        assert [r for c in got for r in getattr(c, table)] == expected
    # Chunks are whole blocks holding at least chunk_size entities, except the last one.
    assert all(len(c.entities) >= chunk_size for c in got[:-1])


@pytest.mark.parametrize(
    "contacts, leads_ratio, accounts_ratio",
    [
        (0, 0.2, 0.05),
        (1, 0.2, 0.05),
        (999, 0.2, 0.05),
        (2_500, 0.3, 0.07),
        (4_001, 1.5, 0.0),
    ],
)
def test_entity_counts_follow_the_ratios_exactly(contacts, leads_ratio, accounts_ratio):
    spec = GenerationSpec(contacts, seed=1, leads_ratio=leads_ratio, accounts_ratio=accounts_ratio)
    types = Counter(row[E["entity_type"]] for block in iter_blocks(spec) for row in block.entities)
    assert types == Counter({"contact": contacts, "lead": spec.leads, "account": spec.accounts}) - Counter()
    assert spec.leads == int(contacts * leads_ratio + 1e-9)
    assert block_count(spec) == -(-contacts // BLOCK_CONTACTS)


def test_entity_ids_are_sequential_and_unique(data):
    ids = [row[E["entity_id"]] for row in data["entities"]]
    assert len(ids) == len(set(ids))
    spec = data["spec"]
    for prefix, count in (("C", spec.contacts), ("L", spec.leads), ("A", spec.accounts)):
        assert sorted(i for i in ids if i[0] == prefix) == [f"{prefix}{n:08d}" for n in range(1, count + 1)]


def test_every_value_is_text_or_null_and_safe_for_copy(data):
    for row in data["entities"] + data["consents"] + data["members"]:
        for value in row:
            assert value is None or (isinstance(value, str) and not set(value) & set("\t\n\r\\"))


def test_email_normalized_is_lower_trim_of_email(data):
    for row in data["entities"]:
        email = row[E["email"]]
        assert row[E["email_normalized"]] == (None if email is None else email.strip().lower())


def test_attributes_are_canonical_json(data):
    for row in data["entities"]:
        text = row[E["attributes"]]
        if text is not None:
            assert json.dumps(json.loads(text)) == text


def test_contacts_reference_accounts_that_exist(data):
    account_ids = {row[E["entity_id"]] for row in data["entities"] if row[E["entity_type"]] == "account"}
    linked = [
        json.loads(row[E["attributes"]]).get("account_id")
        for row in data["entities"]
        if row[E["entity_type"]] == "contact" and row[E["attributes"]]
    ]
    linked = [a for a in linked if a]
    assert len(linked) > 1_000 and set(linked) <= account_ids


def test_all_entity_types_languages_and_countries_occur(data):
    entities = data["entities"]
    assert {r[E["entity_type"]] for r in entities} == {"contact", "lead", "account"}
    assert {r[E["language"]] for r in entities} == {"nl", "de", "en", "fr"}
    assert {"NL", "BE", "DE", "FR", "GB"} <= {r[E["country"]] for r in entities}
    assert all(r[E["city"]] for r in entities)


def test_non_ascii_names_survive_as_unicode(data):
    names = "".join(
        f"{r[E['first_name']] or ''} {r[E['last_name']] or ''} {r[E['company_name']] or ''}"
        for r in data["entities"]
    )
    for char in "äßéł":
        assert char in names, char
    assert re.search(r"[\u4e00-\u9fff]", names), "no Chinese name"


def test_addresses_include_every_kind_of_dirt(data):
    emails = [r[E["email"]] for r in data["entities"]]
    total = len(emails)
    present = [e for e in emails if e is not None]
    assert None in emails and "" in emails and "   " in emails
    padded = [e for e in present if e.strip() and e != e.strip()]
    mixed = [e for e in present if e.strip() != e.strip().lower()]
    invalid = [e for e in present if e.strip() and not VALID_EMAIL.match(e.strip().lower())]
    assert padded and mixed
    assert 0.008 < len(invalid) / total < 0.03, len(invalid) / total  # "about 1-2 %"
    normalized = {r[E["email_normalized"]] for r in data["entities"] if r[E["email_normalized"]]}
    assert any(e.endswith("@blocked.example") for e in normalized)
    for local in ("spam@", "postmaster@", "abuse@"):
        assert any(e.startswith(local) for e in normalized), local
    assert all(e.isascii() for e in present)


def test_contacts_and_leads_share_addresses_in_different_case(data):
    by_address = defaultdict(list)
    for r in data["entities"]:
        if r[E["email_normalized"]] and VALID_EMAIL.match(r[E["email_normalized"]]):
            by_address[r[E["email_normalized"]]].append(r)

    def types(rows: list) -> Counter:
        return Counter(r[E["entity_type"]] for r in rows)

    shared = [rows for rows in by_address.values() if types(rows)["contact"] and types(rows)["lead"]]
    assert len(shared) >= 50
    differing_case = [
        rows
        for rows in shared
        if len({r[E["email"]].strip() for r in rows if r[E["entity_type"]] in ("contact", "lead")}) > 1
    ]
    assert len(differing_case) >= 50
    duplicates = [rows for rows in by_address.values() if types(rows)["contact"] > 1]
    assert duplicates, "no duplicate contact records"
    account_shared = [
        rows for rows in by_address.values() if types(rows)["contact"] and types(rows)["account"]
    ]
    assert account_shared, "no contact using its account's mailbox"


def test_consents_cover_every_type_with_consistent_timestamps(data):
    consents = data["consents"]
    as_of = data["spec"].as_of.strftime("%Y-%m-%d %H:%M:%S.%f")
    created = {r[E["entity_id"]]: r[E["created_at"]] for r in data["entities"]}
    assert {r[C["consent_id"]] for r in consents} == {row[0] for row in CONSENT_TYPES}
    keys = [(r[C["entity_id"]], r[C["consent_id"]]) for r in consents]
    assert len(keys) == len(set(keys))
    for r in consents:
        granted, revoked, updated = r[C["granted_at"]], r[C["revoked_at"]], r[C["updated_at"]]
        assert r[C["source"]] == "crm"
        if r[C["status"]] == "granted":
            assert granted is not None and revoked is None and updated == granted
        else:
            assert r[C["status"]] == "revoked" and revoked is not None and updated == revoked
            assert granted is None or granted <= revoked
        assert created[r[C["entity_id"]]] <= (granted or revoked) <= updated < as_of
    statuses = Counter(r[C["status"]] for r in consents)
    assert 0.03 < statuses["revoked"] / len(consents) < 0.15
    assert any(r[C["status"]] == "revoked" and r[C["granted_at"]] is None for r in consents)
    assert any(r[C["status"]] == "revoked" and r[C["granted_at"]] is not None for r in consents)


def test_entity_timestamps_and_bounces_are_consistent(data):
    as_of = data["spec"].as_of.strftime("%Y-%m-%d %H:%M:%S.%f")
    bounced = [r for r in data["entities"] if r[E["is_bounced"]] == "1"]
    assert bounced
    assert all(r[E["bounced_at"]] and r[E["bounce_category"]] in ("hardbounce", "overflow") for r in bounced)
    for r in data["entities"]:
        assert r[E["created_at"]] <= r[E["updated_at"]] < as_of
        assert r[E["is_bounced"]] in ("0", "1")
        if r[E["is_bounced"]] == "0":
            assert r[E["bounced_at"]] is None and r[E["bounce_category"]] is None


def test_marketing_lists_have_members_that_fit_their_definition(data):
    entities = {r[E["entity_id"]]: r for r in data["entities"]}
    members = defaultdict(list)
    for list_key, entity_id in data["members"]:
        members[list_key].append(entities[entity_id])
    assert set(members) == {row[0] for row in MARKETING_LISTS}
    assert len(data["members"]) == len(set(data["members"]))
    assert all(r[E["language"]] == "nl" and r[E["entity_type"]] == "contact" for r in members["nl_customers"])
    assert all(r[E["language"]] == "de" and r[E["entity_type"]] == "lead" for r in members["de_prospects"])
    assert {r[E["entity_type"]] for r in members["vip_accounts"]} == {"account", "contact"}
    assert {r[E["entity_type"]] for r in members["webinar_attendees"]} == {"contact", "lead"}


def test_spec_rejects_nonsense():
    with pytest.raises(ValueError):
        GenerationSpec(-1, seed=1)
    with pytest.raises(ValueError):
        GenerationSpec(10, seed=1, leads_ratio=-0.1)
    with pytest.raises(ValueError):
        GenerationSpec(10, seed=1, as_of=datetime(2025, 1, 1))

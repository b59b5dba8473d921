"""Platform ids are parsed into their canonical form at load; the platform picks its own list block.

Issue 12 point 2: one platform list must not be reachable under two spellings, and a bad id or an
unknown platform must fail the load naming file, list, field and line -- not fail at refill.
Issue 13: ``platform:`` selects a block validated per platform (a discriminated union).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.crm_sync.config import ListsConfigError, load_lists

OPTIMIZELY = """\
  - name: {name}
    platform_list_id: {list_id}
    optin_process_id: {optin_id}
    consent: {consent}
    selection:
      filter:
        languages: [nl]
"""

SPOTLER = """\
  - name: {name}
    platform: spotler
    consent: newsletter
    audience:
      external_id: {external_id}
      name: {audience_name}
    selection:
      filter:
        languages: [nl]
"""


def optimizely(
    name: str, list_id: str = '"1001"', optin_id: str = '"2001"', consent: str = "newsletter"
) -> str:
    return OPTIMIZELY.format(name=name, list_id=list_id, optin_id=optin_id, consent=consent)


def spotler(name: str, external_id: str = "crm-nl", audience_name: str = "CRM newsletter NL") -> str:
    return SPOTLER.format(name=name, external_id=external_id, audience_name=audience_name)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "lists.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ListsConfigError) as info:
        load_lists(path)
    return info.value.problems


@pytest.fixture
def spotler_enabled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Spotler lists accepted, as once the lead wires the Spotler engine into the DAG."""
    from include.crm_sync.config import registry

    monkeypatch.setattr(registry, "SUPPORTED_PLATFORMS", registry.SUPPORTED_PLATFORMS | {"spotler"})
    yield


# --------------------------------------------------------------------------- canonical Optimizely ids


def test_one_platform_list_under_two_spellings_is_refused_naming_both_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lists:\n" + optimizely("newsletter") + optimizely("events", list_id='"01001"', consent="events"),
    )
    [problem] = problems(path)
    assert problem.startswith(f"{path}: list 'events' (line 9), field 'platform_list_id' (line 10): ")
    assert "lists 'newsletter' and 'events' both write platform list optimizely:1001" in problem


@pytest.mark.parametrize(
    ("list_id", "optin_id"),
    [('"01001"', '"02001"'), ("1001", "2001"), ("01001", "02001"), ('" 1001 "', "2001")],
    ids=["leading-zero-string", "yaml-int", "yaml-octal-looking-int", "padded"],
)
def test_ids_are_stored_in_their_canonical_form(tmp_path: Path, list_id: str, optin_id: str) -> None:
    # Unquoted 01001 is an octal int (513) to YAML 1.1: the loader must not turn it into list 513.
    item = load_lists(write(tmp_path, "lists:\n" + optimizely("nl", list_id, optin_id))).get("nl")
    assert (item.platform_list_id, item.optin_process_id) == ("1001", "2001")


@pytest.mark.parametrize("field", ["platform_list_id", "optin_process_id"])
@pytest.mark.parametrize(
    "value",
    [
        '"1001.0"',
        "1001.0",
        '"abc"',
        "-5",
        '"-5"',
        '"+5"',
        '"1_001"',
        "0x3E9",
        '"1e3"',
        '""',
        "true",
        '"١٠٠١"',
    ],
)
def test_a_bad_id_fails_the_load_naming_file_list_field_and_line(
    tmp_path: Path, field: str, value: str
) -> None:
    entry = optimizely("nl", **{"list_id" if field == "platform_list_id" else "optin_id": value})
    path = write(tmp_path, "lists:\n" + entry)
    [problem] = problems(path)
    line = 3 if field == "platform_list_id" else 4
    assert problem.startswith(f"{path}: list 'nl' (line 2), field '{field}' (line {line}): ")
    assert "must be a whole number" in problem


def test_list_id_zero_is_refused_but_optin_process_zero_means_activate_immediately(tmp_path: Path) -> None:
    [problem] = problems(write(tmp_path, "lists:\n" + optimizely("nl", list_id='"0"')))
    assert problem.startswith(
        f"{tmp_path / 'lists.yaml'}: list 'nl' (line 2), field 'platform_list_id' (line 3): "
    )
    assert "must be a whole number of 1 or more" in problem
    # The platform documents opt-in process 0 as "activates immediately": a real value, kept.
    item = load_lists(write(tmp_path, "lists:\n" + optimizely("nl", optin_id='"0"'))).get("nl")
    assert item.optin_process_id == "0"


# --------------------------------------------------------------------------- platform: selects the block


@pytest.mark.parametrize("platform", ["mailjet", "Optimizely", "'[x]'", "''"])
def test_an_unknown_platform_fails_the_load_naming_file_list_field_and_line(
    tmp_path: Path, platform: str
) -> None:
    entry = optimizely("nl").replace(
        "    platform_list_id", f"    platform: {platform}\n    platform_list_id", 1
    )
    path = write(tmp_path, "lists:\n" + optimizely("other", list_id='"7"') + entry)
    [problem] = problems(path)
    assert problem.startswith(f"{path}: list 'nl' (line 9), field 'platform' (line 10): ")
    assert "is not a known platform; use one of 'optimizely', 'spotler'" in problem


def test_spotler_lists_are_refused_when_this_version_does_not_support_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from include.crm_sync.config import registry

    monkeypatch.setattr(registry, "SUPPORTED_PLATFORMS", registry.SUPPORTED_PLATFORMS - {"spotler"})
    path = write(tmp_path, "lists:\n" + spotler("nl_audience"))
    [problem] = problems(path)
    assert problem == (
        f"{path}: list 'nl_audience' (line 2), field 'platform' (line 3): "
        "spotler lists are not supported by this version yet"
    )


def test_a_spotler_block_missing_the_audience_name_names_the_field_path(
    tmp_path: Path, spotler_enabled: None
) -> None:
    entry = spotler("nl_audience").replace("      name: CRM newsletter NL\n", "")
    path = write(tmp_path, "lists:\n" + entry)
    [problem] = problems(path)
    assert problem == (
        f"{path}: list 'nl_audience' (line 2), field 'audience.name' (line 5): required key 'name' is missing"
    )


def test_a_spotler_block_refuses_optimizely_fields(tmp_path: Path, spotler_enabled: None) -> None:
    path = write(tmp_path, "lists:\n" + spotler("nl_audience") + '    optin_process_id: "2001"\n')
    [problem] = problems(path)
    assert problem.startswith(f"{path}: list 'nl_audience' (line 2), field 'optin_process_id' (line 11): ")
    assert "unknown key 'optin_process_id'" in problem


def test_an_optimizely_block_requires_its_own_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "lists:\n" + optimizely("nl").replace('    optin_process_id: "2001"\n', ""))
    [problem] = problems(path)
    assert problem == (
        f"{path}: list 'nl' (line 2), field 'optin_process_id' (line 2): "
        "required key 'optin_process_id' is missing"
    )


def test_a_spotler_list_exposes_the_common_interface(tmp_path: Path, spotler_enabled: None) -> None:
    body = (
        "lists:\n"
        + optimizely("nl")
        + spotler("nl_audience", external_id='"  crm-newsletter-nl "')
        + "    full_resync: true\n    attributes: {firstName: first_name, lastName: last_name}\n"
        + "    guards: {max_drop_ratio: 0.3, baseline_runs: 3}\n"
    )
    config = load_lists(write(tmp_path, body))
    item = config.get("nl_audience")
    assert item.platform == "spotler"
    assert item.platform_list_id == "crm-newsletter-nl"  # canonical: stripped, case kept
    assert item.audience.name == "CRM newsletter NL" and item.audience.description is None
    assert item.full_resync is True
    assert item.attribute_names == ("firstName", "lastName")  # no Optimizely technical fields
    assert (item.guards.max_drop_ratio, item.guards.baseline_runs) == (0.3, 3)
    # Values only Optimizely has are neutral here, so platform-blind callers keep working.
    assert (item.optin_process_id, item.media_type, item.description_value) == (
        "",
        "email",
        "CRM list nl_audience",
    )
    assert config.consent_by_platform_list_id("spotler") == {"crm-newsletter-nl": "newsletter"}
    assert config.consent_by_platform_list_id() == {"1001": "newsletter"}


@pytest.mark.parametrize(
    ("second", "field", "expected"),
    [
        (
            spotler("b", external_id='" crm-nl"', audience_name="Other"),
            "audience.external_id",
            "lists 'a' and 'b' both write platform list spotler:crm-nl",
        ),
        (
            spotler("b", external_id="crm-other"),
            "audience.name",
            "lists 'a' and 'b' both name the spotler audience 'CRM newsletter NL'",
        ),
    ],
    ids=["external-id", "name"],
)
def test_spotler_audience_ids_and_names_are_unique(
    tmp_path: Path, spotler_enabled: None, second: str, field: str, expected: str
) -> None:
    path = write(tmp_path, "lists:\n" + spotler("a") + second)
    [problem] = problems(path)
    assert problem.startswith(f"{path}: list 'b' (line 11), field '{field}' (line ")
    assert expected in problem


def test_spotler_names_are_compared_exactly_as_spotler_does(tmp_path: Path, spotler_enabled: None) -> None:
    body = "lists:\n" + spotler("a") + spotler("b", external_id="crm-nl-2", audience_name="crm newsletter nl")
    assert load_lists(write(tmp_path, body)).names == ["a", "b"]


@pytest.mark.parametrize(
    ("audience", "field", "expected"),
    [
        ('{external_id: "", name: n}', "audience.external_id", "at least 1 character"),
        ('{external_id: "   ", name: n}', "audience.external_id", "at least 1 character"),
        ("{external_id: " + "x" * 256 + ", name: n}", "audience.external_id", "at most 255 characters"),
        ("{external_id: a, name: " + "n" * 256 + "}", "audience.name", "at most 255 characters"),
        ("{external_id: a, name: n, colour: red}", "audience.colour", "unknown key 'colour'"),
    ],
)
def test_bad_audience_fields(
    tmp_path: Path, spotler_enabled: None, audience: str, field: str, expected: str
) -> None:
    entry = (
        "  - name: a\n    platform: spotler\n    consent: newsletter\n"
        f"    audience: {audience}\n    selection: {{filter: {{}}}}\n"
    )
    path = write(tmp_path, "lists:\n" + entry)
    [problem] = problems(path)
    assert problem.startswith(f"{path}: list 'a' (line 2), field '{field}' (line 5): ")
    assert expected in problem


def test_the_spotler_address_property_is_not_an_attribute(tmp_path: Path, spotler_enabled: None) -> None:
    path = write(tmp_path, "lists:\n" + spotler("a") + "    attributes: {email: first_name}\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}: list 'a' (line 2), field 'attributes' (line 11): ")
    assert "'email' is filled from the CRM address automatically" in problem


# --------------------------------------------------------------------------- one function for everyone


def test_canonical_platform_list_id() -> None:
    from include.crm_sync.config import canonical_platform_list_id

    assert canonical_platform_list_id("optimizely", "01001") == "1001"
    assert canonical_platform_list_id("optimizely", 1001) == "1001"
    assert canonical_platform_list_id("spotler", " crm-NL ") == "crm-NL"
    for platform, raw, message in [
        ("optimizely", "1001.0", "must be a whole number of 1 or more"),
        ("optimizely", "0", "must be a whole number of 1 or more"),
        ("optimizely", "9" * 20, "too large"),
        ("spotler", "", "at least 1 character"),
        ("mailjet", "1", "'mailjet' is not a known platform"),
    ]:
        with pytest.raises(ValueError, match=message):
            canonical_platform_list_id(platform, raw)


def test_a_platforms_own_spelling_of_a_list_id_finds_its_consent(tmp_path: Path) -> None:
    config = load_lists(write(tmp_path, "lists:\n" + optimizely("nl")))
    consents = config.consent_by_platform_list_id("optimizely")
    # An unsubscribe exported with list id "01001" revokes the newsletter consent of list 1001.
    assert consents.get("01001") == "newsletter" and consents["1001"] == "newsletter"
    assert "01001" in consents and consents.get("abc") is None and "abc" not in consents
    assert dict(consents) == {"1001": "newsletter"}


# --------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(
    number=st.integers(min_value=1, max_value=2**63 - 1),
    zeros=st.integers(min_value=0, max_value=5),
    pad=st.sampled_from(["", " ", "\t", "  "]),
)
def test_every_spelling_of_a_whole_number_is_that_number(number: int, zeros: int, pad: str) -> None:
    from include.crm_sync.config import canonical_platform_list_id

    assert canonical_platform_list_id("optimizely", f"{pad}{'0' * zeros}{number}{pad}") == str(number)
    assert canonical_platform_list_id("optimizely", number) == str(number)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=12))
def test_text_that_is_not_ascii_digits_is_never_an_optimizely_id(raw: str) -> None:
    from include.crm_sync.config import canonical_platform_list_id

    stripped = raw.strip()
    if stripped.isascii() and stripped.isdigit() and int(stripped) > 0:
        assert canonical_platform_list_id("optimizely", raw) == str(int(stripped))
    else:
        with pytest.raises(ValueError, match="must be a whole number"):
            canonical_platform_list_id("optimizely", raw)

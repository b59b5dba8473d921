"""The lists file: the shipped one loads; every kind of mistake fails naming file, list, field and line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from include.crm_sync.config import (
    DEFAULT_LISTS_PATH,
    LISTS_FILE_ENV,
    SQL_ROOT,
    TECHNICAL_ATTRIBUTES,
    ListsConfigError,
    load_lists,
    parse_lists,
)
from include.crm_sync.config.models import bind_names

GOOD_ENTRY = """\
  - name: {name}
    platform_list_id: "{list_id}"
    optin_process_id: "2001"
    consent: newsletter
    selection:
      filter:
        languages: [nl]
"""


def write(tmp_path: Path, body: str, name: str = "lists.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def sql_root(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "sql"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "lists").mkdir(parents=True, exist_ok=True)
    return root


def load_error(path: Path, root: Path | None = None) -> ListsConfigError:
    with pytest.raises(ListsConfigError) as info:
        load_lists(path, sql_root=root or SQL_ROOT)
    return info.value


# --------------------------------------------------------------------------- the shipped file


def test_shipped_lists_load_with_the_documented_lists() -> None:
    config = load_lists(DEFAULT_LISTS_PATH)
    assert config.names == [
        "newsletter_nl",
        "product_updates",
        "events_webinars",
        "newsletter_nl_spotler",
        "nieuwsbrief_flexmail",
        "honden_flexmail",
        "newsletter_mailjet",
        "service_mailjet",
    ]
    newsletter, product, events, spotler, nieuwsbrief, honden, mailjet_news, mailjet_service = config.lists
    # the two Mailjet lists: newsletter and service messages never mixed, one consent each
    assert [
        (item.platform, item.platform_list_id, item.consent) for item in (mailjet_news, mailjet_service)
    ] == [
        ("mailjet", "CRM newsletter", "newsletter"),
        ("mailjet", "CRM service messages", "service"),
    ]
    # one Spotler audience and two Flexmail labels of the emulator's default seed, one consent each
    assert (spotler.platform, spotler.platform_list_id, spotler.consent) == (
        "spotler",
        "crm-newsletter-nl",
        "newsletter",
    )
    assert [(item.platform, item.platform_list_id, item.consent) for item in (nieuwsbrief, honden)] == [
        ("flexmail", "Nieuwsbrief", "newsletter"),
        ("flexmail", "Honden", "product_updates"),
    ]
    assert all(item.guards.min_rows == 1 for item in config.lists)
    assert (newsletter.platform_list_id, newsletter.optin_process_id, newsletter.consent) == (
        "1001",
        "2001",
        "newsletter",
    )
    assert newsletter.selection.filter is not None
    assert newsletter.selection.filter.languages == ["nl"]
    assert newsletter.selection.filter.entity_types == ["contact", "lead"]
    assert (product.platform_list_id, product.optin_process_id, product.consent) == (
        "1002",
        "2002",
        "product_updates",
    )
    assert product.selection.sql == "lists/product_updates.sql"
    assert (events.platform_list_id, events.optin_process_id, events.consent) == ("1003", "2001", "events")
    assert (
        events.selection.filter is not None and events.selection.filter.marketing_list == "webinar_attendees"
    )
    # The emulator's seed lists carry exactly these attributes, in this order.
    expected = (*TECHNICAL_ATTRIBUTES, "first-name", "last-name", "language", "city")
    assert expected == (
        "opt-in-id",
        "description",
        "media-type",
        "entity-type",
        "entity-id",
        "first-name",
        "last-name",
        "language",
        "city",
    )
    assert all(item.attribute_names == expected for item in (newsletter, product, events))
    assert all(item.platform == "optimizely" for item in (newsletter, product, events))


def test_consent_by_platform_list_id_maps_each_list_to_its_one_consent() -> None:
    config = load_lists(DEFAULT_LISTS_PATH)
    assert config.consent_by_platform_list_id() == {
        "1001": "newsletter",
        "1002": "product_updates",
        "1003": "events",
    }
    assert config.consent_by_platform_list_id("mailjet") == {
        "CRM newsletter": "newsletter",
        "CRM service messages": "service",
    }


def test_env_variable_overrides_the_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "lists:\n" + GOOD_ENTRY.format(name="only_one", list_id="9"))
    monkeypatch.setenv(LISTS_FILE_ENV, str(path))
    assert load_lists().names == ["only_one"]
    monkeypatch.delenv(LISTS_FILE_ENV)
    assert load_lists().names[0] == "newsletter_nl"


def test_defaults_and_technical_values(tmp_path: Path) -> None:
    config = load_lists(write(tmp_path, "lists:\n" + GOOD_ENTRY.format(name="plain", list_id="5")))
    item = config.get("plain")
    assert item.guards.min_rows == 1 and item.guards.max_drop_ratio == 0.5
    assert item.media_type == "email" and item.description_value == "CRM list plain"
    assert item.attribute_names == TECHNICAL_ATTRIBUTES
    with pytest.raises(KeyError, match="known lists: plain"):
        config.get("nope")


def test_loading_imports_neither_sqlalchemy_nor_great_expectations() -> None:
    # The lists file is read at DAG parse time: it must stay cheap.
    code = (
        "import sys; from include.crm_sync.config import load_lists; load_lists(); "
        "heavy = [m for m in ('sqlalchemy', 'great_expectations', 'pandas') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])


# --------------------------------------------------------------------------- consent: exactly one


@pytest.mark.parametrize(
    ("consent_line", "expected"),
    [
        (
            "    consent: [newsletter, events]\n",
            "exactly one consent id is required, got a list of 2 (newsletter, events)",
        ),
        ("    consent: [newsletter]\n", "exactly one consent id is required, got a list of 1"),
        ("    consent: newsletter, events\n", "consent must be a single consent id"),
        ("    consent:\n", "no consent given"),
        ("    consent: ''\n", "no consent given"),
        ("", "required key 'consent' is missing"),
    ],
    ids=["two", "list-of-one", "comma-string", "null", "empty", "missing"],
)
def test_a_list_needs_exactly_one_consent(tmp_path: Path, consent_line: str, expected: str) -> None:
    body = (
        "lists:\n" + GOOD_ENTRY.format(name="first", list_id="1") + "  - name: second\n"
        '    platform_list_id: "2"\n'
        '    optin_process_id: "2001"\n' + consent_line + "    selection: {filter: {languages: [fr]}}\n"
    )
    path = write(tmp_path, body)
    error = load_error(path)
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.startswith(f"{path}: list 'second' (line 9), field 'consent'")
    assert expected in problem
    if consent_line:
        assert "field 'consent' (line 12)" in problem  # the line of the consent key itself


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "lists:\n" + GOOD_ENTRY.format(name="nl", list_id="1") + "    consents: events\n")
    [problem] = load_error(path).problems
    assert problem == (
        f"{path}: list 'nl' (line 2), field 'consents' (line 9): "
        "unknown key 'consents' (a typo? unknown keys are refused)"
    )


def test_unknown_key_nested_in_the_filter(tmp_path: Path) -> None:
    path = write(tmp_path, "lists:\n" + GOOD_ENTRY.format(name="nl", list_id="1") + "        language: nl\n")
    [problem] = load_error(path).problems
    assert (
        f"{path}: list 'nl' (line 2), field 'selection.filter.language' (line 9): unknown key 'language'"
        in problem
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 2\nlists:\n" + GOOD_ENTRY.format(name="nl", list_id="1"))
    [problem] = load_error(path).problems
    assert problem.startswith(f"{path}: field 'version' (line 1): unknown key 'version'")


# --------------------------------------------------------------------------- selection


def _sql_entry(selection: str) -> str:
    return (
        "lists:\n  - name: prod\n    platform_list_id: 1002\n    optin_process_id: 2002\n"
        "    consent: product_updates\n    selection:\n" + selection
    )


@pytest.mark.parametrize(
    ("selection", "expected_field", "expected"),
    [
        (
            "      sql: lists/missing.sql\n",
            "selection.sql",
            "selection file 'lists/missing.sql' does not exist under",
        ),
        ("      sql: ../etc/passwd.sql\n", "selection.sql", "must be written as 'lists/<name>.sql'"),
        ("      sql: lists/../../secret.sql\n", "selection.sql", "must be written as 'lists/<name>.sql'"),
        ("      sql: queries/extract.sql\n", "selection.sql", "must be written as 'lists/<name>.sql'"),
        (
            "      sql: lists/ok.sql\n      filter: {languages: [nl]}\n",
            "selection",
            "give exactly one of 'sql' (a file under sql/lists/) or 'filter'",
        ),
        ("      params: {a: 1}\n", "selection", "give exactly one of 'sql'"),
        (
            "      sql: lists/ok.sql\n",
            "selection",
            "lists/ok.sql uses :country but 'params' does not give a value",
        ),
        (
            "      sql: lists/ok.sql\n      params: {country: BE, contry: NL}\n",
            "selection",
            "'params' contry are not used by lists/ok.sql (a typo?)",
        ),
        (
            "      filter: {languages: [nl]}\n      params: {x: 1}\n",
            "selection",
            "'params' only apply to an 'sql' selection",
        ),
        (
            "      filter: {entity_types: [person]}\n",
            "selection.filter.entity_types.0",
            "'person' is not allowed here; use one of 'contact', 'lead' or 'account'",
        ),
    ],
    ids=[
        "missing-file",
        "outside",
        "dotdot",
        "not-lists",
        "both",
        "neither",
        "missing-param",
        "unused-param",
        "params-with-filter",
        "bad-entity-type",
    ],
)
def test_bad_selection(tmp_path: Path, selection: str, expected_field: str, expected: str) -> None:
    root = sql_root(
        tmp_path,
        {
            "lists/ok.sql": (
                "-- :ignored in comments\n"
                "SELECT entity_id FROM crm_entity WHERE country = :country AND x = ':nope'"
            )
        },
    )
    path = write(tmp_path, _sql_entry(selection))
    [problem] = load_error(path, root).problems
    assert problem.startswith(f"{path}: list 'prod' (line 2), field '{expected_field}' (line ")
    assert expected in problem


def test_selection_file_with_params_is_accepted(tmp_path: Path) -> None:
    root = sql_root(
        tmp_path,
        {"lists/ok.sql": "SELECT entity_id FROM crm_entity WHERE country = :country AND c::text <> ''"},
    )
    config = load_lists(
        write(tmp_path, _sql_entry("      sql: lists/ok.sql\n      params: {country: BE}\n")), sql_root=root
    )
    assert config.lists[0].selection.params == {"country": "BE"}


def test_reserved_param_prefix_is_refused(tmp_path: Path) -> None:
    root = sql_root(tmp_path, {"lists/ok.sql": "SELECT entity_id FROM crm_entity WHERE x = :sys_consent_id"})
    path = write(tmp_path, _sql_entry("      sql: lists/ok.sql\n      params: {sys_consent_id: a}\n"))
    [problem] = load_error(path, root).problems
    assert "reserved parameter names ['sys_consent_id']" in problem


def test_bind_names_ignores_comments_literals_and_casts() -> None:
    sql = "SELECT 1 -- :a\n/* :b */ FROM t WHERE x = ':c' AND y::text = :d AND z = :e"
    assert bind_names(sql) == {"d", "e"}


# --------------------------------------------------------------------------- names, ids, attributes


def test_duplicate_list_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lists:\n" + GOOD_ENTRY.format(name="nl", list_id="1") + GOOD_ENTRY.format(name="nl", list_id="2"),
    )
    [problem] = load_error(path).problems
    assert problem == (
        f"{path}: list 'nl' (line 9), field 'name' (line 9): "
        "list name 'nl' is defined twice (entries 1 and 2); names must be unique"
    )


def test_two_lists_writing_the_same_platform_list(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lists:\n" + GOOD_ENTRY.format(name="a", list_id="7") + GOOD_ENTRY.format(name="b", list_id="7"),
    )
    [problem] = load_error(path).problems
    assert problem.startswith(f"{path}: list 'b' (line 9), field 'platform_list_id' (line 10): ")
    assert "lists 'a' and 'b' both write platform list optimizely:7" in problem


@pytest.mark.parametrize(
    ("attributes", "expected_field", "expected"),
    [
        (
            "{first-name: firstname}",
            "attributes.first-name",
            "'firstname' is not allowed here; use one of 'first_name'",
        ),
        ("{first-name: email}", "attributes.first-name", "'email' is not allowed here"),
        ("{entity-id: first_name}", "attributes", "entity-id are technical fields filled automatically"),
        ("{'bad name': city}", "attributes.bad name.[key]", "String should match pattern"),
    ],
    ids=["typo", "not-whitelisted", "technical", "bad-name"],
)
def test_bad_attributes(tmp_path: Path, attributes: str, expected_field: str, expected: str) -> None:
    path = write(
        tmp_path, "lists:\n" + GOOD_ENTRY.format(name="nl", list_id="1") + f"    attributes: {attributes}\n"
    )
    [problem] = load_error(path).problems
    assert problem.startswith(f"{path}: list 'nl' (line 2), field '{expected_field}'")
    assert expected in problem


@pytest.mark.parametrize(
    ("line", "expected_field"),
    [
        ("    guards: {min_rows: -1}\n", "guards.min_rows"),
        ("    guards: {max_drop_ratio: 1.5}\n", "guards.max_drop_ratio"),
        ("    guards: {max_drop: 0.2}\n", "guards.max_drop"),
        ("    media_type: 'e mail'\n", "media_type"),
    ],
)
def test_bad_guards_and_fields(tmp_path: Path, line: str, expected_field: str) -> None:
    path = write(tmp_path, "lists:\n" + GOOD_ENTRY.format(name="nl", list_id="1") + line)
    [problem] = load_error(path).problems
    assert problem.startswith(f"{path}: list 'nl' (line 2), field '{expected_field}' (line 9): ")


def test_bad_list_name_is_reported_by_position(tmp_path: Path) -> None:
    path = write(tmp_path, "lists:\n" + GOOD_ENTRY.format(name="Newsletter NL", list_id="1"))
    [problem] = load_error(path).problems
    assert problem.startswith(
        f"{path}: list 'Newsletter NL' (line 2), field 'name' (line 2): String should match pattern"
    )


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    body = (
        "lists:\n"
        "  - name: a\n    platform_list_id: 1\n    optin_process_id: 2\n    consent: [x, y]\n"
        "    selection: {filter: {}}\n"
        "  - name: b\n    platform_list_id: 2\n    optin_process_id: 2\n    consent: x\n"
        "    selection: {filter: {}}\n    extra: 1\n"
    )
    error = load_error(write(tmp_path, body))
    assert len(error.problems) == 2
    assert "list 'a' (line 2), field 'consent' (line 5)" in error.problems[0]
    assert "list 'b' (line 7), field 'extra' (line 12)" in error.problems[1]
    assert str(error).startswith(f"{tmp_path / 'lists.yaml'}: invalid list configuration (2 problems)")


# --------------------------------------------------------------------------- file-level problems


def test_duplicate_yaml_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "lists:\n" + GOOD_ENTRY.format(name="nl", list_id="1") + "    consent: events\n")
    [problem] = load_error(path).problems
    assert (
        problem == f"{path}, line 9: key 'consent' is repeated (first at line 5): duplicate keys are refused"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("lists: [\n", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping with a 'lists:' sequence"),
        ("lists: []\n", "field 'lists' (line 1): List should have at least 1 item"),
    ],
)
def test_malformed_files(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, body)
    [problem] = load_error(path).problems
    assert problem.startswith(str(path))
    assert expected in problem


def test_missing_file(tmp_path: Path) -> None:
    [problem] = load_error(tmp_path / "nope.yaml").problems
    assert problem.startswith(f"{tmp_path / 'nope.yaml'}: cannot read the lists file")


def test_parse_lists_names_the_given_source() -> None:
    with pytest.raises(ListsConfigError, match=r"inline\.yaml: list 'x' \(line 2\), field 'consent'"):
        parse_lists(
            "lists:\n  - name: x\n    platform_list_id: 1\n    optin_process_id: 1\n"
            "    consent: [a, b]\n    selection: {filter: {}}\n",
            source="inline.yaml",
        )

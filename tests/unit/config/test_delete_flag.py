"""``delete: true`` in lists.yaml: accepted where the sync can delete the platform list (Spotler
audiences, Mailjet lists), refused with a plain sentence naming file, list, field and line where it
cannot (Flexmail labels, Optimizely recipient lists); a marked list is not among the synced ones."""

from __future__ import annotations

import pytest

from include.crm_sync.config import ListsConfigError, parse_lists

SELECTION = "    consent: newsletter\n    selection:\n      filter:\n        languages: [nl]\n"
SPOTLER = (
    "  - name: {name}\n    platform: spotler\n"
    "    audience: {{external_id: {name}, name: Audience {name}}}\n" + SELECTION
)
MAILJET = "  - name: {name}\n    platform: mailjet\n    mailjet_list: {{name: List {name}}}\n" + SELECTION
FLEXMAIL = "  - name: {name}\n    platform: flexmail\n    interest_label: Label {name}\n" + SELECTION
OPTIMIZELY = '  - name: {name}\n    platform_list_id: "1001"\n    optin_process_id: "2001"\n' + SELECTION


def lists(*entries: str) -> str:
    return "lists:\n" + "".join(entries)


def test_delete_defaults_to_false_and_every_list_is_synced() -> None:
    config = parse_lists(lists(SPOTLER.format(name="a"), MAILJET.format(name="b")))
    assert [item.delete for item in config.lists] == [False, False]
    assert config.synced_names == ["a", "b"]
    assert config.marked_delete("spotler") == {}


@pytest.mark.parametrize("block, platform", [(SPOTLER, "spotler"), (MAILJET, "mailjet")])
def test_a_list_marked_delete_is_not_synced_and_names_its_platform_list(block: str, platform: str) -> None:
    marked = block.format(name="old") + "    delete: true\n"
    config = parse_lists(lists(block.format(name="kept"), marked))

    assert config.names == ["kept", "old"]
    assert config.synced_names == ["kept"]
    old = config.get("old")
    assert old.delete is True
    assert config.marked_delete(platform) == {old.platform_list_id: "old"}
    assert config.marked_delete("optimizely") == {}


@pytest.mark.parametrize(
    "block, words",
    [
        (FLEXMAIL, "a Flexmail interest label is not deleted by the sync"),
        (OPTIMIZELY, "an Optimizely recipient list is refilled, never deleted by the sync"),
    ],
)
def test_delete_is_refused_where_the_platform_list_cannot_be_deleted(block: str, words: str) -> None:
    text = lists(block.format(name="pets") + "    delete: true\n")
    with pytest.raises(ListsConfigError) as info:
        parse_lists(text, source="config/lists.yaml")

    (problem,) = info.value.problems
    assert problem.startswith("config/lists.yaml: list 'pets' (line 2), field 'delete' (line ")
    assert words in problem
    assert "remove 'delete'" in problem


def test_delete_false_is_accepted_everywhere() -> None:
    text = lists(
        FLEXMAIL.format(name="pets") + "    delete: false\n",
        OPTIMIZELY.format(name="nl") + "    delete: false\n",
    )
    assert parse_lists(text).synced_names == ["pets", "nl"]


def test_delete_must_be_a_boolean() -> None:
    with pytest.raises(ListsConfigError) as info:
        parse_lists(lists(SPOTLER.format(name="a") + "    delete: soon\n"), source="lists.yaml")
    assert "field 'delete'" in info.value.problems[0]

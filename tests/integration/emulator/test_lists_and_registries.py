"""RecipientList, OptinProcess, Blacklist, Unsubscribe and Response webservices via zeep."""

from __future__ import annotations

import pytest
import zeep.exceptions

from tests.integration.emulator.conftest import LIST_ID


def test_recipient_lists_and_optin_processes_come_from_the_seed(soap, sid):
    lists = soap.service("RecipientList")
    assert list(lists.getAllIds(sid)) == [1001, 1002, 1003]
    assert [lists.getName(sid, i) for i in (1001, 1002, 1003)] == [
        "Newsletter NL",
        "Product updates",
        "Events & webinars",
    ]
    assert "consent" in lists.getDescription(sid, 1001)
    names = list(lists.getAttributeNames(sid, 1001, "en"))
    assert names[:5] == ["opt-in-id", "description", "media-type", "entity-type", "entity-id"]
    assert {"first-name", "last-name", "language", "city"} <= set(names)
    with pytest.raises(zeep.exceptions.Fault, match="Unknown recipient list: 5"):
        lists.getName(sid, 5)
    optin = soap.service("OptinProcess")
    assert [(i, optin.getType(sid, i)) for i in optin.getIds(sid)] == [
        (2001, "single"),
        (2002, "confirmed"),
        (2003, "double"),
    ]
    assert optin.getName(sid, 2003) == "Double opt-in"
    with pytest.raises(zeep.exceptions.Fault, match="Unknown opt-in process: 1"):
        optin.getType(sid, 1)


@pytest.mark.parametrize(
    "address, blocked",
    [
        ("anyone@blocked.example", True),
        ("ANYONE@Blocked.Example", True),  # case-insensitive
        ("anyone@notblocked.example", False),
        ("spam@somewhere.org", True),  # spam@*
        ("nospam@somewhere.org", False),
        ("fraud.user@example.com", True),  # exact entry
        ("fraud.user@example.co", False),
    ],
)
def test_seed_blocklist_wildcards(soap, sid, address, blocked):
    assert soap.service("Blacklist").isBlacklisted(sid, address) is blocked


def test_blocklist_add_remove_and_question_mark_wildcard(soap, sid):
    blacklist = soap.service("Blacklist")

    def strings(values):
        return soap.strings(values, "Blacklist")

    blacklist.addAll(sid, strings(["a?c@x.de", "*@evil.test"]), strings(["pattern", "domain"]))
    assert blacklist.isBlacklisted(sid, "abc@x.de") is True
    assert blacklist.isBlacklisted(sid, "abbc@x.de") is False  # ? is exactly one character
    assert blacklist.isBlacklisted(sid, "x.y@EVIL.test") is True
    assert blacklist.isBlacklisted(sid, "x.y@sub.evil.test") is False  # "*@evil.test" is that domain only
    assert soap.add_all3(sid, LIST_ID, 0, ["abc@x.de", "ok@x.de"]) == [3, 0]
    blacklist.add(sid, "ok2@x.de", "manual")
    blacklist.remove(sid, "*@evil.test")
    blacklist.removeAll(sid, strings(["a?c@x.de"]))
    assert blacklist.isBlacklisted(sid, "x.y@evil.test") is False
    assert soap.add_all3(sid, LIST_ID, 0, ["abc@x.de", "ok2@x.de"]) == [0, 3]
    with pytest.raises(zeep.exceptions.Fault, match="Array lengths differ"):
        blacklist.addAll(sid, strings(["a@x.de", "b@x.de"]), strings(["only one"]))


def test_unsubscribe_list_is_client_wide(soap, sid, optimizely_emulator):
    unsubscribe = soap.service("Unsubscribe")
    assert unsubscribe.getCount(sid) == 3  # seed
    assert soap.add_all3(sid, LIST_ID, 0, ["crm-1", "crm-2"], ["one@example.com", "two@example.com"]) == [
        0,
        0,
    ]
    unsubscribe.add(sid, LIST_ID, "crm-1")
    unsubscribe.addAll(sid, 0, soap.strings(["crm-9"], "Unsubscribe"))
    assert unsubscribe.getCount(sid) == 5
    assert unsubscribe.contains(sid, "crm-1") is True
    # Still in its list (the platform keeps it, skips it when mailing), refused everywhere else
    # by id and by address.
    assert soap.service("Recipient").contains(sid, LIST_ID, "crm-1") is True
    assert soap.add_all3(sid, 1002, 0, ["crm-1", "other-id"], ["x@example.com", "one@example.com"]) == [2, 2]
    unsubscribe.remove(sid, "crm-1")
    unsubscribe.removeAll(sid, soap.strings(["crm-9"], "Unsubscribe"))
    assert unsubscribe.getCount(sid) == 3
    assert soap.add_all3(sid, 1002, 0, ["crm-1"], ["one@example.com"]) == [0]
    # The export keeps the list id the unsubscribe came with.
    exported = [
        e for e in optimizely_emulator.control.events("unsubscribe")["events"] if e["recipient_id"] == "crm-1"
    ]
    assert [(e["email"], e["list_id"]) for e in exported] == [("one@example.com", LIST_ID)]


def test_bounce_counters_and_reset(soap, sid):
    response = soap.service("Response")
    assert response.getBounceCounter(sid, "hard.bounce@example.org", "hardbounce") == 3
    assert response.getBounceCounter(sid, "full.mailbox@example.net", "softbounce") == 1
    assert response.getBounceCounter(sid, "nobody@example.net", "hard") == 0
    with pytest.raises(zeep.exceptions.Fault, match="Unknown bounce category: weird"):
        response.getBounceCounter(sid, "nobody@example.net", "weird")
    assert soap.add_all3(sid, LIST_ID, 0, ["hard.bounce@example.org"]) == [4]
    response.resetBounceCounter(sid, "hard.bounce@example.org")
    assert response.getBounceCounter(sid, "hard.bounce@example.org", "hardbounce") == 0
    assert soap.add_all3(sid, LIST_ID, 0, ["hard.bounce@example.org"]) == [0]

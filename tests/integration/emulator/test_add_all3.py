"""addAll3 and the rest of RpcRecipient: every result code from a real reason, whole-call faults,
opt-in semantics and UTF-8 round trips, all through a plain zeep client."""

from __future__ import annotations

import pytest
import zeep.exceptions

from tests.integration.emulator import offline_zeep
from tests.integration.emulator.conftest import CONFIRMED, DOUBLE, LIST_ID, OTHER_LIST_ID, SINGLE

NAMES = ["first-name", "city"]


def _row(name="Ann", city="Utrecht"):
    return [name, city]


def test_every_result_code_from_a_real_reason(soap, sid):
    assert soap.add_all3(sid, LIST_ID, 0, ["already@example.com"], names=NAMES, rows=[_row("Old")]) == [0]

    batch = [
        ("new@example.com", "new@example.com", _row(), 0),  # added
        ("bad", "not-an-email", _row(), 1),  # invalid syntax
        ("", "empty.id@example.com", _row(), 1),  # empty recipient id
        ("jan.unsub@example.nl", "jan.unsub@example.nl", _row(), 2),  # seed: unsubscribed
        ("someone@blocked.example", "Someone@BLOCKED.example", _row(), 3),  # blocklist *@blocked.example
        ("hard.bounce@example.org", "hard.bounce@example.org", _row(), 4),  # seed: 3 hard bounces
        ("already@example.com", "already@example.com", _row("New"), 5),  # present from the call above
        ("new@example.com", "new@example.com", _row("Dup"), 5),  # earlier in this same call
        ("postmaster@example.com", "postmaster@example.com", _row(), 6),  # recipient filter postmaster@*
        ("long@example.com", "long@example.com", _row("x" * 101), 7),  # first-name max length 100
    ]
    codes = soap.add_all3(
        sid, LIST_ID, 0, [b[0] for b in batch], [b[1] for b in batch], NAMES, [b[2] for b in batch]
    )
    assert codes == [b[3] for b in batch]
    assert soap.get_all(sid, LIST_ID, NAMES) == [
        ["already@example.com", "already@example.com", "Old", "Utrecht"],  # code 5 left it untouched
        ["new@example.com", "new@example.com", "Ann", "Utrecht"],
    ]


def test_unsubscribed_by_address_under_another_recipient_id_is_code_2(soap, sid):
    assert soap.add_all3(sid, LIST_ID, SINGLE, ["crm-42"], ["Jan.Unsub@example.nl"]) == [2]


def test_bounce_overflow_counts_soft_bounces_too(soap, sid, optimizely_emulator):
    for _ in range(4):
        optimizely_emulator.control.add_feedback(
            "bounce", "soft@example.com", email="soft@example.com", category="softbounce"
        )
    assert soap.add_all3(sid, LIST_ID, 0, ["soft@example.com"]) == [0]
    soap.service("Recipient").remove(sid, LIST_ID, "soft@example.com")
    optimizely_emulator.control.add_feedback(
        "bounce", "soft@example.com", email="soft@example.com", category="softbounce"
    )
    assert soap.add_all3(sid, LIST_ID, 0, ["soft@example.com"]) == [4]


def test_empty_batch_is_valid(soap, sid):
    assert soap.add_all3(sid, LIST_ID, 0, [], [], NAMES, []) == []
    assert soap.service("Recipient").getCount(sid, LIST_ID, 0) == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"list_id": 99}, "java.lang.IllegalArgumentException: Unknown recipient list: 99"),
        ({"optin_id": 4242}, "java.lang.IllegalArgumentException: Unknown opt-in process: 4242"),
        ({"count": 1001}, "java.lang.IllegalArgumentException: Too many recipients: 1001 > 1000"),
        ({"emails_short": True}, "java.lang.IllegalArgumentException: Array lengths differ"),
        ({"rows_short": True}, "java.lang.IllegalArgumentException: Array lengths differ"),
        ({"row_narrow": True}, "java.lang.IllegalArgumentException: Array lengths differ"),
        ({"names": ["first-name", "foo"]}, "java.lang.IllegalArgumentException: Unknown attribute: foo"),
        ({"sid": "nope"}, "com.optivo.webservice.InvalidWebserviceSessionException: Invalid sessionId"),
    ],
)
def test_whole_call_faults_apply_nothing(soap, sid, kwargs, message):
    count = kwargs.get("count", 3)
    ids = [f"r{i}@example.com" for i in range(count)]
    emails = ids[:-1] if kwargs.get("emails_short") else ids
    names = kwargs.get("names", NAMES)
    rows = [_row() for _ in ids]
    if kwargs.get("rows_short"):
        rows = rows[:-1]
    if kwargs.get("row_narrow"):
        rows[1] = ["only-one"]
    with pytest.raises(zeep.exceptions.Fault) as excinfo:
        soap.add_all3(
            kwargs.get("sid", sid),
            kwargs.get("list_id", LIST_ID),
            kwargs.get("optin_id", 0),
            ids,
            emails,
            names,
            rows,
        )
    assert excinfo.value.message == message
    assert excinfo.value.code == "soapenv:Server.userException"
    assert soap.service("Recipient").getCount(sid, LIST_ID, 0) == 0


def test_exactly_1000_recipients_are_accepted(soap, sid):
    ids = [f"user{i}@example.com" for i in range(1000)]
    codes = soap.add_all3(sid, LIST_ID, 0, ids, names=NAMES, rows=[_row() for _ in ids])
    assert codes == [0] * 1000
    assert soap.service("Recipient").getCount(sid, LIST_ID, 0) == 1000


@pytest.mark.parametrize("optin_id", [0, SINGLE, CONFIRMED])
def test_unsubscribed_recipient_stays_out_without_double_optin(soap, sid, optin_id):
    assert soap.add_all3(sid, LIST_ID, optin_id, ["jan.unsub@example.nl"]) == [2]
    assert soap.service("Unsubscribe").contains(sid, "jan.unsub@example.nl") is True


def test_double_optin_lifts_the_unsubscribe_and_adds_pending(soap, sid, optimizely_emulator):
    assert soap.add_all3(sid, LIST_ID, DOUBLE, ["jan.unsub@example.nl"]) == [0]
    assert soap.service("Unsubscribe").contains(sid, "jan.unsub@example.nl") is False
    listed = optimizely_emulator.control.recipients(LIST_ID)["recipients"]
    assert [(r["recipient_id"], r["pending"], r["optin_process_id"]) for r in listed] == [
        ("jan.unsub@example.nl", True, DOUBLE)
    ]
    # The lifted unsubscribe is gone client-wide: a regular list accepts the recipient now.
    assert soap.add_all3(sid, OTHER_LIST_ID, 0, ["jan.unsub@example.nl"]) == [0]


def test_pending_same_double_optin_is_readded_but_active_is_code_5(soap, sid):
    assert soap.add_all3(sid, LIST_ID, DOUBLE, ["p@example.com"]) == [0]
    assert soap.add_all3(sid, LIST_ID, DOUBLE, ["p@example.com"]) == [0]  # re-added, still pending
    assert soap.add_all3(sid, LIST_ID, 0, ["p@example.com"]) == [5]
    assert soap.add_all3(sid, LIST_ID, 0, ["a@example.com"]) == [0]
    assert soap.add_all3(sid, LIST_ID, DOUBLE, ["a@example.com"]) == [5]


UNICODE_VALUES = [
    ("Jürgen Müßig-Ä", "Zürich"),
    ("中文名字", "北京"),
    ("Emoji 😀👍🏽", "São Paulo"),
    ("a & b < c > d ]]> e", "\"quoted\" 'single'"),
    ("line1\nline2", "tab\there"),
]


def test_utf8_and_xml_special_characters_round_trip(soap, sid):
    ids = [f"u{i}@example.com" for i in range(len(UNICODE_VALUES))]
    ids[1] = "用户@例子.中国"  # internationalised address, valid
    codes = soap.add_all3(sid, LIST_ID, 0, ids, names=NAMES, rows=[list(v) for v in UNICODE_VALUES])
    assert codes == [0] * len(ids)
    assert soap.get_all(sid, LIST_ID, NAMES) == [[i, i, *v] for i, v in zip(ids, UNICODE_VALUES, strict=True)]


def test_get_all_columns_are_id_email_then_requested_attributes(soap, sid):
    soap.add_all3(sid, LIST_ID, 0, ["crm-1"], ["one@example.com"], ["city", "language"], [["Gent", "nl"]])
    assert soap.get_all(sid, LIST_ID, ["language", "first-name", "CITY"]) == [
        ["crm-1", "one@example.com", "nl", "", "Gent"]
    ]
    assert soap.get_all(sid, LIST_ID) == [["crm-1", "one@example.com"]]
    with pytest.raises(zeep.exceptions.Fault, match="Unknown attribute: nope"):
        soap.get_all(sid, LIST_ID, ["nope"])


def test_add2_add_all3_flat_and_single_recipient_operations(soap, sid):
    recipient = soap.service("Recipient")
    assert (
        recipient.add2(
            sid, LIST_ID, 0, "x@example.com", "x@example.com", soap.strings(NAMES), soap.strings(_row())
        )
        == 0
    )
    assert (
        recipient.add2(sid, LIST_ID, 0, "x@example.com", "x@example.com", soap.strings([]), soap.strings([]))
        == 5
    )
    flat = ["Bo", "Gent", "Cy", "Wien"]
    codes = recipient.addAll3Flat(
        sid,
        LIST_ID,
        0,
        soap.strings(["b@example.com", "c@example.com"]),
        soap.strings(["b@example.com", "c@example.com"]),
        soap.strings(NAMES),
        soap.strings(flat),
    )
    assert list(codes) == [0, 0]
    recipient.setAttributes(sid, LIST_ID, "b@example.com", soap.strings(["city"]), soap.strings(["Brugge"]))
    assert soap.get_all(sid, LIST_ID, NAMES)[1:] == [
        ["b@example.com", "b@example.com", "Bo", "Brugge"],
        ["c@example.com", "c@example.com", "Cy", "Wien"],
    ]
    assert recipient.contains(sid, LIST_ID, "c@example.com") is True
    recipient.remove(sid, LIST_ID, "c@example.com")
    assert recipient.contains(sid, LIST_ID, "c@example.com") is False
    with pytest.raises(zeep.exceptions.Fault, match="Recipient does not exist"):
        recipient.remove(sid, LIST_ID, "c@example.com")
    with pytest.raises(zeep.exceptions.Fault, match="Recipient does not exist"):
        recipient.setAttributes(sid, LIST_ID, "c@example.com", soap.strings(["city"]), soap.strings(["X"]))
    assert list(recipient.removeAll(sid, LIST_ID, soap.strings(["b@example.com", "nobody"]))) == [True, False]
    assert recipient.getCount(sid, LIST_ID, 0) == 1
    recipient.clear(sid, LIST_ID)
    assert recipient.getCount(sid, LIST_ID, 0) == 0
    with pytest.raises(zeep.exceptions.Fault, match="Unknown recipient filter: 5"):
        recipient.getCount(sid, LIST_ID, 5)


def test_clear_only_touches_its_own_list(soap, sid):
    soap.add_all3(sid, LIST_ID, 0, ["a@example.com"])
    soap.add_all3(sid, OTHER_LIST_ID, 0, ["a@example.com", "b@example.com"])
    soap.service("Recipient").clear(sid, OTHER_LIST_ID)
    assert soap.service("Recipient").getCount(sid, LIST_ID, 0) == 1
    assert soap.service("RecipientList").getCount(sid, OTHER_LIST_ID) == 0


def test_the_wsdl_array_type_works_for_non_empty_string_arrays(soap, sid):
    recipient = soap.client("Recipient")
    wsdl_strings = offline_zeep.wsdl_type(recipient, "ArrayOf_xsd_string")
    codes = recipient.service.addAll3(
        sid,
        LIST_ID,
        0,
        wsdl_strings(["w@example.com"]),
        wsdl_strings(["w@example.com"]),
        wsdl_strings(["city"]),
        soap.matrix([["Wien"]]),
    )
    assert list(codes) == [0]
    assert soap.get_all(sid, LIST_ID, ["city"]) == [["w@example.com", "w@example.com", "Wien"]]

"""Pure helpers: value validation before sending, closed-loop column mapping, connection parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from crm_sync_airflow.hooks.optimizely_campaign import OptimizelyConnectionError, parse_connection
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from include.crm_sync.platforms.base import FeedbackKind, Recipient
from include.crm_sync.platforms.optimizely.addall3_request import XML_ILLEGAL as _XML_ILLEGAL
from include.crm_sync.platforms.optimizely.addall3_request import encode_batch
from include.crm_sync.platforms.optimizely.client import normalise_base_url
from include.crm_sync.platforms.optimizely.closed_loop_columns import (
    CLOSED_LOOP_COLUMNS,
    MalformedExportRowError,
    parse_timestamp,
    row_as_dict,
)
from include.crm_sync.platforms.optimizely.errors import InvalidRecipientDataError
from include.crm_sync.platforms.optimizely.platform import FEEDBACK_SOURCES, feedback_row

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ILLEGAL = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + ["\ufffe", "\uffff", "\ud800"]


def _xml_legal(ch: str) -> bool:
    c = ord(ch)
    return c in (0x9, 0xA, 0xD) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD or 0x10000 <= c <= 0x10FFFF


@given(st.text())
def test_illegal_character_pattern_matches_the_xml_char_production(text):
    assert (_XML_ILLEGAL.search(text) is None) == all(_xml_legal(ch) for ch in text)


def _decoded(encoded) -> tuple[list[str], list[str], list[list[str]]]:
    """The values an XML parser reads back from an encoded batch's arrays."""

    def items(xml: bytes) -> list:
        root = etree.fromstring(b'<a xmlns:ns4="e" xmlns:xsi="%s">%s</a>' % (XSI.encode(), xml))
        return [[i.text or "" for i in item] if len(item) else (item.text or "") for item in root]

    return items(encoded.ids_xml), items(encoded.emails_xml), items(encoded.rows_xml)


@given(st.lists(st.tuples(st.text(min_size=1), st.text(), st.text()), max_size=20))
def test_encode_batch_accepts_exactly_the_xml_legal_values(rows):
    batch = [Recipient(rid, email, (a,)) for rid, email, a in rows]
    legal = all(all(_xml_legal(ch) for ch in "".join(row)) for row in rows)
    if legal:
        ids, emails, values = _decoded(encode_batch(batch, ["city"], 0))
        assert (
            ids == [r[0] for r in rows]
            and emails == [r[1] for r in rows]
            and values == [[r[2]] for r in rows]
        )
    else:
        with pytest.raises(InvalidRecipientDataError):
            encode_batch(batch, ["city"], 0)


@pytest.mark.parametrize("bad", ILLEGAL)
def test_error_names_recipient_field_and_masked_address(bad):
    batch = [
        Recipient("C1", "a@example.com", ("ok",)),
        Recipient("C2", "jane.doe@example.com", (f"x{bad}y",)),
    ]
    with pytest.raises(InvalidRecipientDataError) as info:
        encode_batch(batch, ["first-name"], 100)
    error = info.value
    assert (error.recipient_id, error.field, error.position) == ("C2", "attribute 'first-name'", 101)
    assert "jane.doe@example.com" not in str(error) and "j***@e***.com" in str(error)
    assert f"U+{ord(bad):04X}" in str(error)


def test_none_attribute_values_are_sent_as_empty_and_non_strings_refused():
    ids, emails, rows = _decoded(encode_batch([Recipient("C1", "a@example.com", (None, "x"))], ["a", "b"], 0))
    assert rows == [["", "x"]]
    with pytest.raises(InvalidRecipientDataError, match="must be a string, got int"):
        encode_batch([Recipient("C1", "a@example.com", (5,))], ["a"], 0)
    with pytest.raises(InvalidRecipientDataError, match="2 attribute values for 1 attribute names"):
        encode_batch(
            [Recipient("C1", "a@example.com", ("x",)), Recipient("C2", "b@example.com", ("x", "y"))], ["a"], 0
        )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.campaign.episerver.net/soap11", "https://api.campaign.episerver.net/soap11"),
        ("https://api.campaign.episerver.net/soap11/", "https://api.campaign.episerver.net/soap11"),
        ("http://127.0.0.1:8089", "http://127.0.0.1:8089/soap11"),
    ],
)
def test_base_url_normalisation(url, expected):
    assert normalise_base_url(url) == expected


@pytest.mark.parametrize("url", ["api.example.com", "ftp://x/soap11", "https://x/soap11?a=1", ""])
def test_bad_base_urls(url):
    with pytest.raises(ValueError):
        normalise_base_url(url)


def test_column_table_covers_every_export_and_time_columns():
    assert set(CLOSED_LOOP_COLUMNS) == {
        "getUnsubscribes",
        "getMailingUnsubscribes",
        "getOutBounces",
        "getResponses",
        "getOpens",
        "getClicks",
    }
    for columns in CLOSED_LOOP_COLUMNS.values():
        assert columns[:2] == ("recipient_id", "email")
        assert sum(c.endswith("_at") for c in columns) == 1


def test_row_mapping_by_position():
    row = ["C1", "a@example.com", "7001", "", "softbounce", "2026-11-25T23:12:01Z", "extra"]
    assert row_as_dict("getResponses", row) == {
        "recipient_id": "C1",
        "email": "a@example.com",
        "mailing_id": "7001",
        "recipient_list_id": None,
        "category": "softbounce",
        "occurred_at": "2026-11-25T23:12:01Z",
    }
    with pytest.raises(MalformedExportRowError, match="3 columns, expected 6"):
        row_as_dict("getResponses", row[:3])


@pytest.mark.parametrize(
    "text",
    ["2026-11-25T23:12:01Z", "2026-11-25T23:12:01+00:00", "2026-11-26T00:12:01+01:00", "1795648321000"],
)
def test_timestamps(text):
    assert parse_timestamp(text, method="m", column="c") == datetime(2026, 11, 25, 23, 12, 1, tzinfo=UTC)


def test_bad_timestamp_names_the_export():
    with pytest.raises(MalformedExportRowError, match="getOpens: occurred_at 'yesterday'"):
        parse_timestamp("yesterday", method="getOpens", column="occurred_at")


def test_feedback_mapping():
    responses, outbounces = FEEDBACK_SOURCES[FeedbackKind.BOUNCES]
    hard = feedback_row(
        FeedbackKind.BOUNCES,
        responses,
        ["C1", "a@example.com", "7001", "1001", "hardbounce", "2026-11-25T23:12:01Z"],
    )
    assert (hard.category, hard.list_id, hard.mailing_id, hard.recipient_id) == (
        "hardbounce",
        "1001",
        "7001",
        "C1",
    )
    assert (
        feedback_row(
            FeedbackKind.BOUNCES,
            responses,
            ["C1", "a@example.com", "7001", "1001", "autoresponder", "2026-11-25T23:12:01Z"],
        )
        is None
    )
    over = feedback_row(
        FeedbackKind.BOUNCES, outbounces, ["C1", "a@example.com", "1001", "3", "1", "2026-11-25T23:12:01Z"]
    )
    assert (over.category, over.mailing_id, over.raw[3]) == ("overflow", None, "3")
    mailing_unsub, unsub = FEEDBACK_SOURCES[FeedbackKind.UNSUBSCRIBES]
    row = feedback_row(FeedbackKind.UNSUBSCRIBES, unsub, ["", "a@example.com", "", "2026-11-25T23:12:01Z"])
    assert (row.recipient_id, row.email, row.list_id, row.category) == (
        None,
        "a@example.com",
        None,
        "unsubscribe",
    )


def test_parse_connection_defaults_and_errors():
    settings = parse_connection("c", "https://x/soap11", None, "u", "p", {"mandator_id": "12"})
    assert (settings.mandator_id, settings.batch_size, settings.max_parallel_calls, settings.timeout) == (
        12,
        1000,
        4,
        60,
    )
    assert (
        parse_connection("c", "h.example", 8443, "u", "p", {"mandator_id": 1}).base_url
        == "https://h.example:8443/soap11"
    )
    with pytest.raises(OptimizelyConnectionError, match="connection 'c': host must not contain credentials"):
        parse_connection("c", "https://u:p@x/soap11", None, "u", "p", {"mandator_id": 1})
    with pytest.raises(OptimizelyConnectionError, match="mandator_id' must be an integer, got True"):
        parse_connection("c", "https://x", None, "u", "p", {"mandator_id": True})

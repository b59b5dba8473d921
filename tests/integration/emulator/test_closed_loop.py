"""ClosedLoop exports: export-time windows, paging, ordering, retention, column orders, and the
feedback a simulated mailing produces. The emulator clock is frozen, so times are exact."""

from __future__ import annotations

import pytest
import zeep.exceptions

from include.emulators.optimizely.timestamps import iso_utc
from tests.integration.emulator import offline_zeep
from tests.integration.emulator.conftest import LIST_ID

T0 = 1_800_000_000  # 2027-01-15T08:00:00Z, frozen "now" for these tests
DAY = 86400


@pytest.fixture
def frozen(optimizely_emulator):
    optimizely_emulator.control.set_clock(T0, frozen=True)
    return optimizely_emulator


@pytest.fixture
def sid(soap, frozen):
    # Log in on the frozen clock (a session from before the jump would have expired).
    return soap.login()


def _export(soap, sid, method, since_s, until_s, start=0, rows=1000):
    return offline_zeep.call_matrix(
        soap.client("ClosedLoop"), method, sid, int(since_s * 1000), int(until_s * 1000), start, rows
    )


def test_current_time_is_the_emulator_clock(soap, sid, frozen):
    assert soap.service("ClosedLoop").getCurrentTime(sid) == T0 * 1000
    frozen.control.advance_clock(90)
    assert soap.service("ClosedLoop").getCurrentTime(sid) == (T0 + 90) * 1000


def test_paging_2500_rows_in_export_order(soap, sid, frozen):
    events = [
        {
            "kind": "unsubscribe",
            "recipient_id": f"u{i:04d}@example.com",
            "list_id": LIST_ID,
            "occurred_at": T0 - 3600,
            # Export times out of insertion order and with ties: order is (export time, sequence).
            "exported_at": T0 - 3000 + (i % 7),
        }
        for i in range(2500)
    ]
    assert frozen.control.add_feedback_events(events)["created"] == 2500
    pages = [
        _export(soap, sid, "getUnsubscribes", T0 - 3600, T0, start, 1000) for start in (0, 1000, 2000, 3000)
    ]
    assert [len(p) for p in pages] == [1000, 1000, 500, 0]
    rows = [row for page in pages for row in page]
    expected = sorted(events, key=lambda e: e["exported_at"])  # stable: ties keep insertion order
    assert [r[0] for r in rows] == [e["recipient_id"] for e in expected]
    assert rows[0] == ["u0000@example.com", "u0000@example.com", "1001", iso_utc(T0 - 3600)]
    # A page size under the maximum pages the same way.
    assert _export(soap, sid, "getUnsubscribes", T0 - 3600, T0, 10, 5) == rows[10:15]


def test_more_than_1000_rows_per_call_is_a_fault(soap, sid, frozen):
    with pytest.raises(zeep.exceptions.Fault, match="Too many rows requested: 1001 > 1000"):
        _export(soap, sid, "getOpens", T0 - 60, T0, 0, 1001)


def test_window_selects_by_export_time_half_open(soap, sid, frozen):
    frozen.control.add_feedback_events(
        [
            # occurred long ago, exported inside the window: included
            {
                "kind": "open",
                "recipient_id": "late@example.com",
                "occurred_at": T0 - 5 * DAY,
                "exported_at": T0 - 500,
            },
            # occurred inside the window, exported after it: not in this window
            {
                "kind": "open",
                "recipient_id": "slow@example.com",
                "occurred_at": T0 - 500,
                "exported_at": T0 - 100,
            },
            # exactly at since (inclusive) and exactly at until (exclusive)
            {
                "kind": "open",
                "recipient_id": "since@example.com",
                "occurred_at": T0 - 1000,
                "exported_at": T0 - 1000,
            },
            {
                "kind": "open",
                "recipient_id": "until@example.com",
                "occurred_at": T0 - 200,
                "exported_at": T0 - 200,
            },
            # not exported yet (export time in the future)
            {
                "kind": "open",
                "recipient_id": "future@example.com",
                "occurred_at": T0 - 10,
                "exported_at": T0 + 600,
            },
        ]
    )
    window = _export(soap, sid, "getOpens", T0 - 1000, T0 - 200)
    assert [r[0] for r in window] == ["since@example.com", "late@example.com"]
    assert [r[0] for r in _export(soap, sid, "getOpens", T0 - 200, T0 + 3600)] == [
        "until@example.com",
        "slow@example.com",
    ]
    frozen.control.advance_clock(600)
    assert [r[0] for r in _export(soap, sid, "getOpens", T0 - 200, T0 + 3600)] == [
        "until@example.com",
        "slow@example.com",
        "future@example.com",
    ]


def test_retention_of_30_days(soap, sid, frozen):
    frozen.control.add_feedback_events(
        [
            {
                "kind": "click",
                "recipient_id": "old@example.com",
                "occurred_at": T0 - 31 * DAY,
                "exported_at": T0 - 60,
                "link_url": "https://a",
            },
            {
                "kind": "click",
                "recipient_id": "young@example.com",
                "occurred_at": T0 - 29 * DAY,
                "exported_at": T0 - 60,
                "link_url": "https://b",
            },
        ]
    )
    mailing = frozen.control.send_mailing(LIST_ID)["mailing"]  # empty list, just a mailing id
    assert [r[0] for r in _export(soap, sid, "getClicks", T0 - 3600, T0)] == ["young@example.com"]
    frozen.control.advance_clock(2 * DAY)
    sid = soap.login()  # the old session expired on the way
    assert _export(soap, sid, "getClicks", T0 - 3600, T0 + 3 * DAY) == []
    # Events of a mailing dispatched more than 30 days ago are gone even if they are recent.
    frozen.control.add_feedback(
        "click",
        "recent@example.com",
        mailing_id=mailing["id"],
        occurred_at=T0 + 2 * DAY - 10,
        exported_at=T0 + 2 * DAY - 10,
        link_url="https://c",
    )
    assert len(_export(soap, sid, "getClicks", T0, T0 + 3 * DAY)) == 1
    frozen.control.advance_clock(29 * DAY)  # the mailing is now 31 days old
    sid = soap.login()
    assert _export(soap, sid, "getClicks", T0, T0 + 40 * DAY) == []


def test_column_orders_of_every_export(soap, sid, frozen):
    at, iso = T0 - 600, iso_utc(T0 - 600)
    common = {"list_id": LIST_ID, "mailing_id": 7777, "occurred_at": at, "exported_at": at}
    frozen.control.add_feedback_events(
        [
            {"kind": "unsubscribe", "recipient_id": "crm-1", "email": "u@example.com", **common},
            {
                "kind": "unsubscribe",
                "recipient_id": "crm-2",
                "email": "v@example.com",
                "list_id": 1002,
                "occurred_at": at,
            },
            *[
                {
                    "kind": "bounce",
                    "category": "hardbounce",
                    "recipient_id": "crm-3",
                    "email": "b@example.com",
                    **common,
                }
            ]
            * 3,
            {
                "kind": "bounce",
                "category": "autoresponder",
                "recipient_id": "crm-4",
                "email": "a@example.com",
                **common,
            },
            {"kind": "open", "recipient_id": "crm-5", "email": "o@example.com", **common},
            {
                "kind": "click",
                "recipient_id": "crm-5",
                "email": "o@example.com",
                "link_url": "https://x.example/?a=1&b=<2>",
                **common,
            },
        ]
    )
    window = (T0 - 3600, T0)
    assert _export(soap, sid, "getUnsubscribes", *window) == [
        ["crm-1", "u@example.com", "1001", iso],
        ["crm-2", "v@example.com", "1002", iso],
    ]
    assert _export(soap, sid, "getMailingUnsubscribes", *window) == [
        ["crm-1", "u@example.com", "7777", "1001", iso]
    ]
    assert _export(soap, sid, "getOutBounces", *window) == [["crm-3", "b@example.com", "1001", "3", "0", iso]]
    assert _export(soap, sid, "getResponses", *window) == [
        ["crm-3", "b@example.com", "7777", "1001", "hardbounce", iso],
        ["crm-3", "b@example.com", "7777", "1001", "hardbounce", iso],
        ["crm-3", "b@example.com", "7777", "1001", "hardbounce", iso],
        ["crm-4", "a@example.com", "7777", "1001", "autoresponder", iso],
    ]
    assert _export(soap, sid, "getOpens", *window) == [["crm-5", "o@example.com", "7777", "1001", iso]]
    assert _export(soap, sid, "getClicks", *window) == [
        ["crm-5", "o@example.com", "7777", "1001", iso, "https://x.example/?a=1&b=<2>"]
    ]
    # zeep's own parsing of String[][] works too when no value is empty.
    parsed = soap.service("ClosedLoop").getOpens(sid, window[0] * 1000, window[1] * 1000, 0, 10)
    assert offline_zeep.rows(parsed) == [["crm-5", "o@example.com", "7777", "1001", iso]]


def test_simulated_mailing_produces_consistent_feedback(soap, sid, frozen):
    ids = [f"m{i}@example.com" for i in range(300)]
    assert soap.add_all3(sid, LIST_ID, 0, ids) == [0] * 300
    assert soap.add_all3(sid, LIST_ID, 2003, ["pending@example.com"]) == [0]  # not mailed: pending
    result = frozen.control.send_mailing(
        LIST_ID,
        bounce_rate=0.05,
        soft_bounce_rate=0.05,
        unsubscribe_rate=0.03,
        open_rate=0.4,
        click_rate=0.5,
        seed=1,
    )
    counts, mailing = result["counts"], result["mailing"]
    assert counts["recipients"] == 300
    assert all(counts[k] > 0 for k in ("hardbounce", "softbounce", "unsubscribe", "open", "click"))
    window = (T0 - 60, T0 + 60)
    responses = _export(soap, sid, "getResponses", *window)
    assert len(responses) == counts["hardbounce"] + counts["softbounce"]
    assert {r[2] for r in responses} == {str(mailing["id"])}
    unsubscribes = _export(soap, sid, "getMailingUnsubscribes", *window)
    assert len(unsubscribes) == counts["unsubscribe"]
    assert len(_export(soap, sid, "getOpens", *window)) == counts["open"]
    assert len(_export(soap, sid, "getClicks", *window)) == counts["click"]
    # Side effects as on the platform: bounce counters and the unsubscribe list.
    hard = [r[0] for r in responses if r[4] == "hardbounce"]
    assert soap.service("Response").getBounceCounter(sid, hard[0], "hardbounce") == 1
    unsubscribed = [r[0] for r in unsubscribes]
    assert soap.add_all3(sid, 1002, 0, unsubscribed) == [2] * len(unsubscribed)
    # Same seed, same outcome.
    again = frozen.control.send_mailing(
        LIST_ID,
        bounce_rate=0.05,
        soft_bounce_rate=0.05,
        unsubscribe_rate=0.03,
        open_rate=0.4,
        click_rate=0.5,
        seed=1,
    )
    assert again["counts"]["recipients"] == 300 - counts["unsubscribe"]


def _unsubscribes(n, occurred_at, exported_at, prefix="p"):
    return [
        {
            "kind": "unsubscribe",
            "recipient_id": f"{prefix}{i:05d}@example.com",
            "list_id": LIST_ID,
            "occurred_at": occurred_at(i),
            "exported_at": exported_at(i),
        }
        for i in range(n)
    ]


def _page_all(soap, sid, since_s, until_s, rows=1000):
    out, start = [], 0
    while True:
        page = _export(soap, sid, "getUnsubscribes", since_s, until_s, start, rows)
        out.extend(page)
        if len(page) < rows:
            return out
        start += len(page)


def test_paging_forward_costs_each_event_once(soap, sid, frozen):
    """Paging N rows used to count startRow rows from the window's start on every call (O(N²) in the
    emulator: a minute at 500k rows); each page now continues where the previous one ended."""
    events = _unsubscribes(5000, lambda i: T0 - 3600, lambda i: T0 - 3000 + i % 7)
    frozen.control.add_feedback_events(events)
    pager = frozen.state.export_pager
    before = pager.scanned
    rows = _page_all(soap, sid, T0 - 3600, T0, rows=500)
    assert pager.scanned - before == 5000  # was 500 + 1000 + ... + 5000 = 27,500 with 500-row pages
    expected = sorted(events, key=lambda e: e["exported_at"])  # stable: ties keep insertion order
    assert [r[0] for r in rows] == [e["recipient_id"] for e in expected]


def test_paging_after_a_change_counts_from_the_start(soap, sid, frozen):
    """A page after events were added, or after earlier rows left the retention, is the page a full
    count gives: a cursor is only followed while the rows before it are the same."""
    # rows 0..1999, the first 500 of them 29 days and 23 h old (they leave the retention in 1 h)
    frozen.control.add_feedback_events(
        _unsubscribes(2000, lambda i: T0 - 30 * DAY + 3600 if i < 500 else T0 - 3600, lambda i: T0 - 1800 + i)
    )
    first = _export(soap, sid, "getUnsubscribes", T0 - DAY, T0 + DAY, 0, 1000)
    assert first[0][0] == "p00000@example.com"
    frozen.control.advance_clock(7200)  # rows 0..499 expire; rows 500..1999 remain, 1500 in all
    sid = soap.login()
    second = _export(soap, sid, "getUnsubscribes", T0 - DAY, T0 + DAY, 1000, 1000)
    assert [r[0] for r in second] == [f"p{i:05d}@example.com" for i in range(1500, 2000)]
    # an event inserted before the cursor shifts the rows after it
    first = _export(soap, sid, "getUnsubscribes", T0 - DAY, T0 + DAY, 0, 1000)
    frozen.control.add_feedback_events(_unsubscribes(1, lambda i: T0 - 60, lambda i: T0 - 1800 - 1, "new"))
    second = _export(soap, sid, "getUnsubscribes", T0 - DAY, T0 + DAY, 1000, 1000)
    assert [r[0] for r in first] == [f"p{i:05d}@example.com" for i in range(500, 1500)]
    assert [r[0] for r in second] == [f"p{i:05d}@example.com" for i in range(1499, 2000)]

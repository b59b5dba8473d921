"""``/contact/updates/list`` and ``/contact/bounces/list``: changes and bounces inside a time
window, cursor-paged through ``paging.next`` until it is null, each item exactly once."""

from __future__ import annotations

from typing import Any

from tests.integration.emulator_spotler.conftest import Api, contact

T0 = "2026-12-01T00:00:00Z"


def _all_pages(api: Api, path: str, key: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items, pages = [], 0
    response = api.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        document = response.json()
        items.extend(document[key])
        pages += 1
        if document["paging"]["next"] is None:
            return items, pages
        response = api.session.get(document["paging"]["next"], timeout=30)


def test_updates_are_paged_and_each_contact_appears_once_as_it_is_now(spotler, api):
    spotler.control.set_clock(T0, frozen=True)
    api.upsert([contact(f"c{i}") for i in range(5)])
    spotler.control.advance_clock(60)
    api.upsert([contact("c1", firstName="changed")])  # changed twice: listed once, at its last change
    spotler.control.opt_out("c3")
    items, pages = _all_pages(api, "/contact/updates/list", "contacts", fromDate=T0, pageSize=2)
    assert [c["externalId"] for c in items] == ["c0", "c2", "c4", "c1", "c3"]
    assert pages == 3
    by_id = {c["externalId"]: c for c in items}
    assert by_id["c1"]["properties"]["firstName"] == "changed"
    assert by_id["c3"]["channels"] == [{"name": "EMAIL", "value": False}]


def test_the_window_selects_by_last_change(spotler, api):
    spotler.control.set_clock(T0, frozen=True)
    api.upsert([contact("early")])
    spotler.control.advance_clock(3600)
    spotler.control.opt_out("early")
    api.upsert([contact("late")])
    items, _ = _all_pages(api, "/contact/updates/list", "contacts", fromDate="2026-12-01T00:30:00+00:00")
    assert [c["externalId"] for c in items] == ["early", "late"]
    items, _ = _all_pages(
        api, "/contact/updates/list", "contacts", fromDate=T0, toDate="2026-12-01T00:30:00Z"
    )
    assert items == []  # "early" changed again after toDate: its last change is outside


def test_an_unchanged_upsert_is_not_a_change(spotler, api):
    spotler.control.set_clock(T0, frozen=True)
    api.upsert([contact("c1")])
    spotler.control.advance_clock(3600)
    api.upsert([contact("c1")])
    items, _ = _all_pages(api, "/contact/updates/list", "contacts", fromDate="2026-12-01T00:30:00Z")
    assert items == []


def test_bounces_are_paged(spotler, api):
    spotler.control.set_clock(T0, frozen=True)
    api.upsert([contact(f"c{i}") for i in range(3)])
    spotler.control.add_bounce("c0", "HARDBOUNCE", date="2026-11-30T12:00:00Z")  # before the window
    spotler.control.add_bounce("c1", "HARDBOUNCE")
    spotler.control.add_bounce("c2", "SOFTBOUNCE")
    items, pages = _all_pages(api, "/contact/bounces/list", "bounces", fromDate=T0, pageSize=1)
    assert [(b["contact"]["externalId"], b["type"], b["date"]) for b in items] == [
        ("c1", "HARDBOUNCE", "2026-12-01T00:00:00Z"),
        ("c2", "SOFTBOUNCE", "2026-12-01T00:00:00Z"),
    ]
    assert pages == 2


def test_bad_feed_parameters(api):
    assert api.get("/contact/updates/list").status_code == 400
    assert api.get("/contact/updates/list", params={"fromDate": "yesterday"}).status_code == 400
    assert api.get("/contact/bounces/list", params={"fromDate": T0, "pageSize": 0}).status_code == 400
    assert api.get("/contact/bounces/list", params={"fromDate": T0, "pageSize": 1001}).status_code == 400

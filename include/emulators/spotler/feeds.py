"""``/contact/updates/list`` and ``/contact/bounces/list``: what changed in Spotler between
``fromDate`` (inclusive) and ``toDate`` (exclusive, default now), cursor-paged.

A page holds at most ``pageSize`` items (default 100, at most ``max_page_size``, else 400);
``paging.after`` is the opaque cursor after its last item and ``paging.next`` the URL of the next
page; both are null on the last page (a full page may be followed by an empty last page: the
server does not look ahead). Pass ``after`` back, with the same dates, for the next page.
Dates are ISO-8601 (``2026-12-07T02:00:00Z`` or with an offset); a missing or unreadable
``fromDate`` is 400.

Updates: ``{"contacts": [Contact, ...], "paging": {...}}``, each changed contact once, as it is
now, ordered by its last change (a contact changed again after ``toDate`` is not in the window:
the feed is a query on ``lastChanged``). Opt-outs show as ``channels: [{name: EMAIL, value: false}]``.
Bounces: ``{"bounces": [{"date", "type": HARDBOUNCE|SOFTBOUNCE, "contact": Contact}], "paging": {...}}``.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime
from typing import Any

from include.emulators.kit.clock import iso_utc
from include.emulators.spotler import errors as e
from include.emulators.spotler.errors import ApiError
from include.emulators.spotler.state import SpotlerState

DEFAULT_PAGE_SIZE = 100


def updates(state: SpotlerState, url: str, params: dict[str, str], max_page_size: int) -> dict[str, Any]:
    start, end, size, cursor = _window(state, params, max_page_size)
    items: list[dict[str, Any]] = []
    with state.lock:
        index = cursor
        while index < len(state.changes) and len(items) < size:
            contact = state.changes[index]
            index += 1
            if contact.change_seq == index - 1 and start <= contact.last_changed < end:
                items.append(contact.as_json())
        more = len(items) == size and index < len(state.changes)
    return {"contacts": items, "paging": _paging(url, params, size, index, more)}


def bounces(state: SpotlerState, url: str, params: dict[str, str], max_page_size: int) -> dict[str, Any]:
    start, end, size, cursor = _window(state, params, max_page_size)
    items: list[dict[str, Any]] = []
    with state.lock:
        index = cursor
        while index < len(state.bounces) and len(items) < size:
            bounce = state.bounces[index]
            index += 1
            if start <= bounce.at < end:
                contact = state.contacts[bounce.external_id].as_json()
                items.append({"date": iso_utc(bounce.at), "type": bounce.type, "contact": contact})
        more = len(items) == size and index < len(state.bounces)
    return {"bounces": items, "paging": _paging(url, params, size, index, more)}


def _window(state: SpotlerState, params: dict[str, str], max_page_size: int) -> tuple[float, float, int, int]:
    if not params.get("fromDate"):
        raise ApiError(400, e.INVALID_PARAMS, "fromDate is required")
    start = _date(params["fromDate"], "fromDate")
    end = _date(params["toDate"], "toDate") if params.get("toDate") else state.clock.now() + 1e-6
    try:
        size = int(params.get("pageSize", DEFAULT_PAGE_SIZE))
        cursor = int(params.get("after", 0))
    except ValueError:
        raise ApiError(400, e.INVALID_PARAMS, "pageSize and after must be integers") from None
    if not 1 <= size <= max_page_size:
        raise ApiError(400, e.INVALID_PARAMS, f"pageSize must be between 1 and {max_page_size}")
    if cursor < 0:
        raise ApiError(400, e.INVALID_PARAMS, "after is not a valid cursor")
    return start, end, size, cursor


def _date(text: str, name: str) -> float:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, e.INVALID_PARAMS, f"{name} is not an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        raise ApiError(400, e.INVALID_PARAMS, f"{name} needs a time zone (Z or +hh:mm)")
    return moment.timestamp()


def _paging(url: str, params: dict[str, str], size: int, index: int, more: bool) -> dict[str, Any]:
    if not more:
        return {"pageSize": size, "after": None, "next": None}
    query = urllib.parse.urlencode({**params, "pageSize": size, "after": index})
    return {"pageSize": size, "after": str(index), "next": f"{url.split('?', 1)[0]}?{query}"}

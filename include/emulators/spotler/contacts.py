"""``/contact...``: the batch upsert with a code per contact, single-contact calls, property
definitions, and GDPR anonymisation.

Per-contact codes of ``POST /contact/list`` (the contact is left unchanged unless OK):
  OK                      created, or updated (``update: true``)
  CONTACT_ALREADY_EXISTS  it exists and ``update`` is false
  CONTACT_OPTOUT          it exists and opted out of e-mail in Spotler: Spotler's permissions are
                          leading, so the upsert does not touch it (checked before the above)
  PROPERTY_INVALID        a property is unknown or its value does not fit (properties.py)
  NO_ACTIVE_CHANNEL       a new contact without ``properties.email``
  ERROR                   only under the ``contact_error`` fault (app.py)
A contact counts as changed (and enters the change feed) only when its properties actually change.
"""

from __future__ import annotations

from typing import Any

from include.emulators.spotler import errors as e
from include.emulators.spotler.errors import ApiError
from include.emulators.spotler.model import Contact
from include.emulators.spotler.properties import PropertyInvalid, merge, parse_properties
from include.emulators.spotler.state import SpotlerState

OK = "OK"
PROPERTY_INVALID = "PROPERTY_INVALID"
CONTACT_ALREADY_EXISTS = "CONTACT_ALREADY_EXISTS"
CONTACT_OPTOUT = "CONTACT_OPTOUT"
NO_ACTIVE_CHANNEL = "NO_ACTIVE_CHANNEL"
MAX_ID = 255


def upsert_list(state: SpotlerState, body: Any, limit: int) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("contacts"), list):
        raise ApiError(400, e.INVALID_PARAMS, "Request body must be {update, purge, contacts: [...]}")
    contacts = body["contacts"]
    if len(contacts) > limit:
        raise ApiError(400, e.INVALID_PARAMS, e.TOO_MANY_CONTACTS.format(limit=limit))
    for item in contacts:
        _external_id(item)
    update, purge = bool(body.get("update", False)), bool(body.get("purge", False))
    with state.lock:
        return [_upsert(state, item, update, purge) for item in contacts]


def error_results(body: Any, message: str) -> list[dict[str, Any]]:
    """Code ERROR for every contact of an upsert (the ``contact_error`` fault); nothing is written."""
    items = body.get("contacts") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ApiError(400, e.INVALID_PARAMS, "Request body must be {update, purge, contacts: [...]}")
    return [
        _result(str(item.get("externalId", "")), "ERROR", message) for item in items if isinstance(item, dict)
    ]


def create_one(state: SpotlerState, body: Any) -> None:
    """``POST /contact {update, purge, contact}`` -> 204, or 400 with the contact's code."""
    if not isinstance(body, dict) or not isinstance(body.get("contact"), dict):
        raise ApiError(400, e.INVALID_PARAMS, "Request body must be {update, purge, contact: {...}}")
    _external_id(body["contact"])
    with state.lock:
        result = _upsert(
            state, body["contact"], bool(body.get("update", False)), bool(body.get("purge", False))
        )
    if result["code"] != OK:
        error_type = e.INVALID_PROPERTY if result["code"] == PROPERTY_INVALID else result["code"]
        raise ApiError(400, error_type, result["message"])


def update_one(state: SpotlerState, external_id: str, body: Any) -> None:
    """``PUT /contact/{externalId}`` (a Contact) -> 204; 404 unknown; 400 refused."""
    if not isinstance(body, dict):
        raise ApiError(400, e.INVALID_PARAMS, "Request body must be a Contact")
    if str(body.get("externalId") or external_id) != external_id:
        raise ApiError(400, e.INVALID_PARAMS, "Path id doesn't match contact id")
    with state.lock:
        if external_id not in state.contacts:
            raise ApiError(404, e.CONTACT_NOT_FOUND, "Contact not found")
        result = _upsert(state, {**body, "externalId": external_id}, True, bool(body.get("purge", False)))
    if result["code"] != OK:
        error_type = e.INVALID_PROPERTY if result["code"] == PROPERTY_INVALID else result["code"]
        raise ApiError(400, error_type, result["message"])


def get_one(state: SpotlerState, external_id: str) -> dict[str, Any]:
    with state.lock:
        contact = state.contacts.get(external_id)
        if contact is None:
            raise ApiError(404, e.CONTACT_NOT_FOUND, "Contact not found")
        return contact.as_json()


def anonymize(state: SpotlerState, external_id: str) -> None:
    """GDPR: the contact keeps its external id but loses its data and its e-mail channel."""
    with state.lock:
        contact = state.contacts.get(external_id)
        if contact is None:
            raise ApiError(404, e.CONTACT_NOT_FOUND, "Contact not found")
        contact.properties = {}
        contact.email_active = False
        state.record_change(contact, state.clock.now())


def property_definitions(state: SpotlerState) -> list[dict[str, Any]]:
    with state.lock:
        return [p.as_json() for p in state.properties.values()]


def _external_id(item: Any) -> str:
    external_id = item.get("externalId") if isinstance(item, dict) else None
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > MAX_ID:
        raise ApiError(
            400, e.INVALID_PARAMS, f"Every contact needs an externalId of 1 to {MAX_ID} characters"
        )
    return external_id


def _upsert(state: SpotlerState, item: dict[str, Any], update: bool, purge: bool) -> dict[str, Any]:
    external_id = item["externalId"]
    existing = state.contacts.get(external_id)
    if existing is not None and not existing.email_active:
        return _result(external_id, CONTACT_OPTOUT, "Contact has opted out")
    if existing is not None and not update:
        return _result(external_id, CONTACT_ALREADY_EXISTS, "Contact already exists")
    try:
        properties = parse_properties(state.properties, item.get("properties") or {})
    except PropertyInvalid as exc:
        return _result(external_id, PROPERTY_INVALID, str(exc))
    now = state.clock.now()
    if existing is None:
        if not properties.get("email"):
            return _result(external_id, NO_ACTIVE_CHANNEL, "Contact has no active channel (properties.email)")
        contact = Contact(external_id, properties, now, now, test_group=bool(item.get("testGroup", False)))
        state.contacts[external_id] = contact
        state.record_change(contact, now)
        return _result(external_id, OK, "Contact created")
    merged = merge(existing.properties, properties, purge)
    if not merged.get("email"):
        return _result(external_id, NO_ACTIVE_CHANNEL, "Contact has no active channel (properties.email)")
    if merged != existing.properties:
        existing.properties = merged
        state.record_change(existing, now)
    if "testGroup" in item:
        existing.test_group = bool(item["testGroup"])
    return _result(external_id, OK, "Contact updated")


def _result(external_id: str, code: str, message: str) -> dict[str, Any]:
    return {"externalId": external_id, "code": code, "message": message}

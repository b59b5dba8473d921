"""``/audience`` and ``/audience/{externalId}/contact``: create, read, change, delete an audience,
add and remove its members, empty it. Every check the API documents, in this order: request
shape (400), batch size (413), the audience (404), the contacts (404 with the unknown ids), the
audience's own rules (417). A refused call changes nothing.

Member removal: a DELETE without a body empties the audience, and so does a body that names no
contacts (``{}``, ``{"contacts": null}`` or ``{"contacts": []}``): the real server's handling of
those is not documented, and treating them as "empty" makes a client that ever sends them fail
its tests instead of emptying a production audience.
"""

from __future__ import annotations

from typing import Any

from include.emulators.spotler import errors as e
from include.emulators.spotler.errors import ApiError
from include.emulators.spotler.model import Audience
from include.emulators.spotler.state import SpotlerState

MAX_TEXT = 255


def create(state: SpotlerState, body: Any, max_audiences: int) -> dict[str, Any]:
    document = _object(body)
    external_id, name = _text(document, "externalId", "id"), _text(document, "name", "name")
    description = str(document.get("description") or "")
    with state.lock:
        if external_id in state.audiences:
            raise ApiError(417, e.ID_NOTUNIQUE, e.ID_NOT_UNIQUE)
        if any(a.name == name for a in state.audiences.values()):
            raise ApiError(417, e.NAME_ALREADY_IN_USE, e.NAME_NOT_UNIQUE)
        if len(state.audiences) >= max_audiences:
            raise ApiError(417, e.INVALID_STATE, e.MAX_AUDIENCES)
        now = state.clock.now()
        audience = Audience(external_id, name, description, now, now)
        state.audiences[external_id] = audience
        return audience.as_json()


def get(state: SpotlerState, external_id: str) -> dict[str, Any]:
    with state.lock:
        return _audience(state, external_id).as_json()


def update(state: SpotlerState, external_id: str, body: Any) -> dict[str, Any]:
    document = _object(body)
    if str(document.get("externalId") or "") != external_id:
        raise ApiError(400, e.INVALID_PARAMS, e.PATH_ID_MISMATCH)
    with state.lock:
        audience = _audience(state, external_id)
        name = _text(document, "name", "name")
        if any(a.name == name and a is not audience for a in state.audiences.values()):
            raise ApiError(417, e.NAME_ALREADY_IN_USE, e.NAME_NOT_UNIQUE)
        audience.name = name
        audience.description = str(document.get("description") or "")
        audience.change_date = state.clock.now()
        return audience.as_json()


def delete(state: SpotlerState, external_id: str) -> None:
    with state.lock:
        audience = _audience(state, external_id)
        if audience.in_use:
            raise ApiError(417, e.INVALID_STATE, e.IN_USE)
        del state.audiences[external_id]


def add_members(state: SpotlerState, external_id: str, body: Any, limit: int) -> None:
    ids = _ids(body, limit, required=True)
    with state.lock:
        audience = _audience(state, external_id)
        _known(state, ids)
        now = state.clock.now()
        audience.members.update(dict.fromkeys(ids))
        audience.last_added = audience.last_sync = now


def remove_members(state: SpotlerState, external_id: str, body: Any, has_body: bool, limit: int) -> str:
    """Returns what happened: ``removed`` or ``emptied``."""
    ids = _ids(body, limit, required=False) if has_body else []
    with state.lock:
        audience = _audience(state, external_id)
        if ids:
            _known(state, ids)
        now = state.clock.now()
        if ids:
            for contact_id in ids:
                audience.members.pop(contact_id, None)
        else:
            audience.members.clear()
        audience.last_removed = audience.last_sync = now
        return "removed" if ids else "emptied"


# ---------------------------------------------------------------------- checks
def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, e.INVALID_PARAMS, "Request body must be a JSON object")
    return body


def _text(document: dict[str, Any], key: str, label: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ApiError(417, e.INVALID_PARAMS, f"Audience {label} must be 1 to {MAX_TEXT} characters")
    return value


def _ids(body: Any, limit: int, required: bool) -> list[str]:
    if body is None and not required:
        return []
    document = _object(body)
    ids = document.get("contacts")
    if ids is None and not required:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise ApiError(400, e.INVALID_PARAMS, "contacts must be a list of contact external ids")
    if len(ids) > limit:
        raise ApiError(413, e.INVALID_PARAMS, e.BATCH_TOO_LARGE.format(limit=limit))
    return ids


def _audience(state: SpotlerState, external_id: str) -> Audience:
    audience = state.audiences.get(external_id)
    if audience is None:
        raise ApiError(404, e.RESOURCE_NOT_FOUND, e.AUDIENCE_NOT_FOUND)
    return audience


def _known(state: SpotlerState, ids: list[str]) -> None:
    unknown = list(dict.fromkeys(i for i in ids if i not in state.contacts))
    if unknown:
        raise ApiError(404, e.CONTACT_NOT_FOUND, e.CONTACTS_NOT_FOUND, externalContactIds=unknown)

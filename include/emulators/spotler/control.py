"""The Spotler emulator's control endpoint (loopback only) and its ``SpotlerControlClient``.

Besides the kit's endpoints (reset, state, faults, clock, calls; kit/control.py):
  GET  /_control/state                       {"audiences": [{externalId, name, description, in_use,
                                             in_use_reason, size, members, ...}], "contacts": [...],
                                             "bounces": [...], "calls", "fault_rules", "clock", "config"}
                                             (?members=false / ?contacts=false leave the big parts out)
  GET  /_control/audiences/<externalId>      one audience with its members
  POST /_control/audiences/<externalId>/in-use {"in_use": true|false, "reason": "scheduled mailing"}
  POST /_control/contacts                    {"contacts": [Contact, ...]}: create or change contacts
                                             as if made in Spotler (no per-call limit; opted_out allowed)
  POST /_control/contacts/<externalId>/opt-out  {"date": optional}: the contact unsubscribes in Spotler
  POST /_control/contacts/<externalId>/opt-in   {"date": optional}: undo it (a resubscribe)
  POST /_control/bounces                     {externalId, type: HARDBOUNCE|SOFTBOUNCE, date?} or
                                             {"bounces": [...]}: bounces as if from a mailing
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from include.emulators.kit.clock import clock_document, iso_utc, parse_time
from include.emulators.kit.control import ControlClient, ControlRequestError, ControlRouter, mapping
from include.emulators.spotler.app import SpotlerApp
from include.emulators.spotler.model import BOUNCE_TYPES, Bounce, Contact
from include.emulators.spotler.properties import PropertyInvalid, parse_properties

_AUDIENCE = re.compile(r"^/audiences/([^/]+)$")
_IN_USE = re.compile(r"^/audiences/([^/]+)/in-use$")
_OPT = re.compile(r"^/contacts/([^/]+)/(opt-out|opt-in)$")


class SpotlerControl(ControlRouter):
    def __init__(self, app: SpotlerApp) -> None:
        super().__init__(app.faults, app.clock, app.calls)
        self.app = app

    def reset_all(self) -> None:
        self.app.reset()

    def state(self, params: dict[str, str]) -> dict[str, Any]:
        app, state = self.app, self.app.state
        with_members = params.get("members", "true") != "false"
        with_contacts = params.get("contacts", "true") != "false"
        with state.lock:
            document: dict[str, Any] = {
                "audiences": [a.control_json(with_members) for a in state.audiences.values()],
                "contact_count": len(state.contacts),
                "bounces": [
                    {"externalId": b.external_id, "type": b.type, "date": iso_utc(b.at)}
                    for b in state.bounces
                ],
            }
            if with_contacts:
                document["contacts"] = [_contact_control_json(c) for c in state.contacts.values()]
        document.update(
            {
                "calls": app.calls.snapshot(),
                "fault_rules": app.faults.rules(),
                "clock": clock_document(app.clock),
                "config": {
                    "automation_product": app.config.automation_product,
                    "max_audiences": app.config.max_audiences,
                    "max_contacts_per_upsert": app.config.max_contacts_per_upsert,
                    "max_ids_per_call": app.config.max_ids_per_call,
                    "seed_path": str(app.config.seed_path),
                },
            }
        )
        return document

    def route(self, method: str, route: str, params: dict[str, str], doc: Any) -> tuple[int, Any] | None:
        state = self.app.state
        match = _AUDIENCE.match(route)
        if match and method == "GET":
            with state.lock:
                return 200, self._audience(match.group(1)).control_json()
        match = _IN_USE.match(route)
        if match and method == "POST":
            doc = mapping(doc)
            if not isinstance(doc.get("in_use"), bool):
                raise ValueError("in_use must be true or false")
            with state.lock:
                audience = self._audience(match.group(1))
                audience.in_use = doc["in_use"]
                audience.in_use_reason = str(doc.get("reason") or "") if audience.in_use else ""
                return 200, audience.control_json(with_members=False)
        match = _OPT.match(route)
        if match and method == "POST":
            external_id = urllib.parse.unquote(match.group(1))
            with state.lock:
                contact = self._contact(external_id)
                at = parse_time(mapping(doc).get("date", self.clock.now()), self.clock.now())
                contact.email_active = match.group(2) == "opt-in"
                state.record_change(contact, at)
                return 200, _contact_control_json(contact)
        if route == "/contacts" and method == "POST":
            return 201, self._create_contacts(mapping(doc))
        if route == "/bounces" and method == "POST":
            doc = mapping(doc)
            items = doc.get("bounces", [doc])
            if not isinstance(items, list):
                raise ValueError("bounces must be a list")
            return 201, {"created": self._create_bounces(items)}
        return None

    def _create_contacts(self, doc: dict[str, Any]) -> dict[str, Any]:
        items = doc.get("contacts")
        if not isinstance(items, list):
            raise ValueError("contacts must be a list")
        state, now = self.app.state, self.clock.now()
        with state.lock:
            parsed = []
            for item in items:
                item = mapping(item)
                external_id = str(item.get("externalId") or "")
                if not external_id:
                    raise ValueError("every contact needs an externalId")
                try:
                    properties = parse_properties(state.properties, item.get("properties") or {})
                except PropertyInvalid as exc:
                    raise ValueError(f"{external_id}: {exc}") from None
                parsed.append((external_id, properties, item))
            for external_id, properties, item in parsed:
                at = parse_time(item.get("date", now), now)
                contact = state.contacts.get(external_id)
                if contact is None:
                    contact = Contact(external_id, properties, at, at)
                    state.contacts[external_id] = contact
                else:
                    contact.properties = {**contact.properties, **properties}
                contact.email_active = not item.get("opted_out", False)
                state.record_change(contact, at)
        return {"created_or_changed": len(parsed)}

    def _create_bounces(self, items: list[Any]) -> int:
        state, now = self.app.state, self.clock.now()
        with state.lock:
            bounces = []
            for item in items:
                item = mapping(item)
                self._contact(str(item.get("externalId") or ""))
                if item.get("type") not in BOUNCE_TYPES:
                    raise ValueError(f"type must be one of {', '.join(BOUNCE_TYPES)}")
                bounces.append(
                    Bounce(parse_time(item.get("date", now), now), str(item["externalId"]), item["type"])
                )
            state.bounces.extend(bounces)
            return len(bounces)

    def _audience(self, raw_id: str) -> Any:
        external_id = urllib.parse.unquote(raw_id)
        audience = self.app.state.audiences.get(external_id)
        if audience is None:
            raise ControlRequestError(404, f"unknown audience {external_id!r}")
        return audience

    def _contact(self, external_id: str) -> Contact:
        contact = self.app.state.contacts.get(external_id)
        if contact is None:
            raise ControlRequestError(404, f"unknown contact {external_id!r}")
        return contact


def _contact_control_json(contact: Contact) -> dict[str, Any]:
    document = contact.as_json()
    document["opted_out"] = not contact.email_active
    return document


class SpotlerControlClient(ControlClient):
    """``SpotlerControlClient(base_url)``: the kit's methods plus one per Spotler endpoint."""

    def state(self, members: bool = True, contacts: bool = True) -> dict[str, Any]:
        query = {"members": None if members else "false", "contacts": None if contacts else "false"}
        return self._call("GET", "/state", query=query)

    def audience(self, external_id: str) -> dict[str, Any]:
        return self._call("GET", f"/audiences/{_quote(external_id)}")

    def members(self, external_id: str) -> list[str]:
        return self.audience(external_id)["members"]

    def set_in_use(
        self, external_id: str, in_use: bool = True, reason: str = "scheduled mailing"
    ) -> dict[str, Any]:
        return self._call(
            "POST", f"/audiences/{_quote(external_id)}/in-use", {"in_use": in_use, "reason": reason}
        )

    def add_contacts(self, contacts: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", "/contacts", {"contacts": contacts})

    def opt_out(self, external_id: str, date: str | float | None = None) -> dict[str, Any]:
        return self._call(
            "POST", f"/contacts/{_quote(external_id)}/opt-out", {} if date is None else {"date": date}
        )

    def opt_in(self, external_id: str, date: str | float | None = None) -> dict[str, Any]:
        return self._call(
            "POST", f"/contacts/{_quote(external_id)}/opt-in", {} if date is None else {"date": date}
        )

    def add_bounce(
        self, external_id: str, type: str = "HARDBOUNCE", date: str | float | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"externalId": external_id, "type": type}
        if date is not None:
            body["date"] = date
        return self._call("POST", "/bounces", body)


def _quote(external_id: str) -> str:
    return urllib.parse.quote(external_id, safe="")

"""The Flexmail emulator's control endpoint (loopback only) and its ``FlexmailControlClient``.

Besides the kit's endpoints (reset, state, faults, clock, calls; kit/control.py):
  GET  /_control/state                         {"interest_labels", "contacts" (?contacts=false leaves
                                               them out), "imports", "rate": {limit, refused,
                                               accepted, busiest_window}, "calls", "clock", "config"}
  GET  /_control/labels/<label id>/members     {"members": [email, ...]} sorted
  POST /_control/contacts                      {"contacts": [{email, first_name?, labels?: [ids],
                                               blacklisted?}]}: contacts as if made in Flexmail
  POST /_control/contacts/unsubscribe          {"email": ...}: the contact unsubscribes (blacklisted)
  POST /_control/contacts/labels               {"email", "label_id"}: a label added by hand/link tracking
Moving the clock first brings queued imports up to date (imports advance on the emulated clock).
"""

from __future__ import annotations

import re
from typing import Any

from include.emulators.flexmail.app import FlexmailApp
from include.emulators.kit.clock import clock_document
from include.emulators.kit.control import ControlClient, ControlRequestError, ControlRouter, mapping

_MEMBERS = re.compile(r"^/labels/(\d+)/members$")


class FlexmailControl(ControlRouter):
    def __init__(self, app: FlexmailApp) -> None:
        super().__init__(app.faults, app.clock, app.calls)
        self.app = app

    def reset_all(self) -> None:
        self.app.reset()

    def before_clock_change(self) -> None:
        self.app.state.advance_imports()

    def after_clock_change(self) -> None:
        self.app.state.advance_imports()

    def state(self, params: dict[str, str]) -> dict[str, Any]:
        app, state = self.app, self.app.state
        state.advance_imports()
        with state.lock:
            document: dict[str, Any] = {
                "interest_labels": [{"id": i, "name": n} for i, n in sorted(state.labels.items())],
                "contact_count": len(state.contacts),
                "imports": [job.as_json() for job in state.imports.values()],
            }
            if params.get("contacts", "true") != "false":
                document["contacts"] = [
                    {**c.as_json(), "labels": sorted(c.labels)} for c in state.contacts.values()
                ]
        document.update(
            {
                "rate": {
                    "limit": app.limit.per_minute,
                    "refused": app.limit.refused,
                    "accepted": len(app.limit.accepted),
                    "busiest_window": app.limit.busiest_window(),
                },
                "calls": app.calls.snapshot(),
                "fault_rules": app.faults.rules(),
                "clock": clock_document(app.clock),
                "config": {
                    "requests_per_minute": app.config.requests_per_minute,
                    "max_page_size": app.config.max_page_size,
                    "max_import_records": app.config.max_import_records,
                },
            }
        )
        return document

    def route(self, method: str, route: str, params: dict[str, str], doc: Any) -> tuple[int, Any] | None:
        state = self.app.state
        match = _MEMBERS.match(route)
        if match and method == "GET":
            state.advance_imports()
            with state.lock:
                label_id = int(match.group(1))
                if label_id not in state.labels:
                    raise ControlRequestError(404, f"unknown interest label {label_id}")
                return 200, {
                    "members": sorted(state.contacts[i].email for i in state.label_members(label_id))
                }
        if route == "/contacts" and method == "POST":
            items = mapping(doc).get("contacts")
            if not isinstance(items, list):
                raise ValueError("contacts must be a list")
            with state.lock:
                made = []
                for item in items:
                    item = mapping(item)
                    contact = state.find(str(item["email"])) or state.create_contact(str(item["email"]), item)
                    contact.labels |= {int(x) for x in item.get("labels") or []}
                    contact.blacklisted = bool(item.get("blacklisted", contact.blacklisted))
                    made.append(contact.id)
            return 201, {"ids": made}
        if route == "/contacts/unsubscribe" and method == "POST":
            with state.lock:
                contact = self._contact(str(mapping(doc)["email"]))
                contact.blacklisted = True
                return 200, contact.as_json()
        if route == "/contacts/labels" and method == "POST":
            doc = mapping(doc)
            with state.lock:
                contact = self._contact(str(doc["email"]))
                contact.labels.add(int(doc["label_id"]))
                return 200, {**contact.as_json(), "labels": sorted(contact.labels)}
        return None

    def _contact(self, email: str):  # noqa: ANN202
        contact = self.app.state.find(email)
        if contact is None:
            raise ControlRequestError(404, "unknown contact")
        return contact


class FlexmailControlClient(ControlClient):
    """``FlexmailControlClient(base_url)``: the kit's methods plus one per Flexmail endpoint."""

    def state(self, contacts: bool = True) -> dict[str, Any]:
        return self._call("GET", "/state", query={"contacts": None if contacts else "false"})

    def label_members(self, label_id: int) -> list[str]:
        return self._call("GET", f"/labels/{int(label_id)}/members")["members"]

    def add_contacts(self, contacts: list[dict[str, Any]]) -> list[int]:
        return self._call("POST", "/contacts", {"contacts": contacts})["ids"]

    def unsubscribe(self, email: str) -> dict[str, Any]:
        return self._call("POST", "/contacts/unsubscribe", {"email": email})

    def add_label(self, email: str, label_id: int) -> dict[str, Any]:
        return self._call("POST", "/contacts/labels", {"email": email, "label_id": label_id})

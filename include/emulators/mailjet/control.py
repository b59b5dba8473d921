"""The Mailjet emulator's control endpoint (loopback only) and its ``MailjetControlClient``.

Besides the kit's endpoints (reset, state, faults, clock, calls; kit/control.py):
  GET  /_control/state                        lists (with members), contacts, jobs, metadata, calls,
                                              fault rules, clock, config (?members=false leaves the
                                              members out)
  GET  /_control/lists/<name>                 one list by name, with its members
                                              [{email, unsubscribed, unsubscribed_at}]
  POST /_control/signups                      {"list": name, "email": ..., "name"?: ..., "date"?: ...}
                                              a person subscribes in Mailjet (a sign-up form)
  POST /_control/unsubscribes                 {"list": name, "email": ..., "date"?: ...} the person
                                              unsubscribes from that list in Mailjet
  POST /_control/exclusions                   {"email": ..., "excluded": true, "date"?: ...} the global
                                              exclusion from campaigns set (or cleared) in Mailjet
  POST /_control/rate-limit                   {"requests_per_second": n | null}
  POST /_control/contact-errors               {"email": ..., "reason"?: ..., "clear"?: false} every bulk
                                              job (and CSV import) from now on refuses this contact
                                              with ``reason`` in its error file (the job still ends
                                              Completed); ``clear`` lifts it
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from include.emulators.kit.clock import clock_document, iso_utc, parse_time
from include.emulators.kit.control import ControlClient, ControlRequestError, ControlRouter, mapping
from include.emulators.mailjet.app import MailjetApp
from include.emulators.mailjet.model import ContactsList


class MailjetControl(ControlRouter):
    def __init__(self, app: MailjetApp) -> None:
        super().__init__(app.faults, app.clock, app.calls)
        self.app = app

    def reset_all(self) -> None:
        self.app.reset()

    def after_clock_change(self) -> None:
        with self.app.state.lock:
            self.app.state.settle_jobs()

    def state(self, params: dict[str, str]) -> dict[str, Any]:
        app, state = self.app, self.app.state
        with_members = params.get("members", "true") != "false"
        with state.lock:
            state.settle_jobs()
            document: dict[str, Any] = {
                "lists": [self._list_json(x, with_members) for x in state.lists.values() if not x.is_deleted],
                "contacts": [c.as_json() for c in state.contacts.values()] if with_members else [],
                "contact_count": len(state.contacts),
                "jobs": [
                    {
                        "id": j.id,
                        "kind": j.kind,
                        "lists": j.lists,
                        "contacts": len(j.contacts),
                        "status": j.status(self.clock.now(), state.job_seconds),
                        "errors": len(j.errors),
                    }
                    for j in state.jobs.values()
                ],
                "metadata": list(state.metadata.values()),
            }
        document.update(
            {
                "calls": app.calls.snapshot(),
                "fault_rules": app.faults.rules(),
                "clock": clock_document(app.clock),
                "config": {
                    "requests_per_second": app.requests_per_second,
                    "job_seconds": state.job_seconds,
                    "max_contacts_per_job": app.config.max_contacts_per_job,
                },
            }
        )
        return document

    def _list_json(self, contacts_list: ContactsList, with_members: bool = True) -> dict[str, Any]:
        state = self.app.state
        document: dict[str, Any] = {"id": contacts_list.id, "name": contacts_list.name}
        members = [m for m in state.memberships.values() if m.list_id == contacts_list.id]
        document["size"] = len(members)
        if with_members:
            document["members"] = [
                {
                    "email": state.contacts[m.contact_id].email,
                    "unsubscribed": m.unsubscribed,
                    "unsubscribed_at": iso_utc(m.unsubscribed_at) if m.unsubscribed_at else None,
                    "excluded": state.contacts[m.contact_id].excluded,
                }
                for m in members
            ]
        return document

    def route(self, method: str, route: str, params: dict[str, str], doc: Any) -> tuple[int, Any] | None:
        state = self.app.state
        if route.startswith("/lists/") and method == "GET":
            name = urllib.parse.unquote(route[len("/lists/") :])
            with state.lock:
                return 200, self._list_json(self._list(name))
        if route in ("/signups", "/unsubscribes") and method == "POST":
            doc = mapping(doc)
            with state.lock:
                contacts_list = self._list(str(doc.get("list") or ""))
                now = parse_time(doc.get("date", self.clock.now()), self.clock.now())
                email = str(doc.get("email") or "").strip()
                if not email:
                    raise ValueError("email is required")
                contact = state.contact_for(email, now, create=True, name=str(doc.get("name") or ""))
                assert contact is not None
                if route == "/signups":
                    # a sign-up form subscribes (again): the person's own new "yes"
                    state.apply_action(contact, contacts_list.id, "addforce", now)
                else:
                    state.apply_action(contact, contacts_list.id, "unsub", now)
                return 201, self._list_json(contacts_list, with_members=False)
        if route == "/exclusions" and method == "POST":
            doc = mapping(doc)
            with state.lock:
                contact = state.find_contact(str(doc.get("email") or ""))
                if contact is None:
                    raise ControlRequestError(404, "unknown contact")
                excluded = bool(doc.get("excluded", True))
                if contact.excluded != excluded:
                    now = parse_time(doc.get("date", self.clock.now()), self.clock.now())
                    contact.excluded, contact.excluded_at = excluded, now
                return 200, contact.as_json()
        if route == "/contact-errors" and method == "POST":
            doc = mapping(doc)
            email = str(doc.get("email") or "").strip().lower()
            if not email:
                raise ValueError("email is required")
            with state.lock:
                if doc.get("clear"):
                    state.refused_contacts.pop(email, None)
                else:
                    state.refused_contacts[email] = str(doc.get("reason") or "Contact refused (injected)")
                return 200, {"refused_contacts": dict(state.refused_contacts)}
        if route == "/rate-limit" and method == "POST":
            value = mapping(doc).get("requests_per_second")
            self.app.requests_per_second = None if value is None else int(value)
            return 200, {"requests_per_second": self.app.requests_per_second}
        return None

    def _list(self, name: str) -> ContactsList:
        contacts_list = self.app.state.list_by_name(name)
        if contacts_list is None:
            raise ControlRequestError(404, f"unknown list {name!r}")
        return contacts_list


class MailjetControlClient(ControlClient):
    """``MailjetControlClient(base_url)``: the kit's methods plus one per Mailjet endpoint."""

    def state(self, members: bool = True) -> dict[str, Any]:
        return self._call("GET", "/state", query={"members": None if members else "false"})

    def list(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/lists/{urllib.parse.quote(name, safe='')}")

    def members(self, name: str) -> dict[str, dict[str, Any]]:
        """address (lower case) -> {email, unsubscribed, unsubscribed_at, excluded}"""
        return {m["email"].lower(): m for m in self.list(name)["members"]}

    def signup(self, list_name: str, email: str, name: str = "", date: str | float | None = None) -> Any:
        return self._call("POST", "/signups", _dated({"list": list_name, "email": email, "name": name}, date))

    def unsubscribe(self, list_name: str, email: str, date: str | float | None = None) -> Any:
        return self._call("POST", "/unsubscribes", _dated({"list": list_name, "email": email}, date))

    def exclude(self, email: str, excluded: bool = True, date: str | float | None = None) -> Any:
        return self._call("POST", "/exclusions", _dated({"email": email, "excluded": excluded}, date))

    def refuse_contact(
        self, email: str, reason: str = "Contact refused (injected)", clear: bool = False
    ) -> Any:
        """Every job from now on refuses ``email`` with ``reason`` (a per-contact error); ``clear``
        lifts it."""
        return self._call("POST", "/contact-errors", {"email": email, "reason": reason, "clear": clear})

    def set_rate_limit(self, requests_per_second: int | None) -> Any:
        return self._call("POST", "/rate-limit", {"requests_per_second": requests_per_second})


def _dated(body: dict[str, Any], date: str | float | None) -> dict[str, Any]:
    if date is not None:
        body["date"] = date
    return body
